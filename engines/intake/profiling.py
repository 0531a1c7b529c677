"""From a dataset index to a :class:`engines.profile.DatasetProfile` (numbers only)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from engines.intake.records import DatasetIndex, natural_key
from engines.profile import DatasetProfile

_ASPECT_BINS = (0.0, 0.5, 0.8, 0.95, 1.05, 1.25, 2.0, math.inf)
_ASPECT_NAMES = ("<0.5 tall", "0.5-0.8", "0.8-0.95", "square", "1.05-1.25", "1.25-2", ">2 wide")


def summarize(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """Count, min, 5th percentile, median, mean, 95th percentile and max of numbers.

    Args:
        values: Numbers (None values are dropped).

    Returns:
        A JSON-ready dict; all None when there are no numbers.

    """
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        return {
            "n": 0,
            "min": None,
            "p5": None,
            "median": None,
            "mean": None,
            "p95": None,
            "max": None,
        }
    return {
        "n": int(arr.size),
        "min": round(float(arr.min()), 3),
        "p5": round(float(np.percentile(arr, 5)), 3),
        "median": round(float(np.median(arr)), 3),
        "mean": round(float(arr.mean()), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
    }


def _sorted_counts(counter: Counter[Any]) -> dict[str, int]:
    return {str(k): int(counter[k]) for k in sorted(counter, key=lambda k: natural_key(str(k)))}


def _aspect_histogram(aspects: list[float]) -> dict[str, int]:
    counts: np.ndarray | list[int] = (
        np.histogram(aspects, bins=np.asarray(_ASPECT_BINS))[0] if aspects else []
    )
    return {name: int(c) for name, c in zip(_ASPECT_NAMES, counts, strict=False)}


def image_stats(index: DatasetIndex) -> dict[str, Any]:
    """Size, aspect, channel, format and quality distributions of the indexed images.

    Args:
        index: A scanned dataset.

    Returns:
        JSON-ready summaries: ``width``, ``height``, ``min_side``, ``megapixels``,
        ``aspect_ratio`` (width / height) with a histogram, counts of ``modes``,
        ``formats``, ``channels``, ``bit_depths``, DICOM ``modalities``, and counts of
        EXIF-rotated, animated/multi-frame, mislabelled-extension and unlabeled images.

    """
    infos = [r.info for r in index.records if r.info is not None]
    widths = [i.width for i in infos]
    heights = [i.height for i in infos]
    aspects = [i.width / i.height for i in infos if i.height]
    return {
        "width": summarize(widths),
        "height": summarize(heights),
        "min_side": summarize(min(i.width, i.height) for i in infos),
        "megapixels": summarize(i.width * i.height / 1e6 for i in infos),
        "aspect_ratio": summarize(aspects),
        "aspect_histogram": _aspect_histogram(aspects),
        "modes": _sorted_counts(Counter(i.mode for i in infos)),
        "formats": _sorted_counts(Counter(i.format for i in infos)),
        "channels": _sorted_counts(Counter(i.channels for i in infos)),
        "bit_depths": _sorted_counts(Counter(i.bit_depth for i in infos)),
        "modalities": _sorted_counts(Counter(i.modality for i in infos if i.modality)),
        "brightness": summarize(i.brightness for i in infos),
        "sharpness": summarize(i.sharpness for i in infos),
        "total_bytes": int(sum(i.n_bytes for i in infos)),
        "n_exif_rotated": sum(1 for i in infos if i.exif_rotated),
        "n_multi_frame": sum(1 for i in infos if i.n_frames > 1),
        "n_extension_mismatch": sum(1 for i in infos if i.suffix_mismatch),
        "n_unlabeled": sum(1 for r in index.records if r.label is None),
    }


def detection_stats(index: DatasetIndex) -> dict[str, Any] | None:
    """Boxes per image, box sizes and classes, where the upload has box annotations.

    Box sizes are given relative to the image (square root of the area fraction) and
    in COCO's size buckets (small < 32², medium < 96², large, in pixels; Lin et al.,
    "Microsoft COCO: Common Objects in Context", ECCV 2014).

    Args:
        index: A scanned dataset.

    Returns:
        The summary, or None when no record has boxes.

    """
    annotated = [r for r in index.records if r.boxes is not None]
    if not annotated:
        return None
    per_image = [len(r.boxes or []) for r in annotated]
    classes: Counter[str] = Counter()
    rel_sizes: list[float] = []
    aspects: list[float] = []
    buckets: Counter[str] = Counter()
    outside = degenerate = 0
    for r in annotated:
        width = r.info.width if r.info else None
        height = r.info.height if r.info else None
        for b in r.boxes or []:
            classes[b.label] += 1
            if b.w <= 0 or b.h <= 0:
                degenerate += 1
                continue
            area = b.w * b.h
            buckets["small" if area < 32**2 else "medium" if area < 96**2 else "large"] += 1
            aspects.append(b.w / b.h)
            if width and height:
                rel_sizes.append(math.sqrt(area / (width * height)))
                if b.x < -1 or b.y < -1 or b.x + b.w > width + 1 or b.y + b.h > height + 1:
                    outside += 1
    return {
        "n_images_annotated": len(annotated),
        "n_images_without_boxes": sum(1 for n in per_image if n == 0),
        "n_boxes": int(sum(per_image)),
        "boxes_per_image": summarize(per_image),
        "class_counts": _sorted_counts(classes),
        "n_classes": len(classes),
        "relative_size": summarize(rel_sizes),
        "size_buckets": {k: int(buckets[k]) for k in ("small", "medium", "large")},
        "box_aspect_ratio": summarize(aspects),
        "n_boxes_outside_image": outside,
        "n_degenerate_boxes": degenerate,
    }


def profile_dataset(index: DatasetIndex) -> DatasetProfile:
    """Describe a scanned dataset as a :class:`engines.profile.DatasetProfile`.

    Args:
        index: What :func:`engines.intake.scan_dataset` returned.

    Returns:
        Counts per class and split, the inferred data type, task hint and layout,
        the skipped files with reasons, image statistics, annotation summaries and the
        scan's notes. ``health`` and ``effective_n_images`` are left for the health check.

    """
    labels = Counter(r.label for r in index.records if r.label is not None)
    splits = Counter(r.split for r in index.records if r.split is not None)
    domains = Counter(r.domain for r in index.records if r.domain is not None)
    annotations = dict(index.annotations)
    det = detection_stats(index)
    if det is not None:
        annotations["detection"] = det
    return DatasetProfile(
        n_images=len(index.records),
        n_classes=len(labels),
        class_counts=_sorted_counts(labels),
        split_counts={k: int(splits[k]) for k in ("train", "val", "test") if k in splits},
        data_type=index.data_type,  # type: ignore[arg-type]
        task_hint=index.task_hint,  # type: ignore[arg-type]
        layout=index.layout,
        skipped=list(index.skipped),
        image_stats=image_stats(index),
        domain_counts=_sorted_counts(domains),
        annotations=annotations,
        notes=list(index.notes),
    )


_DATA_TYPES = ("paired", "unpaired", "input_only")
_TASK_HINTS = ("classification", "segmentation", "detection")


def correct_profile(
    profile: DatasetProfile,
    *,
    data_type: str | None = None,
    task_hint: str | None = None,
    clear_task_hint: bool = False,
) -> DatasetProfile:
    """Apply the consultant's corrections to what intake inferred.

    The inferred values are kept in ``notes`` so that the report can show both.

    Args:
        profile: The inferred profile (not modified).
        data_type: "paired", "unpaired" or "input_only", or None to keep.
        task_hint: "classification", "segmentation" or "detection", or None to keep.
        clear_task_hint: Set the task hint to None (the layout says nothing).

    Returns:
        A corrected copy.

    Raises:
        IntakeError: A value that is not one of the allowed ones.

    """
    from dataclasses import replace

    from engines.intake.limits import IntakeError

    if data_type is not None and data_type not in _DATA_TYPES:
        raise IntakeError(
            f"Unknown data type '{data_type}'. Choose one of: {', '.join(_DATA_TYPES)}."
        )
    if task_hint is not None and task_hint not in _TASK_HINTS:
        raise IntakeError(f"Unknown task '{task_hint}'. Choose one of: {', '.join(_TASK_HINTS)}.")
    notes = list(profile.notes)
    changes: dict[str, Any] = {}
    if data_type is not None and data_type != profile.data_type:
        notes.append(f"Data type corrected by the consultant: {profile.data_type} → {data_type}.")
        changes["data_type"] = data_type
    new_hint = None if clear_task_hint else task_hint
    if (clear_task_hint or task_hint is not None) and new_hint != profile.task_hint:
        notes.append(f"Task corrected by the consultant: {profile.task_hint} → {new_hint}.")
        changes["task_hint"] = new_hint
    return replace(profile, notes=notes, **changes)
