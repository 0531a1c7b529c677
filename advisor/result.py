"""Assemble the result.json document from the pipeline's parts.

The document's models, its version rule and strict reading and writing live in
:mod:`engines.results`; this module adds what only the advisor knows (the library
versions and the command line of the run).
"""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from engines.results import (
    SCHEMA_VERSION,
    Result,
    ResultError,
    RunConfig,
    Validation,
    load_result,
    parse_result,
    write_result,
)

__all__ = [
    "SCHEMA_VERSION",
    "ResultError",
    "build_result",
    "library_versions",
    "load_result",
    "parse_result",
    "write_result",
]

_VERSIONED_PACKAGES = ("torch", "torchvision", "timm", "numpy", "scikit-learn", "pillow")


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that decide the numbers (None where not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in (*_VERSIONED_PACKAGES, "feasibility-advisor"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_result(
    *,
    source: str,
    profile: dict[str, Any],
    intake: dict[str, Any],
    recommendation: dict[str, Any],
    validation: Validation | dict[str, Any],
    config: RunConfig,
    timings: dict[str, float],
) -> Result:
    """Assemble and validate the result document.

    Args:
        source: Name of the uploaded file or folder (as given, for display only).
        profile: ``DatasetProfile.to_dict()``.
        intake: ``Intake.to_dict()``.
        recommendation: ``Recommendation.to_dict()``, re-evaluated with the evidence,
            with the advice before the evidence under ``prior``.
        validation: What the validation measured.
        config: The run configuration, stored verbatim.
        timings: Seconds per pipeline stage.

    Returns:
        The typed result document.

    """
    return parse_result(
        {
            "schema_version": SCHEMA_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "profile": profile,
            "intake": intake,
            "recommendation": recommendation,
            "validation": (
                validation.model_dump(mode="json")
                if isinstance(validation, Validation)
                else validation
            ),
            "environment": {
                "versions": library_versions(),
                "platform": platform.platform(),
                "argv": sys.argv[1:] if sys.argv else [],
            },
            "config": config.to_dict(),
            "timings": timings,
        }
    )
