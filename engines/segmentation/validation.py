"""Quick segmentation validation on the client's sample: strategies, scores, curve, pictures.

One call measures, on the same train / held-out split, how well a pretrained encoder
with a light decoder segments the client's images under each transfer strategy
(frozen encoder, partial fine-tune, full fine-tune), with Dice and IoU per class and
their 95 % intervals, a learning curve on Dice, and held-out images drawn with their
true and predicted masks — all within a wall-clock budget, cancellable, reporting
progress. Nothing in the result is estimated without being measured here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from engines.device import describe_device, resolve_device
from engines.errors import EngineError
from engines.intake.records import ImageRecord
from engines.intake.split import stratified_split
from engines.progress import (
    CancelToken,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
)
from engines.results.base import message
from engines.segmentation.config import SegmentationConfig
from engines.segmentation.curve import dice_learning_curve
from engines.segmentation.data import decode_pairs
from engines.segmentation.evaluate import per_image_foreground_dice, predict_native
from engines.segmentation.masks import resolve_mask_encoding
from engines.segmentation.model import create_encoder, is_staged
from engines.segmentation.overlays import make_overlays
from engines.segmentation.scores import segmentation_scores
from engines.segmentation.train import cached_levels, train_segmentation, view_names

MIN_PAIRS = 6
STRATEGY_WEIGHTS = {"frozen_encoder": 0.25, "partial_finetune": 0.35, "full_finetune": 0.4}
"""Shares of the strategies' budget: fine-tuning more of the encoder costs more per epoch."""
_PASSES = {"frozen_encoder": 0.1, "partial_finetune": 2.0, "full_finetune": 3.0}
"""Cost of one training image per epoch, in encoder forward passes (backward ~ 2x)."""
_EVAL_PASSES = {"frozen_encoder": 0.1, "partial_finetune": 0.7, "full_finetune": 1.0}
"""Cost of scoring one held-out image, in encoder forward passes, when the frozen
features are cached (only the trainable part runs)."""


class SegmentationDataError(EngineError):
    """The sample cannot be used for a segmentation validation (the message says why)."""


def default_class_names(mask_spec: dict[str, Any]) -> list[str]:
    """Class names when the caller gives none: background, then one per class id."""
    if mask_spec["encoding"] == "binary":
        return ["background", "foreground"]
    return ["background"] + [f"class_{i}" for i in range(1, int(mask_spec["n_classes"]))]


def _early_stop_split(
    labels: Sequence[str | None], fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows and early-stopping rows, stratified by label; none when too few."""
    n = len(labels)
    if fraction <= 0 or n < 20:
        return np.arange(n), np.array([], dtype=int)
    rng = np.random.default_rng(seed)
    groups: dict[str | None, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    stop: list[int] = []
    for members in groups.values():
        k = int(round(len(members) * fraction))
        stop.extend(rng.permutation(members)[:k].tolist())
    if len(stop) < 4:
        return np.arange(n), np.array([], dtype=int)
    stop_arr = np.sort(np.asarray(stop, dtype=int))
    return np.setdiff1d(np.arange(n), stop_arr), stop_arr


def _seconds_per_forward(
    encoder: torch.nn.Module,
    data_cfg: dict[str, Any],
    images: np.ndarray,
    device: torch.device,
    batch_size: int,
) -> float:
    """Measure the encoder's inference time per image on a batch of the sample."""
    from engines.segmentation.data import normalise

    enc = encoder.to(device, memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
    x = normalise(
        images[: max(2, min(batch_size, images.shape[0]))], data_cfg["mean"], data_cfg["std"]
    ).to(device)
    with torch.inference_mode():
        enc(x[:1])  # warm-up (first call allocates)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.monotonic()
        enc(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return (time.monotonic() - t0) / x.shape[0]


def _minimum_seconds(
    strategy: str,
    per_image: float,
    n_train: int,
    n_cache: int,
    n_val: int,
    n_views: int,
    have_pyramid: bool,
) -> float:
    """Rough seconds for the least useful run of a strategy: its cache and one epoch."""
    cache = 0.0
    if strategy in ("frozen_encoder", "partial_finetune") and not have_pyramid:
        cache = per_image * n_cache * n_views
    evaluate = _eval_passes(strategy, have_pyramid) * n_val
    return cache + per_image * (_PASSES[strategy] * n_train + evaluate)


def _eval_passes(strategy: str, have_pyramid: bool) -> float:
    return _EVAL_PASSES[strategy] if have_pyramid else 1.0


def _by_label(
    ev: Any, records: Sequence[ImageRecord], names: Sequence[str], config: SegmentationConfig
) -> list[dict[str, Any]]:
    """Scores of the held-out images grouped by their label (e.g. defect type)."""
    labels = [r.label for r in records]
    out = []
    for label in sorted({lab for lab in labels if lab is not None}):
        rows = np.asarray([i for i, lab in enumerate(labels) if lab == label])
        sub = segmentation_scores(
            ev.counts[rows], ev.n_valid[rows], names, n_boot=config.n_boot, seed=config.seed
        )
        out.append(
            {
                "label": label,
                "n_images": int(rows.size),
                "dice": sub["dice"],
                "iou": sub["iou"],
                "dice_per_image": sub["dice_per_image"],
            }
        )
    return out


class _Stages:
    """Maps each stage's own 0-1 progress onto the run's overall 0-1 progress."""

    def __init__(self, weights: dict[str, float], callback: ProgressCallback) -> None:
        total = sum(weights.values()) or 1.0
        self.spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, w in weights.items():
            self.spans[name] = (start, start + w / total)
            start += w / total
        self.callback = callback

    def report(self, name: str, fraction: float, message: str, **kw: Any) -> None:
        lo, hi = self.spans.get(name, (0.0, 1.0))
        self.callback(Progress(name, lo + (hi - lo) * min(max(fraction, 0.0), 1.0), message, **kw))

    def relay(self, name: str) -> ProgressCallback:
        def forward(p: Progress) -> None:
            self.report(name, p.fraction, p.message, eta_seconds=p.eta_seconds, metric=p.metric)

        return forward


def _relpath(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return Path(path).name


def _common_root(records: Sequence[ImageRecord]) -> Path | None:
    import os

    try:
        return Path(os.path.commonpath([str(r.path.parent) for r in records]))
    except ValueError:
        return None


def run_segmentation_validation(
    records: Sequence[ImageRecord],
    class_names: Sequence[str] | None = None,
    config: SegmentationConfig | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Measure segmentation on the sample with each strategy, within the budget.

    Args:
        records: Scanned records (:class:`engines.intake.ImageRecord`); those with a
            ``mask_path`` are used. Their ``split`` folders are honoured; otherwise a
            split stratified by ``label`` (e.g. defect type) holds out
            ``config.val_fraction``.
        class_names: One name per class id, background (id 0) first; None names them
            from the masks ("background", "foreground" for binary masks).
        config: Settings and budget (defaults: :class:`SegmentationConfig`).
        progress: Called with :class:`engines.progress.Progress` (overall fraction).
        cancel: Cancellation token; :class:`engines.progress.Cancelled` is raised.

    Returns:
        JSON-ready result: ``task``, ``classes``, ``mask_encoding``, ``split``,
        ``backbone``, ``experiments`` (each with ``id``, ``strategy``, ``backbone``,
        ``metrics`` — ``dice`` / ``iou`` / ``dice_per_image`` as ``{value, ci_low,
        ci_high, method}``, ``per_class``, ``baseline``, ``by_image_label`` (the same
        scores per image label, e.g. defect type) — ``epochs``, ``history``,
        ``seconds``...), ``best_experiment``, ``skipped_strategies``,
        ``learning_curve``, ``overlays``, ``device``, ``config``, ``timings``, ``notes``.

    Raises:
        SegmentationDataError: Too few image/mask pairs, or a split that leaves no
            training or held-out images.
        MaskError: Masks that cannot be read or do not fit ``class_names``.
        BackboneUnavailable: The encoder cannot be built here.
        Cancelled: The caller cancelled.

    """
    t_start = time.monotonic()
    config = config or SegmentationConfig()
    deadline = Deadline(config.budget_seconds)
    weights = {"prepare": 0.5}
    weights.update({s: 1.0 for s in config.strategies})
    if config.learning_curve:
        weights["learning_curve"] = 1.0
    weights["overlays"] = 0.04
    stages = _Stages(weights, progress)
    notes: list[str] = []
    note_codes: list[dict[str, Any]] = []

    paired = [r for r in records if r.mask_path is not None]
    if len(paired) < MIN_PAIRS:
        raise SegmentationDataError(
            f"Only {len(paired)} images have a mask; segmentation validation needs at least "
            f"{MIN_PAIRS}. Pair each image with its mask (same file name, in a masks/ folder)."
        )
    if len(paired) < len(records):
        notes.append(f"{len(records) - len(paired)} images without a mask were left out.")
        note_codes.append(message("seg_images_without_mask", n=len(records) - len(paired)))
    stages.report("prepare", 0.0, "Reading the masks")
    spec = resolve_mask_encoding(
        [cast(Path, r.mask_path) for r in paired],
        len(class_names) if class_names is not None else None,
        config.mask_encoding,
    )
    names = list(class_names) if class_names is not None else default_class_names(spec)
    train_recs, val_recs = stratified_split(paired, config.val_fraction, seed=config.seed)
    if len(train_recs) < 2 or not val_recs:
        raise SegmentationDataError(
            f"The split leaves {len(train_recs)} training and {len(val_recs)} held-out "
            "images; upload more image/mask pairs or put some in a val/ folder."
        )
    split_source = (
        "upload split folders"
        if {r.split for r in paired} & {"val", "test"} and "train" in {r.split for r in paired}
        else "stratified by label"
    )

    device = resolve_device(config.device)
    t0 = time.monotonic()
    stages.report("prepare", 0.2, f"Loading the {config.backbone} encoder")
    encoder, data_cfg = create_encoder(config.backbone, pretrained=config.pretrained)
    load_seconds = time.monotonic() - t0
    t0 = time.monotonic()
    stages.report("prepare", 0.4, f"Decoding {len(paired)} images and masks")
    train_pairs = decode_pairs(train_recs, config.image_size, spec)
    if cancel is not None:
        cancel.raise_if_cancelled()
    val_pairs = decode_pairs(val_recs, config.image_size, spec, native=True)
    decode_seconds = time.monotonic() - t0
    fit_idx, stop_idx = _early_stop_split(
        [r.label for r in train_recs], config.early_stop_fraction, config.seed
    )
    root = _common_root(paired)
    stages.report("prepare", 0.5, "Images and masks decoded")

    reserve = (
        config.curve_budget_share * config.budget_seconds
        if config.learning_curve and config.budget_seconds is not None
        else 0.0
    )
    per_image = _seconds_per_forward(
        encoder, data_cfg, train_pairs.images, device, config.batch_size
    )
    views = view_names(config)
    cache: dict[Any, list[torch.Tensor]] = {}
    t0 = time.monotonic()
    if "frozen_encoder" in config.strategies or (
        "partial_finetune" in config.strategies and is_staged(encoder)
    ):
        # The frozen encoder's features serve the frozen strategy, the partial fine-tune
        # (when its frozen part ends on a pyramid level) and every learning-curve point:
        # computed once here, for the training views and the held-out images.
        n_cache = len(train_pairs) * len(views) + len(val_pairs)
        if (
            config.budget_seconds is not None
            and len(views) > 1
            and per_image * n_cache > 0.5 * (deadline.remaining - reserve)
        ):
            views = ["identity"]
            notes.append(
                "Mirror images were left out of the frozen-feature cache: the "
                "budget could not pay for computing them."
            )
            note_codes.append(message("seg_mirrors_left_out"))
        stages.report("prepare", 0.6, f"Computing frozen features of {n_cache} images")
        cached_levels(encoder, data_cfg, train_pairs, views, None, device, cache, cancel=cancel)
        cached_levels(
            encoder, data_cfg, val_pairs, ["identity"], None, device, cache, cancel=cancel
        )
    cache_seconds = time.monotonic() - t0
    stages.report("prepare", 1.0, "Ready to train")
    experiments: list[dict[str, Any]] = []
    evaluations: dict[str, Any] = {}
    skipped: list[dict[str, Any]] = []
    for i, strategy in enumerate(config.strategies):
        if cancel is not None:
            cancel.raise_if_cancelled()
        budget = None
        if config.budget_seconds is not None:
            left = config.strategies[i:]
            share = STRATEGY_WEIGHTS[strategy] / sum(STRATEGY_WEIGHTS[s] for s in left)
            budget = max(0.0, deadline.remaining - reserve) * share
            need = _minimum_seconds(
                strategy,
                per_image,
                len(fit_idx),
                len(train_pairs),
                len(val_pairs),
                len(views),
                bool(cache),
            )
            if need > budget and experiments:
                skipped.append(
                    {
                        "strategy": strategy,
                        "reason": (
                            f"not run: one epoch needs about {need:.0f} s on this "
                            f"device and {budget:.0f} s of the budget were left"
                        ),
                        "reason_code": message(
                            "seg_strategy_skipped_budget",
                            needed_s=round(float(need), 1),
                            left_s=round(float(budget), 1),
                        ),
                        "estimated_seconds": round(need, 1),
                        "budget_seconds": round(budget, 1),
                    }
                )
                continue
        stages.report(strategy, 0.0, f"Training ({strategy.replace('_', ' ')})")
        eval_estimate = per_image * len(val_pairs) * _eval_passes(strategy, bool(cache))
        trained = train_segmentation(
            encoder,
            data_cfg,
            train_pairs,
            fit_idx,
            stop_idx,
            len(names),
            strategy,
            config,
            device=device,
            budget_seconds=None if budget is None else max(budget - eval_estimate, 0.0),
            progress=stages.relay(strategy),
            cancel=cancel,
            cache=cache,
            views=views,
        )
        if trained.stopped_by == "budget":
            trained.notes.append(
                f"Training was cut by the time budget after {trained.epochs} epoch(s): the "
                "score understates what this strategy reaches with more time."
            )
        val_levels = None
        if trained.cached_frozen_part:
            val_levels = cached_levels(
                encoder,
                data_cfg,
                val_pairs,
                ["identity"],
                trained.stop_stage,
                device,
                cache,
                cancel=cancel,
            )
        ev = predict_native(
            trained.net,
            val_pairs,
            data_cfg,
            len(names),
            device=device,
            batch_size=config.batch_size,
            cancel=cancel,
            levels=val_levels,
            stop_stage=trained.stop_stage,
        )
        metrics = segmentation_scores(
            ev.counts, ev.n_valid, names, n_boot=config.n_boot, seed=config.seed
        )
        metrics["by_image_label"] = _by_label(ev, val_pairs.records, names, config)
        exp_id = f"{strategy}:{config.backbone}"
        experiments.append(
            {
                "id": exp_id,
                "strategy": strategy,
                "backbone": config.backbone,
                "n_train": trained.n_train,
                "n_early_stop": trained.n_early_stop,
                "n_val": len(val_pairs),
                "metrics": metrics,
                "epochs": trained.epochs,
                "stopped_by": trained.stopped_by,
                "history": trained.history,
                "image_size": config.image_size,
                "frozen_stages": trained.frozen_stages,
                "cached_frozen_part": trained.cached_frozen_part,
                "trainable_parameters": trained.trainable_parameters,
                "seconds": round(trained.seconds + ev.seconds, 3),
                "seconds_breakdown": {"train": trained.seconds, "evaluate": ev.seconds},
                "prediction_images_per_second": ev.images_per_second,
                "notes": trained.notes,
            }
        )
        evaluations[exp_id] = ev
        dice = metrics["dice"]["value"]
        stages.report(
            strategy,
            1.0,
            f"{strategy.replace('_', ' ')}: Dice {dice if dice is not None else float('nan'):.3f}",
            metric={"dice": dice if dice is not None else float("nan")},
        )

    curve = None
    if config.learning_curve:
        frozen = next((e for e in experiments if e["strategy"] == "frozen_encoder"), None)
        full_point, epochs, epoch_seconds, eval_seconds = None, None, None, None
        if frozen is not None:
            full_point = {
                "n": frozen["n_train"],
                "dice": frozen["metrics"]["dice"]["value"],
                "iou": frozen["metrics"]["iou"]["value"],
                "epochs": frozen["epochs"],
                "stopped_by": frozen["stopped_by"],
            }
            epochs = frozen["epochs"]
            epoch_seconds = float(np.mean([h["seconds"] for h in frozen["history"]]))
            eval_seconds = frozen["seconds_breakdown"]["evaluate"]
        budget = deadline.remaining if config.budget_seconds is not None else None
        curve = dice_learning_curve(
            encoder,
            data_cfg,
            train_pairs,
            fit_idx,
            stop_idx,
            val_pairs,
            names,
            config,
            device=device,
            budget_seconds=budget,
            progress=stages.relay("learning_curve"),
            cancel=cancel,
            cache=cache,
            full_point=full_point,
            epochs=epochs,
            epoch_seconds=epoch_seconds,
            eval_seconds=eval_seconds,
            views=views,
        )

    overlays: list[dict[str, Any]] = []
    scored = [e for e in experiments if e["metrics"]["dice"]["value"] is not None]
    best = max(scored, key=lambda e: e["metrics"]["dice"]["value"]) if scored else None
    if best is not None and config.n_overlays:
        stages.report("overlays", 0.0, "Drawing held-out predictions")
        ev = evaluations[best["id"]]
        overlays = make_overlays(
            [r.path for r in val_pairs.records],
            [_relpath(r.path, root) for r in val_pairs.records],
            val_pairs.native_masks,
            ev.predictions,
            per_image_foreground_dice(ev.counts),
            config.n_overlays,
            output_dir=Path(config.output_dir) if config.output_dir else None,
            prefix=f"overlay_{best['strategy']}",
        )
        for o in overlays:
            o["experiment"] = best["id"]
    stages.report("overlays", 1.0, "Done")
    return {
        "task": "segmentation",
        "classes": names,
        "mask_encoding": spec,
        "split": {
            "n_train": len(fit_idx),
            "n_early_stop": len(stop_idx),
            "n_val": len(val_recs),
            "source": split_source,
        },
        "backbone": {
            "name": config.backbone,
            "source": str((getattr(encoder, "pretrained_cfg", {}) or {}).get("source", "timm"))
            if config.pretrained
            else "random init",
            "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in data_cfg.items()},
            "encoder_parameters": int(sum(p.numel() for p in encoder.parameters())),
            "load_seconds": round(load_seconds, 3),
        },
        "experiments": experiments,
        "best_experiment": best["id"] if best is not None else None,
        "skipped_strategies": skipped,
        "learning_curve": curve,
        "overlays": overlays,
        "device": describe_device(device),
        "config": config.to_dict(),
        "timings": {
            "encoder_load": round(load_seconds, 3),
            "decode": round(decode_seconds, 3),
            "frozen_features": round(cache_seconds, 3),
            "total": round(time.monotonic() - t_start, 3),
        },
        "notes": notes,
        "note_codes": note_codes,
    }
