"""Dice and IoU per class with 95 % bootstrap intervals over images, as JSON-ready data.

Definitions (per class ``c``, over a set of images, void pixels excluded):

* Dice = 2 |P ∩ T| / (|P| + |T|) (Dice 1945; Sørensen 1948), IoU = |P ∩ T| / |P ∪ T|
  (Jaccard 1912), with the pixel counts *pooled* over the images of the set, so a
  class is scored wherever it occurs and an image without it adds only its false
  positives. A class absent from both prediction and truth has no score (None).
* The headline ``dice`` / ``iou`` is the mean over the foreground classes (every class
  but ``background_index``) that occur in the truth.
* ``dice_per_image``: the mean over images of each image's foreground Dice (mean over
  the foreground classes present in its prediction or truth; an image with neither
  counts 1, a false alarm on an empty image counts 0). It weighs every image equally,
  so missed small objects and false alarms on clean images show up.

Intervals: percentile bootstrap over images (Efron & Tibshirani 1993, *An Introduction
to the Bootstrap*): whole images are resampled with replacement, because pixels of one
image are not independent.

Baseline: the Dice of predicting a class on every pixel, ``2|T| / (|T| + N)``, averaged
like the headline. A model whose interval lies above it has learned something.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from engines.segmentation.masks import IGNORE_INDEX

_BOOT_CHUNK = 200


def image_counts(
    pred: np.ndarray, truth: np.ndarray, n_classes: int, ignore_index: int = IGNORE_INDEX
) -> tuple[np.ndarray, int]:
    """Per-class pixel counts of one image: intersection, predicted, true.

    Args:
        pred: ``(H, W)`` predicted class ids.
        truth: ``(H, W)`` true class ids; ``ignore_index`` pixels are left out.
        n_classes: Number of classes.
        ignore_index: Void value in ``truth``.

    Returns:
        ``(counts, n_valid)``: ``int64`` array ``(n_classes, 3)`` with columns
        ``|P ∩ T|, |P|, |T|``, and the number of scored pixels.

    Raises:
        ValueError: If the shapes differ.

    """
    p = np.asarray(pred).astype(np.int64).ravel()
    t = np.asarray(truth).astype(np.int64).ravel()
    if p.shape != t.shape:
        raise ValueError(
            f"Prediction {np.shape(pred)} and truth {np.shape(truth)} differ in shape."
        )
    keep = t != ignore_index
    p, t = p[keep], t[keep]
    p = np.clip(p, 0, n_classes - 1)
    inter = np.bincount(t[p == t], minlength=n_classes)[:n_classes]
    n_pred = np.bincount(p, minlength=n_classes)[:n_classes]
    n_true = np.bincount(t, minlength=n_classes)[:n_classes]
    return np.stack([inter, n_pred, n_true], axis=1).astype(np.int64), int(keep.sum())


def _dice_iou(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dice and IoU from (..., C, 3) counts; NaN where the class is absent everywhere."""
    inter = counts[..., 0].astype(float)
    total = counts[..., 1].astype(float) + counts[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(total > 0, 2 * inter / total, np.nan)
        iou = np.where(total > 0, inter / (total - inter), np.nan)
    return dice, iou


def _headline(dice: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean over the classes in ``present`` (a boolean (..., C) mask), NaN if none."""
    vals = np.where(present, dice, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as meant
        return np.nanmean(vals, axis=-1)


def _per_image_dice(counts: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Foreground Dice of each image (1 when it has no foreground in truth or prediction)."""
    dice, _ = _dice_iou(counts[:, fg])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as meant
        mean = np.nanmean(dice, axis=1)
    return np.where(np.isnan(mean), 1.0, mean)


def _quantiles(samples: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, None
    alpha = 1.0 - confidence
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _interval(
    value: float | None, samples: np.ndarray, confidence: float, method: str
) -> dict[str, Any]:
    lo, hi = _quantiles(samples, confidence) if value is not None else (None, None)
    return {"value": value, "ci_low": lo, "ci_high": hi, "method": method}


def _resample_weights(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of n images is drawn in each of b bootstrap resamples, (b, n)."""
    idx = rng.integers(0, n, size=(b, n)) + (np.arange(b)[:, None] * n)
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)


def _finite(x: float | np.ndarray) -> float | None:
    return float(x) if np.isfinite(x) else None


def segmentation_scores(
    counts: np.ndarray,
    n_valid: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    background_index: int | None = 0,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Dice and IoU, per class and overall, with bootstrap intervals over images.

    Args:
        counts: ``(n_images, n_classes, 3)`` from :func:`image_counts`.
        n_valid: Scored pixels of each image.
        class_names: One name per class id.
        background_index: Class left out of the headline (None: every class counts).
        n_boot: Bootstrap resamples.
        seed: Seed of the bootstrap; same seed, same numbers.
        confidence: Two-sided level of every interval.

    Returns:
        ``{"n_images", "confidence", "dice", "iou", "dice_per_image", "baseline",
        "better_than_baseline", "per_class": [{name, index, is_background, dice, iou,
        pixels_true, pixels_pred, images_with_class}], "note"}``; each score is
        ``{value, ci_low, ci_high, method}`` (value None when undefined).

    Raises:
        ValueError: On inconsistent shapes, no images, or bad parameters.

    """
    c = np.asarray(counts, dtype=np.int64)
    valid = np.asarray(n_valid, dtype=np.int64)
    if c.ndim != 3 or c.shape[2] != 3:
        raise ValueError("counts must have shape (n_images, n_classes, 3).")
    n, k, _ = c.shape
    if n == 0:
        raise ValueError("No images to score: the validation set is empty.")
    if k != len(class_names):
        raise ValueError(f"counts has {k} classes but {len(class_names)} class names were given.")
    if valid.shape != (n,):
        raise ValueError("n_valid must give one pixel count per image.")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    fg = np.ones(k, bool)
    if background_index is not None and 0 <= background_index < k:
        fg[background_index] = False
    pooled = c.sum(axis=0)
    dice, iou = _dice_iou(pooled)
    present = fg & (pooled[:, 2] > 0)
    head_dice = _finite(_headline(dice, present))
    head_iou = _finite(_headline(iou, present))
    per_img = _per_image_dice(c, fg)
    total = float(valid.sum())
    base = np.where(pooled[:, 2] > 0, 2 * pooled[:, 2] / (pooled[:, 2] + total), np.nan)
    base_head = _finite(_headline(base, present))

    rng = np.random.default_rng(seed)
    b_dice = np.empty((n_boot, k))
    b_iou = np.empty((n_boot, k))
    b_img = np.empty(n_boot)
    flat = c.reshape(n, k * 3).astype(float)
    for start in range(0, n_boot, _BOOT_CHUNK):
        b = min(_BOOT_CHUNK, n_boot - start)
        w = _resample_weights(n, b, rng)
        sums = (w @ flat).reshape(b, k, 3)
        b_dice[start : start + b], b_iou[start : start + b] = _dice_iou(sums)
        b_img[start : start + b] = (w @ per_img) / n
    method = f"percentile bootstrap over images ({n_boot} resamples)"
    per_class = []
    for j in range(k):
        per_class.append(
            {
                "name": str(class_names[j]),
                "index": j,
                "is_background": bool(not fg[j]),
                "dice": _interval(_finite(dice[j]), b_dice[:, j], confidence, method),
                "iou": _interval(_finite(iou[j]), b_iou[:, j], confidence, method),
                "pixels_true": int(pooled[j, 2]),
                "pixels_pred": int(pooled[j, 1]),
                "images_with_class": int((c[:, j, 2] > 0).sum()),
            }
        )
    out: dict[str, Any] = {
        "n_images": int(n),
        "confidence": float(confidence),
        "dice": _interval(head_dice, _headline(b_dice, present), confidence, method),
        "iou": _interval(head_iou, _headline(b_iou, present), confidence, method),
        "dice_per_image": _interval(float(per_img.mean()), b_img, confidence, method),
        "baseline": {
            "dice": base_head,
            "method": "every pixel predicted as the class, averaged like the headline",
        },
        "per_class": per_class,
        "note": None,
    }
    low = out["dice"]["ci_low"]
    out["better_than_baseline"] = bool(
        low is not None and base_head is not None and low > base_head
    )
    if head_dice is None:
        out["note"] = (
            "No foreground class occurs in the validation masks, so Dice and IoU "
            "are undefined; add validation images that show the objects."
        )
    return out
