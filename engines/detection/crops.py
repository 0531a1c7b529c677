"""Can the object classes be told apart at all? Box crops, frozen features, a linear probe.

Each annotated box is cut out (with a margin of context), resized to a square and
described by the pooled features of a frozen pretrained backbone; optionally, crops of
the same sizes taken where no box lies stand for "background". A multinomial linear
probe (:func:`engines.linear_probe.fit_linear_probe`) is cross-validated with folds
*grouped by image*, so crops of one frame never sit on both sides (they share
lighting, camera and often the very same object). Accuracy and its interval come from
:func:`engines.metrics.classification_metrics`.

This is a lower bound on what a detector's classification head can do on these
classes: a fine-tuned detector usually separates them better, never much worse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from engines.features import to_tensor_batch
from engines.images import load_rgb
from engines.intake.records import Box, ImageRecord
from engines.linear_probe import fit_linear_probe
from engines.metrics import classification_metrics
from engines.progress import CancelToken, Deadline, Progress, ProgressCallback, ignore_progress

BACKGROUND = "background"


@dataclass
class CropSpec:
    """One crop to cut: which image, which pixels, which class."""

    image: int
    label: str
    x0: int
    y0: int
    x1: int
    y1: int


def _expand(b: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    mx, my = b.w * margin, b.h * margin
    x0 = int(max(0, np.floor(b.x - mx)))
    y0 = int(max(0, np.floor(b.y - my)))
    x1 = int(min(width, np.ceil(b.x + b.w + mx)))
    y1 = int(min(height, np.ceil(b.y + b.h + my)))
    return x0, y0, x1, y1


def _overlaps(x0: int, y0: int, x1: int, y1: int, boxes: Sequence[Box]) -> bool:
    return any(x0 < b.x + b.w and b.x < x1 and y0 < b.y + b.h and b.y < y1 for b in boxes)


def plan_crops(
    records: Sequence[ImageRecord],
    sizes: Sequence[tuple[int, int]],
    margin: float = 0.1,
    min_side_px: float = 4.0,
    max_per_class: int = 400,
    background_per_image: int = 1,
    seed: int = 0,
) -> tuple[list[CropSpec], dict[str, int]]:
    """Choose the crops: boxes (capped per class, at random) and background patches.

    Args:
        records: Annotated records (``boxes`` not None).
        sizes: ``(width, height)`` of each record's image as stored.
        margin: Context added around each box, as a share of its width and height.
        min_side_px: Boxes with a side below this are left out (too few pixels).
        max_per_class: Most crops kept per class (a random subset beyond).
        background_per_image: Background patches sought per image (0: none).
        seed: Seed of the subsets and the patch positions.

    Returns:
        ``(crops, dropped)``: the crops, and counts of what was left out and why.

    """
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[CropSpec]] = {}
    dropped = {"too_small": 0, "outside_image": 0, "over_class_cap": 0, "no_background_room": 0}
    for i, (r, (width, height)) in enumerate(zip(records, sizes, strict=True)):
        for b in r.boxes or []:
            if min(b.w, b.h) < min_side_px:
                dropped["too_small"] += 1
                continue
            x0, y0, x1, y1 = _expand(b, margin, width, height)
            if x1 - x0 < 2 or y1 - y0 < 2:
                dropped["outside_image"] += 1
                continue
            by_class.setdefault(b.label, []).append(CropSpec(i, b.label, x0, y0, x1, y1))
        boxes = [b for b in r.boxes or [] if b.w > 0 and b.h > 0]
        for _ in range(background_per_image):
            if not boxes:
                # an image annotated with no object: a patch of a typical object size
                side = int(max(min_side_px, 0.15 * min(width, height)))
                bw = bh = min(side, width, height)
            else:
                ref = boxes[int(rng.integers(len(boxes)))]
                bw = int(min(width, max(min_side_px, ref.w * (1 + 2 * margin))))
                bh = int(min(height, max(min_side_px, ref.h * (1 + 2 * margin))))
            for _attempt in range(30):
                x0 = int(rng.integers(0, max(1, width - bw + 1)))
                y0 = int(rng.integers(0, max(1, height - bh + 1)))
                if not _overlaps(x0, y0, x0 + bw, y0 + bh, boxes):
                    by_class.setdefault(BACKGROUND, []).append(
                        CropSpec(i, BACKGROUND, x0, y0, x0 + bw, y0 + bh)
                    )
                    break
            else:
                dropped["no_background_room"] += 1
    crops: list[CropSpec] = []
    for label in sorted(by_class):
        items = by_class[label]
        if len(items) > max_per_class:
            keep = np.sort(rng.choice(len(items), size=max_per_class, replace=False))
            dropped["over_class_cap"] += len(items) - max_per_class
            items = [items[k] for k in keep]
        crops.extend(items)
    return crops, dropped


def crop_features(
    model: Any,
    data_cfg: dict[str, Any],
    records: Sequence[ImageRecord],
    crops: Sequence[CropSpec],
    crop_size: int,
    *,
    device: torch.device,
    batch_size: int = 32,
    deadline: Deadline | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Pooled frozen-backbone features of the crops, each image decoded once.

    Args:
        model: A timm classifier (pooled pre-logit features are used).
        data_cfg: Its preprocessing (mean, std).
        records: The records the crops refer to.
        crops: The crops.
        crop_size: Side of the square each crop is resized to.
        device: Where to run.
        batch_size: Crops per forward pass.
        deadline: Stop early (describing fewer crops) when it runs out.
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        ``(features, kept)``: ``(len(kept), d)`` features, and the indices into
        ``crops`` they describe, ascending.

    """
    order = sorted(range(len(crops)), key=lambda k: (crops[k].image, k))
    rows: dict[int, np.ndarray] = {}
    model = model.to(device).eval()
    current, img = -1, None
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        batch = to_tensor_batch([a for _, a in pending], data_cfg).to(device)
        with torch.inference_mode():
            pooled = model.forward_head(model.forward_features(batch), pre_logits=True)
        for (k, _), row in zip(pending, pooled.float().cpu().numpy(), strict=True):
            rows[k] = row
        pending.clear()

    for n, k in enumerate(order):
        if cancel is not None:
            cancel.raise_if_cancelled()
        c = crops[k]
        if c.image != current:
            img = load_rgb(records[c.image].path)
            current = c.image
        patch = (
            cast(Image.Image, img)
            .crop((c.x0, c.y0, c.x1, c.y1))
            .resize((crop_size, crop_size), Image.Resampling.BICUBIC)
        )
        pending.append((k, np.asarray(patch, dtype=np.uint8)))
        if len(pending) == batch_size:
            flush()
            progress(
                Progress(
                    "crop_features",
                    (n + 1) / len(order),
                    f"Described {n + 1} of {len(order)} crops",
                )
            )
            if deadline is not None and deadline.remaining <= 0:
                break
    else:
        if pending:
            flush()
    kept = sorted(rows)
    if not kept:
        return np.zeros((0, 0), np.float32), []
    return np.stack([rows[k] for k in kept]), kept


def grouped_folds(groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Fold of each row, whole groups (images) dealt round-robin after a shuffle."""
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    fold_of = {g: i % n_splits for i, g in enumerate(rng.permutation(uniq))}
    return np.asarray([fold_of[g] for g in groups], dtype=int)


def grouped_probe(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    class_names: Sequence[str],
    n_splits: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Out-of-fold linear-probe predictions, folds grouped by image, and their metrics.

    Args:
        X: Features, ``(n, d)``.
        y: Class names, ``(n,)``.
        groups: Image id of each row.
        class_names: All classes, in the order of the probability columns.
        n_splits: Folds (capped at the number of images).
        seed: Seed of the fold assignment.

    Returns:
        ``{"metrics": classification_metrics(...), "n_splits", "n_images",
        "validation"}``.

    Raises:
        ValueError: Fewer than two classes or two images.

    """
    names = sorted(class_names)
    if len(set(y.tolist())) < 2:
        raise ValueError("The crops hold a single class; there is nothing to tell apart.")
    n_groups = np.unique(groups).size
    if n_groups < 2:
        raise ValueError("All crops come from one image; grouped validation needs two or more.")
    k = min(n_splits, n_groups)
    fold = grouped_folds(groups, k, seed)
    proba = np.zeros((y.size, len(names)))
    for f in range(k):
        test = fold == f
        train = ~test
        if np.unique(y[train]).size < 2:
            proba[test] = np.asarray([[1.0 if n == y[train][0] else 0.0 for n in names]])
            continue
        model = fit_linear_probe(X[train], y[train], seed=seed + f, classes=names)
        proba[test] = model.predict_proba(X[test])
    pred = np.asarray(names)[proba.argmax(axis=1)]
    metrics = classification_metrics(y, pred, proba, class_names=names, seed=seed)
    return {
        "metrics": metrics,
        "n_splits": int(k),
        "n_images": int(n_groups),
        "validation": f"{k}-fold cross-validation, folds grouped by image",
    }


def separability(
    model: nn.Module,
    data_cfg: dict[str, Any],
    records: Sequence[ImageRecord],
    sizes: Sequence[tuple[int, int]],
    *,
    crop_size: int = 128,
    margin: float = 0.1,
    min_side_px: float = 4.0,
    max_per_class: int = 400,
    include_background: bool = True,
    n_splits: int = 5,
    device: torch.device,
    batch_size: int = 32,
    seed: int = 0,
    deadline: Deadline | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Crop, describe and probe: how well frozen features tell the box classes apart.

    Args:
        model: Frozen pretrained backbone (timm classifier).
        data_cfg: Its preprocessing.
        records: Annotated records.
        sizes: ``(width, height)`` of each record's image as stored.
        crop_size: Side each crop is resized to.
        margin: Context around each box, as a share of its size.
        min_side_px: Smaller boxes are left out.
        max_per_class: Most crops per class.
        include_background: Add background patches as one more class.
        n_splits: Folds of the grouped cross-validation.
        device: Where to run the backbone.
        batch_size: Crops per forward pass.
        seed: Seed of sampling and folds.
        deadline: Budget; crops not described in time are left out (said in ``notes``).
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        ``{"available", "reason", "n_crops", "crops_per_class", "dropped", "crop_size",
        "margin", "all_classes" (objects + background), "object_classes" (objects
        only, when two or more), "object_vs_background" (when background is
        included), "seconds", "notes"}``; each probe result holds ``metrics`` from
        :func:`engines.metrics.classification_metrics`.

    """
    start = time.monotonic()
    crops, dropped = plan_crops(
        records, sizes, margin, min_side_px, max_per_class, 1 if include_background else 0, seed
    )
    out: dict[str, Any] = {
        "available": False,
        "reason": None,
        "n_crops": 0,
        "crops_per_class": {},
        "dropped": dropped,
        "crop_size": int(crop_size),
        "margin": float(margin),
        "all_classes": None,
        "object_classes": None,
        "object_vs_background": None,
        "seconds": None,
        "notes": [],
    }
    labels = sorted({c.label for c in crops})
    if len(labels) < 2:
        out["reason"] = (
            "Only one kind of crop ("
            + (labels[0] if labels else "none")
            + "): there is nothing to tell apart."
        )
        out["seconds"] = round(time.monotonic() - start, 3)
        return out
    X, done = crop_features(
        model,
        data_cfg,
        records,
        crops,
        crop_size,
        device=device,
        batch_size=batch_size,
        deadline=deadline,
        progress=progress,
        cancel=cancel,
    )
    n_done = len(done)
    if n_done < len(crops):
        out["notes"].append(f"The budget allowed {n_done} of {len(crops)} crops.")
    y = np.asarray([crops[k].label for k in done])
    g = np.asarray([crops[k].image for k in done])
    out["n_crops"] = int(n_done)
    out["crops_per_class"] = {lab: int((y == lab).sum()) for lab in sorted(set(y.tolist()))}
    try:
        out["all_classes"] = grouped_probe(X, y, g, sorted(set(y.tolist())), n_splits, seed)
    except ValueError as exc:
        out["reason"] = str(exc)
        out["seconds"] = round(time.monotonic() - start, 3)
        return out
    out["available"] = True
    objects = y != BACKGROUND
    object_names = sorted(set(y[objects].tolist()))
    if len(object_names) >= 2:
        try:
            out["object_classes"] = grouped_probe(
                X[objects], y[objects], g[objects], object_names, n_splits, seed
            )
        except ValueError as exc:
            out["notes"].append(f"Object classes alone: {exc}")
    if include_background and (~objects).any() and objects.any():
        binary = np.where(objects, "object", BACKGROUND)
        out["object_vs_background"] = grouped_probe(
            X, binary, g, [BACKGROUND, "object"], n_splits, seed
        )
    out["seconds"] = round(time.monotonic() - start, 3)
    return out
