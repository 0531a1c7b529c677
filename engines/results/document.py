"""The whole result.json document, its version rule, reading and writing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from engines.errors import UserError
from engines.results.base import Record
from engines.results.config import RunConfig
from engines.results.validation import Experiment, ImagesNeeded, Validation
from engines.results.vocab import DataType, Verdict

SCHEMA_VERSION = "1.1"
"""``MAJOR.MINOR``: a reader accepts any minor version of its major; 1.x only adds fields."""


class ResultError(UserError, ValueError):
    """A file is not a result.json this version can read; the message says why."""


class SkippedFile(Record):
    """A file of the upload that was not used, and why."""

    path: str
    reason: str


class Profile(Record):
    """The uploaded sample's profile and health check."""

    n_images: int
    n_classes: int
    class_counts: dict[str, int] = Field(default_factory=dict)
    split_counts: dict[str, int] = Field(default_factory=dict)
    data_type: DataType
    task_hint: str | None = None
    layout: str | None = None
    skipped: list[SkippedFile] = Field(default_factory=list)
    min_class_count: int | None = None
    imbalance_ratio: float | None = None
    image_stats: dict[str, Any] = Field(default_factory=dict)
    health: dict[str, Any] | None = None
    effective_n_images: int | None = None


class IntakeRecord(Record):
    """The consultant's answers, as given (see ``advisor.intake.Intake``)."""

    task: str | None = None
    data_type: DataType | None = None
    claimed_n_images: int | None = None
    deployment: str | None = None
    target_metric: str | None = None
    target_value: float | None = None
    language: str = "en"
    goal: str = ""


class Localized(Record):
    """A sentence in both languages, with the rule it came from where one did."""

    en: str = ""
    ko: str = ""
    rule_id: str | None = None


class RecommendationRecord(Record):
    """The advisor's answer (see ``advisor.recommendation.Recommendation``)."""

    task: str | None = None
    strategy_id: str | None = None
    freeze_stages: int | None = None
    total_stages: int | None = None
    verdict: Verdict | None = None
    verdict_reason: dict[str, str] = Field(default_factory=dict)
    prior_strategy_id: str | None = None
    red_flags: list[Localized] = Field(default_factory=list)
    risks: list[Localized] = Field(default_factory=list)
    data_strategy: list[Localized] = Field(default_factory=list)
    prior: dict[str, Any] | None = None


class Environment(Record):
    """Library versions and platform the numbers were measured with."""

    versions: dict[str, str | None] = Field(default_factory=dict)
    platform: str | None = None
    argv: list[str] = Field(default_factory=list)


class Result(Record):
    """One validation run's full record, the source of every report and page.

    The methods give each derived reading one meaning: :meth:`best_experiment`,
    :meth:`images_needed`, :meth:`target`.
    """

    schema_version: str
    created_at: str
    source: str
    profile: Profile
    intake: IntakeRecord
    recommendation: RecommendationRecord
    validation: Validation
    environment: Environment = Field(default_factory=Environment)
    config: RunConfig
    timings: dict[str, float | None] = Field(default_factory=dict)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: str) -> str:
        check_version(value)
        return value

    def best_experiment(self) -> Experiment | None:
        """The best experiment (see :meth:`Validation.best`)."""
        return self.validation.best()

    def target(self) -> float | None:
        """The client's target accuracy: the intake's answer, else the run's setting."""
        metric = self.intake.target_metric
        if self.intake.target_value is not None and metric in (None, "accuracy"):
            return self.intake.target_value
        return self.config.target_accuracy

    def images_needed(self, target: float | None = None) -> ImagesNeeded | None:
        """Images needed for ``target`` (default: the client's), where the curve says."""
        return self.validation.images_needed(self.target() if target is None else target)

    def to_json_dict(self) -> dict[str, Any]:
        """The document as JSON-ready data (unknown fields kept, enums as strings)."""
        return self.model_dump(mode="json", by_alias=True)


def check_version(version: Any) -> None:
    """Refuse a document of another major schema version, with what to do.

    Raises:
        ResultError: The version is missing or not 1.x.

    """
    major = str(version).split(".")[0] if version is not None else ""
    if major != SCHEMA_VERSION.split(".")[0]:
        raise ResultError(
            f"result.json has schema version {version!r}; this app reads "
            f"{SCHEMA_VERSION.split('.')[0]}.x: open it with the app version that wrote "
            "it, or re-run the validation."
        )


def parse_result(data: Any, where: str = "result.json") -> Result:
    """Validate parsed JSON as a result document.

    Args:
        data: Parsed JSON.
        where: Name of the file, for the message.

    Returns:
        The typed result.

    Raises:
        ResultError: Not a result document, another major version, or a field of the
            wrong type; one line saying which.

    """
    if isinstance(data, Result):
        return data
    if not isinstance(data, dict):
        raise ResultError(
            f"{where} is not a result document (it holds a JSON "
            f"{type(data).__name__}, not an object)."
        )
    if "schema_version" not in data:
        raise ResultError(f"{where} is not a result document (no schema_version).")
    check_version(data.get("schema_version"))
    try:
        return Result.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = "/".join(str(p) for p in error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        raise ResultError(f"{where} is not a valid result document: /{field}: {message}.") from None


def load_result(path: Path) -> Result:
    """Read and validate a result.json.

    Raises:
        ResultError: Unreadable, not JSON, not a result, or another major version.

    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultError(f"{path} is not a readable result.json ({exc}).") from None
    return parse_result(data, str(path))


def dump_json(data: Any) -> str:
    """Strict JSON text: NaN and infinities are refused (they are not JSON)."""
    return json.dumps(_finite(data), indent=2, ensure_ascii=False, allow_nan=False)


def write_result(result: Result | dict[str, Any], out_dir: Path) -> Path:
    """Validate and write ``result.json`` into ``out_dir`` atomically; return its path."""
    document = parse_result(result).to_json_dict()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "result.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(dump_json(document), encoding="utf-8")
    tmp.replace(path)
    return path


def _finite(value: Any) -> Any:
    """Non-finite floats become None: "not measured", never an invalid number."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
