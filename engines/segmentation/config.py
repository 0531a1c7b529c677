"""Settings of one segmentation validation run, as typed data saved with the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

STRATEGIES = ("frozen_encoder", "partial_finetune", "full_finetune")
"""Transfer strategies, cheapest first: train the decoder only on frozen pretrained
features; also fine-tune the encoder's top stages; fine-tune everything."""


@dataclass
class SegmentationConfig:
    """Hyper-parameters and budget of a segmentation validation run.

    Attributes:
        backbone: Encoder backbone (a bundled offline one by default).
        pretrained: Load pretrained encoder weights (False only for tests and ablations).
        strategies: Strategies to run, from :data:`STRATEGIES`, in order.
        image_size: Side of the square training resolution (a multiple of 32).
        freeze_stages: Encoder stages kept frozen after the stem in ``partial_finetune``.
        max_epochs: Upper bound on epochs per run; budget and early stopping may stop sooner.
        batch_size: Images per step.
        lr: Peak learning rate of the decoder.
        encoder_lr_factor: Encoder learning rate as a fraction of ``lr`` (fine-tunes).
        weight_decay: AdamW weight decay.
        warmup_fraction: Share of the steps spent warming up.
        dice_loss_weight: Weight of the soft Dice loss added to cross-entropy.
        hflip: Whether mirrored images are valid training views in this domain.
        vflip: Whether upside-down images are valid views (textures, aerial, microscopy).
        decoder_channels: Width of the FPN decoder.
        val_fraction: Share held out for scoring when the upload has no split folders.
        early_stop_fraction: Share of the training split held back for early stopping.
        patience: Epochs without improvement on that slice before stopping.
        budget_seconds: Wall-clock budget of the whole run (None: no limit).
        learning_curve: Measure Dice on growing fractions of the training split.
        curve_fractions: Those fractions, each in (0, 1].
        curve_repeats: Random subsets per fraction below 1.
        curve_budget_share: Share of the budget kept for the learning curve.
        n_overlays: Held-out images drawn with their true and predicted masks.
        output_dir: Folder for the overlay PNGs (None: returned inline as base64).
        mask_encoding: "auto", "binary" or "index" (see :mod:`engines.segmentation.masks`).
        n_boot: Bootstrap resamples of the intervals.
        device: "auto", "cpu", "cuda" or "mps".
        seed: Seed of the split, shuffling, augmentation and the new decoder.

    """

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    strategies: tuple[str, ...] = STRATEGIES
    image_size: int = 256
    freeze_stages: int = 3
    max_epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-3
    encoder_lr_factor: float = 0.1
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    dice_loss_weight: float = 1.0
    hflip: bool = True
    vflip: bool = False
    decoder_channels: int = 32
    val_fraction: float = 0.25
    early_stop_fraction: float = 0.15
    patience: int = 4
    budget_seconds: float | None = 300.0
    learning_curve: bool = True
    curve_fractions: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    curve_repeats: int = 2
    curve_budget_share: float = 0.25
    n_overlays: int = 4
    output_dir: str | None = None
    mask_encoding: str = "auto"
    n_boot: int = 1000
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        self.strategies = tuple(self.strategies)
        self.curve_fractions = tuple(float(f) for f in self.curve_fractions)
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown or not self.strategies:
            raise ValueError(
                f"Unknown segmentation strategy {unknown[0] if unknown else '(none)'!r}: "
                f"use one or more of {', '.join(STRATEGIES)}."
            )
        if self.image_size < 32 or self.image_size % 32:
            raise ValueError(
                f"image_size must be a multiple of 32 of at least 32 (got "
                f"{self.image_size}): the encoder halves the image five times."
            )
        if self.max_epochs < 1 or self.batch_size < 1:
            raise ValueError("max_epochs and batch_size must be at least 1.")
        if self.freeze_stages < 1:
            raise ValueError("freeze_stages must be at least 1 (0 is full_finetune).")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {self.val_fraction}.")
        if not 0.0 <= self.early_stop_fraction < 0.5:
            raise ValueError("early_stop_fraction must be in [0, 0.5).")
        if self.budget_seconds is not None and self.budget_seconds <= 0:
            raise ValueError("budget_seconds must be positive (or None for no limit).")
        if any(not 0.0 < f <= 1.0 for f in self.curve_fractions):
            raise ValueError("curve_fractions must each lie in (0, 1].")
        if not 0.0 <= self.curve_budget_share < 1.0:
            raise ValueError("curve_budget_share must be in [0, 1).")
        if self.curve_repeats < 1 or self.n_boot < 1 or self.n_overlays < 0:
            raise ValueError("curve_repeats and n_boot must be at least 1, n_overlays >= 0.")
        if self.mask_encoding not in ("auto", "binary", "index"):
            raise ValueError("mask_encoding must be 'auto', 'binary' or 'index'.")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        out = asdict(self)
        out["strategies"] = list(self.strategies)
        out["curve_fractions"] = list(self.curve_fractions)
        return out
