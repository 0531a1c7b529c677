"""Detection evidence without training a detector: sizes, balance, separability.

Three measurements answer the questions a detection feasibility call turns on:

1. Object size against the detector's input size (:mod:`engines.detection.sizes`):
   how many objects shrink below what detectors find, and the tiling that would keep
   them large enough, with its cost in tiles per frame.
2. Class balance per image and overall (:mod:`engines.detection.balance`).
3. Whether the classes can be told apart at all (:mod:`engines.detection.crops`):
   frozen pretrained features of the box crops and a linear probe, cross-validated by
   image, with intervals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image

from engines.backbones import create_backbone, data_config
from engines.detection.balance import class_balance
from engines.detection.crops import separability
from engines.detection.sizes import object_size_stats
from engines.device import describe_device, resolve_device
from engines.errors import EngineError
from engines.intake.records import ImageRecord
from engines.progress import (
    CancelToken,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
)


class DetectionDataError(EngineError):
    """The sample cannot give detection evidence (the message says why and what to do)."""


@dataclass
class DetectionConfig:
    """Settings of a detection evidence run.

    Attributes:
        backbone: Frozen backbone describing the box crops (bundled offline by default).
        input_sizes: Detector input sizes (longer side) to judge object sizes at.
        thresholds_px: Object sides whose "fraction under" is reported.
        target_object_px: Object side the tiling advice aims for (COCO's "small" bound).
        size_quantile: Share of objects allowed below the target (0.1: 90 % reach it).
        tile_overlap: Overlap between neighbouring tiles.
        separability: Run the crop + linear-probe test.
        crop_size: Side each crop is resized to before the backbone.
        crop_margin: Context around each box, as a share of its size.
        min_box_px: Boxes with a side below this are not cropped.
        max_crops_per_class: Most crops per class (random subset beyond).
        include_background: Add background patches as a class.
        n_splits: Folds of the grouped cross-validation.
        batch_size: Crops per forward pass.
        budget_seconds: Wall-clock budget (None: no limit).
        device: "auto", "cpu", "cuda" or "mps".
        seed: Seed of crop sampling and folds.

    """

    backbone: str = "efficientnet_lite0"
    input_sizes: tuple[int, ...] = (320, 640, 1024)
    thresholds_px: tuple[int, ...] = (8, 16, 32)
    target_object_px: int = 32
    size_quantile: float = 0.1
    tile_overlap: float = 0.2
    separability: bool = True
    crop_size: int = 128
    crop_margin: float = 0.1
    min_box_px: float = 4.0
    max_crops_per_class: int = 400
    include_background: bool = True
    n_splits: int = 5
    batch_size: int = 32
    budget_seconds: float | None = 120.0
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        self.input_sizes = tuple(int(s) for s in self.input_sizes)
        self.thresholds_px = tuple(int(t) for t in self.thresholds_px)
        if not self.input_sizes or any(s < 32 for s in self.input_sizes):
            raise ValueError("input_sizes must be detector input sides of at least 32 px.")
        if self.target_object_px < 1:
            raise ValueError("target_object_px must be at least 1.")
        if not 0.0 < self.size_quantile < 1.0:
            raise ValueError("size_quantile must be between 0 and 1 (e.g. 0.1).")
        if not 0.0 <= self.tile_overlap < 1.0:
            raise ValueError("tile_overlap must be in [0, 1), e.g. 0.2.")
        if self.crop_size < 32 or self.n_splits < 2 or self.max_crops_per_class < 2:
            raise ValueError("crop_size must be >= 32, n_splits >= 2, max_crops_per_class >= 2.")
        if self.budget_seconds is not None and self.budget_seconds <= 0:
            raise ValueError("budget_seconds must be positive (or None for no limit).")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        out = asdict(self)
        out["input_sizes"] = list(self.input_sizes)
        out["thresholds_px"] = list(self.thresholds_px)
        return out


def _stored_size(record: ImageRecord) -> tuple[int, int]:
    """``(width, height)`` of the image as stored (the pixel grid boxes refer to)."""
    if record.info is not None and not record.info.exif_rotated:
        return record.info.width, record.info.height
    with Image.open(record.path) as im:
        return im.size


def run_detection_evidence(
    records: Sequence[ImageRecord],
    config: DetectionConfig | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Measure object sizes, class balance and class separability of a detection sample.

    Args:
        records: Scanned records; those with ``boxes`` (VOC or COCO) are used.
        config: Settings and budget (defaults: :class:`DetectionConfig`).
        progress: Called with :class:`engines.progress.Progress` (overall fraction).
        cancel: Cancellation token; :class:`engines.progress.Cancelled` is raised.

    Returns:
        JSON-ready ``{"task": "detection", "n_images", "n_images_annotated",
        "n_boxes", "sizes", "balance", "separability", "backbone", "device",
        "config", "timings", "notes"}``. ``separability`` is None when switched off;
        otherwise see :func:`engines.detection.crops.separability`.

    Raises:
        DetectionDataError: No record has box annotations, or no box has a size.
        BackboneUnavailable: The backbone cannot be built here.
        Cancelled: The caller cancelled.

    """
    t_start = time.monotonic()
    config = config or DetectionConfig()
    deadline = Deadline(config.budget_seconds)
    notes: list[str] = []
    annotated = [r for r in records if r.boxes is not None]
    if not annotated:
        raise DetectionDataError(
            "No image has box annotations. Upload Pascal VOC XML files or a COCO JSON "
            "beside the images to get detection evidence."
        )
    progress(Progress("detection_sizes", 0.0, "Measuring object sizes"))
    sizes = [_stored_size(r) for r in annotated]
    rows = [
        (b.x, b.y, b.w, b.h, w, h)
        for r, (w, h) in zip(annotated, sizes, strict=True)
        for b in r.boxes or []
    ]
    try:
        size_stats = object_size_stats(
            rows,
            config.input_sizes,
            config.thresholds_px,
            config.target_object_px,
            config.size_quantile,
            config.tile_overlap,
        )
    except ValueError as exc:
        raise DetectionDataError(
            f"The boxes cannot be measured ({exc}). Check that the annotations give "
            "boxes with a width and a height in pixels."
        ) from exc
    balance = class_balance(records)
    t_stats = time.monotonic() - t_start
    progress(Progress("detection_sizes", 0.1, "Sizes and balance measured"))

    sep = None
    backbone_info = None
    device = None
    t_sep = 0.0
    if config.separability:
        if cancel is not None:
            cancel.raise_if_cancelled()
        usable = [
            (r, s)
            for r, s in zip(annotated, sizes, strict=True)
            if r.info is None or not r.info.exif_rotated
        ]
        if len(usable) < len(annotated):
            notes.append(
                f"{len(annotated) - len(usable)} images carry an EXIF rotation; "
                "their boxes may refer to the unrotated pixels, so they were not "
                "cropped."
            )
        device = resolve_device(config.device)
        t0 = time.monotonic()
        model = create_backbone(config.backbone)
        cfg = data_config(model)
        backbone_info = {
            "name": config.backbone,
            "source": str((getattr(model, "pretrained_cfg", {}) or {}).get("source", "timm")),
            "load_seconds": round(time.monotonic() - t0, 3),
        }

        def relay(p: Progress) -> None:
            progress(Progress("detection_crops", 0.1 + 0.9 * p.fraction, p.message))

        sep = separability(
            model,
            cfg,
            [r for r, _ in usable],
            [s for _, s in usable],
            crop_size=config.crop_size,
            margin=config.crop_margin,
            min_side_px=config.min_box_px,
            max_per_class=config.max_crops_per_class,
            include_background=config.include_background,
            n_splits=config.n_splits,
            device=device,
            batch_size=config.batch_size,
            seed=config.seed,
            deadline=deadline,
            progress=relay,
            cancel=cancel,
        )
        t_sep = sep["seconds"] or 0.0
    progress(Progress("detection_crops", 1.0, "Detection evidence done"))
    return {
        "task": "detection",
        "n_images": len(records),
        "n_images_annotated": len(annotated),
        "n_boxes": len(rows),
        "sizes": size_stats,
        "balance": balance,
        "separability": sep,
        "backbone": backbone_info,
        "device": describe_device(device) if device is not None else None,
        "config": config.to_dict(),
        "timings": {
            "sizes_and_balance": round(t_stats, 3),
            "separability": t_sep,
            "total": round(time.monotonic() - t_start, 3),
        },
        "notes": notes,
    }
