"""One run configuration, resolved once and stored verbatim in result.json."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator

from engines.errors import UserError
from engines.results.base import Record
from engines.results.vocab import STRATEGY_ORDER, Strategy

DEFAULT_BACKBONE = "efficientnet_lite0"
REPORT_FORMATS = ("html", "pdf")


class ConfigError(UserError, ValueError):
    """A run setting cannot be used; the message names the setting and what to give."""


class RunConfig(Record):
    """Settings of one validation run, saved verbatim with its result.

    Attributes:
        backbone: Backbone of the first look (bundled offline or any timm name online).
        device: "auto", "cpu", "cuda" or "mps".
        budget_seconds: Wall-clock budget for the whole validation, report included.
        seed: Seed for splits, bootstraps and training.
        batch_size: Images per forward pass.
        cache_dir: Where features are cached (None: a temporary folder for the run).
        strategies: Strategies to run, cheapest first; the linear probe always runs.
        freeze_fraction: Share of the backbone's stages the partial fine-tune keeps
            frozen (from the recommendation); None for the engine's default.
        target_accuracy: The client's target (0-1), for "images needed"; None if none.
        compare_backbones: Other backbones to rank by transferability (None: every
            bundled one available offline; () for none).
        learning_curve_repeats: Repeats per training-set fraction of the learning curve.
        max_epochs: Epoch cap of each fine-tune (early stopping usually ends sooner).
        report_formats: Report formats to write; None for every one this machine can.
        resize_mode: "auto" (from the images' aspect ratios), "crop" (centre crop) or
            "squash" (the whole image resized into the square).
        report_reserve_seconds: Seconds of the budget kept for writing result.json and
            the report after the validation; None: 4 s plus 5 % of the budget (an
            HTML and PDF report took 5-8 s on a loaded 2-core CPU).
        started_at: Monotonic clock reading at which the whole job started (the budget
            counts from there, profiling included); None: when the validation starts.
            A clock reading of this process: never saved with the result.

    """

    # Fields a later 1.x writer adds are kept when reading; `create` refuses unknown ones.
    model_config = ConfigDict(extra="allow", frozen=True)

    backbone: str = DEFAULT_BACKBONE
    device: str = "auto"
    budget_seconds: float = 180.0
    seed: int = 0
    batch_size: int = 32
    cache_dir: str | None = None
    strategies: tuple[Strategy, ...] = STRATEGY_ORDER
    freeze_fraction: float | None = None
    target_accuracy: float | None = None
    compare_backbones: tuple[str, ...] | None = None
    learning_curve_repeats: int = 3
    max_epochs: int = 15
    report_formats: tuple[str, ...] | None = None
    resize_mode: Literal["auto", "crop", "squash"] = "auto"
    report_reserve_seconds: float | None = None
    started_at: float | None = Field(default=None, exclude=True)

    @classmethod
    def create(cls, **settings: Any) -> RunConfig:
        """Build a configuration, raising :class:`ConfigError` with one clear line.

        Args:
            **settings: Any of the fields; None values take the default.

        Returns:
            The validated configuration.

        Raises:
            ConfigError: A setting is unknown or out of range.

        """
        unknown = sorted(set(settings) - set(cls.model_fields))
        if unknown:
            raise ConfigError(
                f"Unknown setting {unknown[0]!r}: use one of {', '.join(cls.model_fields)}."
            )
        given = {k: v for k, v in settings.items() if v is not None or k in _NULLABLE}
        try:
            return cls(**given)
        except ValidationError as exc:
            raise ConfigError(_first_message(exc)) from None

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some settings changed, validated again."""
        return RunConfig.create(**{**self.model_dump(), "started_at": self.started_at, **changes})

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _cache_dir(cls, value: Any) -> str | None:
        return None if value in (None, "") else str(value)

    @property
    def cache_path(self) -> Path | None:
        """The feature cache folder as a path (None: no cache)."""
        return Path(self.cache_dir) if self.cache_dir else None

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"Unknown device {value!r}: use auto, cpu, cuda or mps.")
        return value

    @field_validator("budget_seconds")
    @classmethod
    def _budget(cls, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"The time budget must be a positive number of seconds, got {value}.")
        return float(value)

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"The batch size must be at least 1, got {value}.")
        return value

    @field_validator("strategies", mode="before")
    @classmethod
    def _strategies(cls, value: Any) -> tuple[Strategy, ...]:
        names = [value] if isinstance(value, str) else list(value or ())
        chosen = set()
        for name in names:
            try:
                chosen.add(Strategy(str(name)))
            except ValueError:
                raise ValueError(
                    f"Unknown strategy {name!r}: use {', '.join(s.value for s in STRATEGY_ORDER)}."
                ) from None
        # Every other experiment, the similarity and the learning curve stand on the probe.
        chosen.add(Strategy.LINEAR_PROBE)
        return tuple(s for s in STRATEGY_ORDER if s in chosen)

    @field_validator("freeze_fraction")
    @classmethod
    def _freeze(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"The frozen share must be between 0 and 1, got {value}.")
        return value

    @field_validator("target_accuracy")
    @classmethod
    def _target(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and 0.0 < value < 1.0):
            raise ValueError(
                f"The target accuracy must be between 0 and 1 (e.g. 0.9), got {value}."
            )
        return value

    @field_validator("learning_curve_repeats")
    @classmethod
    def _repeats(cls, value: int) -> int:
        if value < 1:
            raise ValueError("The learning curve needs at least one repeat per size.")
        return value

    @field_validator("max_epochs")
    @classmethod
    def _epochs(cls, value: int) -> int:
        if value < 1:
            raise ValueError("A fine-tune needs at least one epoch.")
        return value

    @field_validator("report_formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for fmt in value or ():
            if fmt not in REPORT_FORMATS:
                raise ValueError(f"Unknown report format {fmt!r}: use html or pdf.")
        return value

    @field_validator("report_reserve_seconds")
    @classmethod
    def _reserve(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"The report reserve must be 0 s or more, got {value}.")
        return value

    @property
    def report_reserve(self) -> float:
        """Seconds of the budget kept for result.json and the report."""
        if self.report_reserve_seconds is not None:
            return self.report_reserve_seconds
        return 4.0 + 0.05 * self.budget_seconds

    @property
    def wants_finetune(self) -> bool:
        """Whether any strategy beyond the linear probe was asked for."""
        return any(s != Strategy.LINEAR_PROBE for s in self.strategies)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready data (as stored in result.json)."""
        return self.model_dump(mode="json")


_NULLABLE = frozenset(
    {
        "cache_dir",
        "freeze_fraction",
        "target_accuracy",
        "compare_backbones",
        "report_formats",
        "report_reserve_seconds",
        "started_at",
    }
)


def _first_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if error.get("type", "").endswith("_parsing") or error.get("type") in (
        "int_type",
        "float_type",
        "string_type",
        "tuple_type",
    ):
        return f"Setting {field!r} has the wrong type: {message}."
    return message
