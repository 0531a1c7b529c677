"""Detection scores with COCO's reference code, and bootstrap intervals over images.

Average precision is computed by ``pycocotools.cocoeval.COCOeval`` (the COCO
evaluation, Lin et al. 2014, "Microsoft COCO: Common Objects in Context", ECCV):
greedy matching of detections to boxes by score at each IoU threshold, precision made
monotone, sampled at 101 recall points and averaged. ``map50`` is AP at IoU 0.5 (the
Pascal VOC criterion, Everingham et al. 2010, with COCO's 101-point interpolation);
``map`` averages IoU 0.50:0.05:0.95 (COCO's primary metric). Both are means over the
classes present in the held-out truth.

Intervals: percentile bootstrap over images (Efron & Tibshirani 1993). COCOeval's
per-image matching is done once; each resample re-weights whole images (an image
drawn twice counts twice) and COCOeval's own ``accumulate`` turns the resampled
matches into precision-recall curves, so the interval uses the same AP definition as
the point value.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

_AREA = {"small": 1, "medium": 2, "large": 3}


def _coco_objects(
    truths: Sequence[dict[str, np.ndarray]],
    preds: Sequence[dict[str, np.ndarray]],
    n_classes: int,
) -> tuple[Any, Any]:
    from pycocotools.coco import COCO

    images = [{"id": i + 1} for i in range(len(truths))]
    cats = [{"id": k + 1, "name": str(k)} for k in range(n_classes)]
    gt_anns: list[dict[str, Any]] = []
    dt_anns: list[dict[str, Any]] = []
    for i, t in enumerate(truths):
        for b, lab in zip(np.asarray(t["boxes"]).reshape(-1, 4), t["labels"], strict=True):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            gt_anns.append(
                {
                    "id": len(gt_anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(lab) + 1,
                    "bbox": [float(b[0]), float(b[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    for i, p in enumerate(preds):
        for b, s, lab in zip(
            np.asarray(p["boxes"]).reshape(-1, 4), p["scores"], p["labels"], strict=True
        ):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            dt_anns.append(
                {
                    "id": len(dt_anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(lab) + 1,
                    "bbox": [float(b[0]), float(b[1]), w, h],
                    "area": w * h,
                    "score": float(s),
                    "iscrowd": 0,
                }
            )
    gt, dt = COCO(), COCO()
    gt.dataset = {"images": images, "categories": cats, "annotations": gt_anns}
    dt.dataset = {"images": images, "categories": cats, "annotations": dt_anns}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt.createIndex()
    return gt, dt


def evaluate(
    truths: Sequence[dict[str, np.ndarray]],
    preds: Sequence[dict[str, np.ndarray]],
    n_classes: int,
) -> Any:
    """Run COCOeval's per-image matching (``evaluate``) and ``accumulate`` once.

    Args:
        truths: Per image ``{"boxes": (n, 4) x0 y0 x1 y1, "labels": (n,) 0-based}``.
        preds: Per image, the same plus ``"scores"``.
        n_classes: Number of classes.

    Returns:
        The ``COCOeval`` object (its ``eval["precision"]`` is ``[T, R, K, A, M]``).

    """
    from pycocotools.cocoeval import COCOeval

    if len(truths) != len(preds):
        raise ValueError(f"{len(truths)} truths but {len(preds)} predictions.")
    gt, dt = _coco_objects(truths, preds, n_classes)
    ev = COCOeval(gt, dt, iouType="bbox")
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    return ev


def _ap(precision: np.ndarray) -> float | None:
    valid = precision[precision > -1]
    return float(np.mean(valid)) if valid.size else None


def _summaries(precision: np.ndarray, n_classes: int) -> dict[str, Any]:
    """mAP@.5, mAP@[.5:.95] and per-class APs from ``precision[T, R, K]``."""
    per50 = [_ap(precision[0, :, k]) for k in range(n_classes)]
    per = [_ap(precision[:, :, k]) for k in range(n_classes)]
    return {"map50": _ap(precision[0]), "map": _ap(precision), "per50": per50, "per": per}


def _resampled(ev: Any, idx: np.ndarray) -> np.ndarray:
    """``precision[T, R, K]`` of COCOeval's accumulate over the resampled images."""
    p = copy.copy(ev.params)
    n_img, n_area = len(ev.params.imgIds), len(ev.params.areaRng)
    n_cat = len(ev.params.catIds)
    evals = ev.evalImgs
    ev_b = copy.copy(ev)
    ev_b.evalImgs = [
        evals[k * n_area * n_img + a * n_img + int(i)]
        for k in range(n_cat)
        for a in range(n_area)
        for i in idx
    ]
    ids = list(range(len(idx)))
    pe = copy.copy(ev.params)
    pe.imgIds = ids
    ev_b._paramsEval = pe
    p.imgIds = ids
    p.areaRng = [ev.params.areaRng[0]]
    p.areaRngLbl = ["all"]
    p.maxDets = [ev.params.maxDets[-1]]
    with contextlib.redirect_stdout(io.StringIO()):
        ev_b.accumulate(p)
    return ev_b.eval["precision"][:, :, :, 0, 0]


def _interval(
    value: float | None, samples: Sequence[float | None], confidence: float, method: str
) -> dict[str, Any]:
    arr = np.asarray([s for s in samples if s is not None], dtype=float)
    if value is None or arr.size < 2:
        return {"value": value, "ci_low": None, "ci_high": None, "method": method}
    a = (1 - confidence) / 2
    lo, hi = np.quantile(arr, [a, 1 - a])
    return {"value": float(value), "ci_low": float(lo), "ci_high": float(hi), "method": method}


def detection_scores(
    truths: Sequence[dict[str, np.ndarray]],
    preds: Sequence[dict[str, np.ndarray]],
    class_names: Sequence[str],
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """mAP@0.5, mAP@[.5:.95], per-class AP and COCO's size breakdown, with intervals.

    Args:
        truths: Per held-out image ``{"boxes": (n, 4) x0 y0 x1 y1 px, "labels": (n,)}``.
        preds: Per image ``{"boxes", "scores", "labels"}`` (same pixel grid).
        class_names: Name of each class index.
        n_boot: Bootstrap resamples of the images (0: no intervals).
        seed: Seed of the resampling.
        confidence: Coverage of the intervals.

    Returns:
        JSON-ready ``{"map50", "map"}`` (each ``{value, ci_low, ci_high, method}``),
        ``map75``, ``ap_small`` / ``ap_medium`` / ``ap_large`` and ``ar100`` (COCO's
        summary values; None where no box of that size exists), ``per_class``
        (``[{class, n_boxes, n_predictions, ap50, ap}]``, the APs with intervals),
        ``n_images``, ``n_boxes``, ``n_predictions``, ``backend``, ``references``.
        A class absent from the held-out truth has AP None and is left out of the means.

    """
    from importlib.metadata import version

    n_classes = len(class_names)
    ev = evaluate(truths, preds, n_classes)
    prec = ev.eval["precision"]  # [T, R, K, A, M]; A=0 all sizes, M=-1 100 detections
    point = _summaries(prec[:, :, :, 0, -1], n_classes)
    recall = ev.eval["recall"]  # [T, K, A, M]
    rec_all = recall[:, :, 0, -1]
    ar = float(np.mean(rec_all[rec_all > -1])) if np.any(rec_all > -1) else None
    boots: list[dict[str, Any]] = []
    if n_boot and len(truths) >= 2:
        rng = np.random.default_rng(seed)
        for _ in range(n_boot):
            idx = rng.integers(0, len(truths), len(truths))
            boots.append(_summaries(_resampled(ev, idx), n_classes))
    method = (
        f"COCOeval (pycocotools {version('pycocotools')}); "
        f"percentile bootstrap over images ({len(boots)} resamples)"
    )
    n_true = [
        int(sum(int(np.sum(np.asarray(t["labels"]) == k)) for t in truths))
        for k in range(n_classes)
    ]
    n_pred = [
        int(sum(int(np.sum(np.asarray(p["labels"]) == k)) for p in preds)) for k in range(n_classes)
    ]
    per_class = []
    for k, name in enumerate(class_names):
        per_class.append(
            {
                "class": str(name),
                "n_boxes": n_true[k],
                "n_predictions": n_pred[k],
                "ap50": _interval(
                    point["per50"][k], [b["per50"][k] for b in boots], confidence, method
                ),
                "ap": _interval(point["per"][k], [b["per"][k] for b in boots], confidence, method),
            }
        )
    by_size = {f"ap_{name}": _ap(prec[:, :, :, a, -1]) for name, a in _AREA.items()}
    return {
        "map50": _interval(point["map50"], [b["map50"] for b in boots], confidence, method),
        "map": _interval(point["map"], [b["map"] for b in boots], confidence, method),
        "map75": _ap(prec[5, :, :, 0, -1]),
        **by_size,
        "ar100": ar,
        "per_class": per_class,
        "n_images": len(truths),
        "n_boxes": int(sum(n_true)),
        "n_predictions": int(sum(n_pred)),
        "backend": "pycocotools COCOeval (iouType bbox, 101-point interpolated AP)",
        "references": [
            "Lin et al. (2014), Microsoft COCO: Common Objects in Context, ECCV.",
            "Everingham et al. (2010), The Pascal Visual Object Classes (VOC) Challenge, IJCV.",
            "Efron & Tibshirani (1993), An Introduction to the Bootstrap.",
        ],
    }
