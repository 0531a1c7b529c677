"""The result.json document: one run's full record, the source of every report.

The schema is documented in README.md ("result.json") and versioned by
:data:`SCHEMA_VERSION`; additive changes bump the minor version only.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1.0"
_VERSIONED_PACKAGES = ("torch", "torchvision", "timm", "numpy", "scikit-learn", "pillow")


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that decide the numbers (None where not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        versions["feasibility-advisor"] = metadata.version("feasibility-advisor")
    except metadata.PackageNotFoundError:
        versions["feasibility-advisor"] = None
    return versions


def build_result(
    *,
    source: str,
    profile: dict[str, Any],
    intake: dict[str, Any],
    recommendation: dict[str, Any],
    validation: dict[str, Any],
    config: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    """Assemble the result document from the pipeline's parts.

    Args:
        source: Name of the uploaded file or folder (as given, for display only).
        profile: ``DatasetProfile.to_dict()``.
        intake: ``Intake.to_dict()``.
        recommendation: ``Recommendation.to_dict()``, re-evaluated with the evidence.
        validation: Output of ``engines.validation.run_validation``.
        config: ``ValidationConfig.to_dict()``.
        timings: Seconds per pipeline stage.

    Returns:
        The JSON-ready result document.

    """
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "profile": profile,
        "intake": intake,
        "recommendation": recommendation,
        "validation": validation,
        "environment": {
            "versions": library_versions(),
            "platform": platform.platform(),
            "argv": sys.argv[1:] if sys.argv else [],
        },
        "config": config,
        "timings": timings,
    }


def _finite(value: Any) -> Any:
    """Non-finite floats become None (JSON has no NaN), as the store does."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    """Write ``result.json`` into ``out_dir`` (created if needed) and return its path.

    Strict JSON: a non-finite number (NaN, infinity) is written as null, never as the
    ``NaN`` that JSON readers refuse.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "result.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(result), indent=2, ensure_ascii=False, allow_nan=False),
                   encoding="utf-8")
    tmp.replace(path)
    return path


def load_result(path: Path) -> dict[str, Any]:
    """Read a result.json, checking it is one this version understands."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable result.json ({exc}).") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a result.json (it holds a JSON "
                         f"{type(data).__name__}, not an object): give the file a "
                         "validation wrote.")
    major = str(data.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise ValueError(
            f"{path} has schema version {data.get('schema_version')!r}; this app reads "
            f"{SCHEMA_VERSION}: re-run the validation."
        )
    return data
