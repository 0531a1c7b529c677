"""Learning curve on Dice: train on growing fractions of the training split, score, fit.

The decoder is trained on a frozen encoder (the cheapest strategy, whose encoder
features are cached once) on random subsets of the training split — stratified by the
images' labels where the upload has them — and always scored on the same held-out
images. The points are fitted with the saturating power law of
:func:`engines.learning_curve.fit_power_law` (Figueroa et al. 2012; Hestness et al.
2017), Dice in place of accuracy, when there are at least three distinct sizes.

Limits: the curve describes the frozen-encoder strategy; fine-tuning usually lies
above it. The fit's intervals come from the residual bootstrap only; the held-out
set's own sampling noise is in the Dice intervals of the experiments, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.learning_curve import fit_power_law
from engines.progress import CancelToken, Deadline, Progress, ProgressCallback, ignore_progress
from engines.segmentation.config import SegmentationConfig
from engines.segmentation.data import PairArrays
from engines.segmentation.evaluate import predict_native
from engines.segmentation.scores import segmentation_scores
from engines.segmentation.train import cached_levels, train_segmentation


def subset_indices(
    idx: np.ndarray,
    labels: Sequence[str | None],
    fraction: float,
    min_images: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """A random ``fraction`` of ``idx``, stratified by label, at least ``min_images``.

    Args:
        idx: Candidate rows.
        labels: Label of every row of the full array (None for unlabeled).
        fraction: Share to keep, in (0, 1].
        min_images: Least rows kept (all when fewer exist).
        rng: Random generator.

    Returns:
        Sorted rows.

    """
    if fraction >= 1.0:
        return np.sort(idx)
    groups: dict[str | None, list[int]] = {}
    for i in idx:
        groups.setdefault(labels[int(i)], []).append(int(i))
    chosen: list[int] = []
    for members in groups.values():
        take = int(round(fraction * len(members)))
        if take:
            chosen.extend(rng.choice(members, size=take, replace=False).tolist())
    if len(chosen) < min(min_images, idx.size):
        rest = np.setdiff1d(idx, chosen)
        extra = rng.choice(rest, size=min(min_images, idx.size) - len(chosen), replace=False)
        chosen.extend(extra.tolist())
    return np.sort(np.asarray(chosen, dtype=int))


def dice_learning_curve(
    encoder: nn.Module,
    data_cfg: dict[str, Any],
    train_pairs: PairArrays,
    fit_idx: np.ndarray,
    stop_idx: np.ndarray,
    val_pairs: PairArrays,
    class_names: Sequence[str],
    config: SegmentationConfig,
    *,
    device: torch.device,
    budget_seconds: float | None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    cache: dict[Any, list[torch.Tensor]] | None = None,
    full_point: dict[str, Any] | None = None,
    epochs: int | None = None,
    epoch_seconds: float | None = None,
    eval_seconds: float | None = None,
    views: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Measure Dice at growing training-set sizes and fit a power law to it.

    Args:
        encoder: Pretrained features-only encoder.
        data_cfg: Its preprocessing.
        train_pairs: Decoded training pairs.
        fit_idx: Rows that may train.
        stop_idx: Rows that judge early stopping.
        val_pairs: Held-out pairs (decoded with ``native=True``).
        class_names: Class names, background first.
        config: Run settings (``curve_fractions``, ``curve_repeats``, seed...).
        device: Where to train.
        budget_seconds: Budget of the whole curve; points that do not fit are left out.
        progress: Progress callback.
        cancel: Cancellation token.
        cache: Shared frozen-feature cache.
        full_point: The frozen-encoder experiment's ``{"n", "dice", "iou"}`` on the whole
            training split, reused as the fraction-1 point (same settings).
        epochs: Epochs of every point (the frozen-encoder experiment's, so that the
            points are comparable); None: ``config.max_epochs``.
        epoch_seconds: Measured seconds of one epoch on the whole training split; with
            ``eval_seconds`` it predicts each point's cost, and points that would not
            fit in the budget are not started.
        eval_seconds: Measured seconds to score the held-out set.
        views: Training views of the frozen-feature cache (default: the config's).

    Returns:
        ``{"metric": "dice", "strategy": "frozen_encoder", "points": [{fraction, n,
        repeat, dice, iou, epochs, stopped_by, seconds, reused}], "summary": [{n, mean,
        std, count}] (points cut by the budget left out), "epochs", "n_val",
        "fit" (:meth:`engines.learning_curve.PowerLawFit.to_dict`, or None),
        "reason" (why there is no fit), "notes"}``.

    """
    deadline = Deadline(budget_seconds)
    labels = [r.label for r in train_pairs.records]
    n_classes = len(class_names)
    rng = np.random.default_rng(config.seed + 1)
    fractions = sorted(set(config.curve_fractions))
    # Every size once before any repeat: a short budget still gets the most sizes.
    jobs = [(f, r) for r in range(config.curve_repeats) for f in fractions if r == 0 or f < 1.0]
    points: list[dict[str, Any]] = []
    notes: list[str] = []
    n_epochs = int(epochs or config.max_epochs)
    for done, (fraction, repeat) in enumerate(jobs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if fraction >= 1.0 and full_point is not None:
            points.append(
                {
                    "fraction": 1.0,
                    "n": int(full_point["n"]),
                    "repeat": 0,
                    "dice": full_point["dice"],
                    "iou": full_point["iou"],
                    "epochs": full_point.get("epochs"),
                    "stopped_by": full_point.get("stopped_by"),
                    "seconds": None,
                    "reused": True,
                }
            )
            continue
        if epoch_seconds is not None:
            estimate = fraction * epoch_seconds * n_epochs + (eval_seconds or 0.0)
            if estimate > deadline.remaining:
                notes.append(
                    f"{len(jobs) - done} of {len(jobs)} points were not run: the "
                    f"next needed about {estimate:.0f} s, {max(deadline.remaining, 0):.0f}"
                    " s were left."
                )
                break
        elif budget_seconds is not None and deadline.remaining < 1.0:
            notes.append(
                f"{len(jobs) - done} of {len(jobs)} points were not run: the budget was spent."
            )
            break
        sub = subset_indices(fit_idx, labels, fraction, 2, rng)
        run_cfg = replace(config, seed=config.seed + 97 * repeat + 1, max_epochs=n_epochs)
        trained = train_segmentation(
            encoder,
            data_cfg,
            train_pairs,
            sub,
            stop_idx,
            n_classes,
            "frozen_encoder",
            run_cfg,
            device=device,
            budget_seconds=max(deadline.remaining, 0.0) if budget_seconds is not None else None,
            cancel=cancel,
            cache=cache,
            stage="learning_curve",
            views=views,
        )
        val_levels = cached_levels(
            encoder, data_cfg, val_pairs, ["identity"], None, device, cache, cancel=cancel
        )
        ev = predict_native(
            trained.net,
            val_pairs,
            data_cfg,
            n_classes,
            device=device,
            batch_size=config.batch_size,
            cancel=cancel,
            levels=val_levels,
            stop_stage=None,
        )
        scores = segmentation_scores(ev.counts, ev.n_valid, class_names, n_boot=1)
        dice, iou = scores["dice"]["value"], scores["iou"]["value"]
        points.append(
            {
                "fraction": fraction,
                "n": int(sub.size),
                "repeat": repeat,
                "dice": dice,
                "iou": iou,
                "epochs": trained.epochs,
                "stopped_by": trained.stopped_by,
                "seconds": round(trained.seconds + ev.seconds, 3),
                "reused": False,
            }
        )
        progress(
            Progress(
                "learning_curve",
                (done + 1) / len(jobs),
                f"Trained on {sub.size} images ({fraction:.0%}): Dice "
                f"{dice if dice is not None else float('nan'):.3f}",
                metric={"dice": dice if dice is not None else float("nan")},
            )
        )
    usable = [p for p in points if p["dice"] is not None and p["stopped_by"] != "budget"]
    if len(usable) < len(points):
        notes.append(
            "Points without a Dice (no foreground) or cut short by the budget are "
            "left out of the fit."
        )
    n = np.array([p["n"] for p in usable], dtype=float)
    y = np.array([p["dice"] for p in usable], dtype=float)
    summary = []
    for size in np.unique(n):
        vals = y[n == size]
        summary.append(
            {
                "n": int(size),
                "mean": float(vals.mean()),
                "std": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
                "count": int(vals.size),
            }
        )
    out: dict[str, Any] = {
        "metric": "dice",
        "strategy": "frozen_encoder",
        "points": points,
        "summary": summary,
        "epochs": n_epochs,
        "n_val": len(val_pairs),
        "fit": None,
        "reason": None,
        "notes": notes,
    }
    if np.unique(n).size < 3:
        out["reason"] = "Fewer than three training-set sizes were measured: no extrapolation."
        return out
    try:
        fit = fit_power_law(n, y, n_boot=500, seed=config.seed)
    except ValueError as exc:
        out["reason"] = f"The power law could not be fitted: {exc}"
        return out
    out["fit"] = fit.to_dict(multiples=(2.0, 10.0))
    out["fit"]["model"] = "dice(n) = a - b * n^(-c)"
    return out
