"""Settings of a validation run and the labeled split it runs on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engines.backbones import DEFAULT_BACKBONE

STRATEGY_ORDER: tuple[str, ...] = ("linear_probe", "partial_finetune", "full_finetune")
# Decoding and resizing one photo on one core, seconds (typical JPEGs); budget estimates.
DECODE_SECONDS_PER_IMAGE = 0.004


def display_path(path: Path, root: Path | None) -> str:
    """A path as shown to people: relative to the upload root, never absolute."""
    p = Path(path)
    if root is not None:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            pass
    return p.name


@dataclass
class ValidationConfig:
    """Settings of one validation run, saved verbatim with its result.

    Attributes:
        backbone: Backbone of the first look (bundled offline or any timm name online).
        device: "auto", "cpu", "cuda" or "mps".
        budget_seconds: Wall-clock budget for the whole validation.
        seed: Seed for splits, bootstraps and training.
        batch_size: Images per forward pass.
        cache_dir: Where features are cached (None: no cache).
        strategies: Strategies to run, cheapest first; fine-tunes run only where the
            budget left is enough for them to be informative.
        freeze_fraction: Share of the backbone's stages the partial fine-tune keeps
            frozen (from the recommendation); None for the engine's default.
        target_accuracy: The client's target (0-1), for "images needed"; None if none.
        compare_backbones: Other backbones to rank by transferability (None: every
            bundled one available offline; () for none).
        learning_curve_repeats: Repeats per training-set fraction of the learning curve.
        max_epochs: Epoch cap of each fine-tune (early stopping usually ends sooner).
        resize_mode: "auto" (from the images' aspect ratios), "crop" (centre crop) or
            "squash" (the whole image resized into the square).
        started_at: Monotonic clock reading at which the whole job started (the
            budget counts from there, profiling included); None: when the validation
            starts. Not saved with the result.
        report_reserve_seconds: Seconds of the budget kept for writing result.json and
            the report after the validation; None: 4 s plus 5 % of the budget (an
            HTML and PDF report took 5-8 s on a loaded 2-core CPU).

    """

    backbone: str = DEFAULT_BACKBONE
    device: str = "auto"
    budget_seconds: float = 180.0
    seed: int = 0
    batch_size: int = 32
    cache_dir: Path | None = None
    strategies: tuple[str, ...] = field(default=STRATEGY_ORDER)
    freeze_fraction: float | None = None
    target_accuracy: float | None = None
    compare_backbones: tuple[str, ...] | None = None
    learning_curve_repeats: int = 3
    max_epochs: int = 15
    resize_mode: str = "auto"
    started_at: float | None = None
    report_reserve_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.budget_seconds <= 0:
            raise ValueError(
                f"The time budget must be positive, got {self.budget_seconds} seconds."
            )
        if self.batch_size < 1:
            raise ValueError(f"The batch size must be at least 1, got {self.batch_size}.")
        unknown = [s for s in self.strategies if s not in STRATEGY_ORDER]
        if unknown:
            raise ValueError(
                f"Unknown strategy {unknown[0]!r}: use {', '.join(STRATEGY_ORDER)}."
            )
        if "linear_probe" not in self.strategies:
            # Every other experiment, the similarity and the learning curve stand on it.
            self.strategies = ("linear_probe", *self.strategies)
        self.strategies = tuple(s for s in STRATEGY_ORDER if s in self.strategies)
        if self.freeze_fraction is not None and not 0.0 <= self.freeze_fraction <= 1.0:
            raise ValueError(
                f"The frozen share must be between 0 and 1, got {self.freeze_fraction}."
            )
        if self.target_accuracy is not None and not 0.0 < self.target_accuracy < 1.0:
            raise ValueError(
                f"The target accuracy must be between 0 and 1 (e.g. 0.9), got "
                f"{self.target_accuracy}."
            )
        if self.learning_curve_repeats < 1:
            raise ValueError("The learning curve needs at least one repeat per size.")
        if self.max_epochs < 1:
            raise ValueError("A fine-tune needs at least one epoch.")
        if self.compare_backbones is not None:
            self.compare_backbones = tuple(self.compare_backbones)
        if self.resize_mode not in ("auto", "crop", "squash"):
            raise ValueError(
                f"Unknown resize mode {self.resize_mode!r}: use auto, crop or squash."
            )

    @property
    def report_reserve(self) -> float:
        """Seconds of the budget kept for result.json and the report."""
        if self.report_reserve_seconds is not None:
            return self.report_reserve_seconds
        return 4.0 + 0.05 * self.budget_seconds

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-ready data."""
        data = asdict(self)
        data.pop("started_at")  # a clock reading, meaningless outside this process
        data["cache_dir"] = str(self.cache_dir) if self.cache_dir else None
        data["strategies"] = list(self.strategies)
        if self.compare_backbones is not None:
            data["compare_backbones"] = list(self.compare_backbones)
        return data


@dataclass
class LabeledSplit:
    """Image paths with integer labels for training and held-out evaluation.

    Attributes:
        train_paths: Training images.
        train_labels: Their labels, indexes into ``class_names``.
        val_paths: Held-out images (never trained or early-stopped on).
        val_labels: Their labels.
        class_names: Class names, indexed by label.
        root: Folder the paths are reported relative to (None: file names only).
        method: How the split was made, for the record.

    """

    train_paths: Sequence[Path]
    train_labels: Sequence[int]
    val_paths: Sequence[Path]
    val_labels: Sequence[int]
    class_names: Sequence[str]
    root: Path | None = None
    method: str = "stratified hold-out"

    def __post_init__(self) -> None:
        if len(self.train_paths) != len(self.train_labels):
            raise ValueError("Every training image needs exactly one label.")
        if len(self.val_paths) != len(self.val_labels):
            raise ValueError("Every held-out image needs exactly one label.")
        if not self.train_paths or not self.val_paths:
            raise ValueError(
                "The split needs images on both sides: add images so that each class has "
                "at least two."
            )
        k = len(self.class_names)
        bad = [y for y in (*self.train_labels, *self.val_labels) if not 0 <= int(y) < k]
        if bad:
            raise ValueError(f"Label {bad[0]} is not one of the {k} classes.")

    def display_path(self, path: Path) -> str:
        """The path as shown to people: relative to the upload, never absolute."""
        return display_path(path, self.root)
