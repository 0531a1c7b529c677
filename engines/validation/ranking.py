"""Which pretrained backbone fits the sample best: transferability scores, confirmed.

Transferability scores say, without training, how well a backbone's frozen features
will transfer: LogME (You et al., ICML 2021), H-score (Bao et al., ICIP 2019) and
N-LEEP (Li et al., CVPR 2021). Each backbone's score is then confirmed by the linear
probe on the same split, which the cached features make nearly free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.backbones import (
    BackboneUnavailable,
    available_backbones,
    create_backbone,
    data_config,
)
from engines.deployment import count_flops
from engines.features import (
    FeatureSet,
    extract_features,
    planned_runtime,
    uncached,
    with_resize_mode,
)
from engines.linear_probe import fit_linear_probe
from engines.metrics import wilson_interval
from engines.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from engines.results.base import message
from engines.transferability import rank_backbones, transferability_scores
from engines.validation.config import LabeledSplit, ValidationConfig


@dataclass
class Candidate:
    """One backbone's features on the sample, and what they cost."""

    name: str
    model: nn.Module
    data_cfg: dict[str, Any]
    features: FeatureSet
    flops_per_image: int
    load_seconds: float


def build_backbone(name: str, device: torch.device) -> nn.Module:
    """The pretrained backbone on ``device``, in eval mode and channels-last layout."""
    model = create_backbone(name)
    return model.to(device).eval().to(memory_format=torch.channels_last)


def load_candidate(
    name: str,
    paths: list,
    config: ValidationConfig,
    device: torch.device,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    resize_mode: str = "crop",
    model: nn.Module | None = None,
    flops: int | None = None,
) -> Candidate:
    """Build a backbone and compute (or read from the cache) its features on the sample.

    Args:
        name: Backbone name.
        paths: Every image of the split (training first, then held-out).
        config: Run settings (cache, batch size).
        device: Where to run.
        progress: Progress callback.
        cancel: Cancellation token.
        resize_mode: "crop" or "squash" (resolved by the caller for the whole run).
        model: The backbone already built on ``device`` (None: built here).
        flops: Its FLOPs per image, when counted already.

    Returns:
        The :class:`Candidate`.

    Raises:
        engines.backbones.BackboneUnavailable: The backbone cannot be built here.

    """
    t0 = time.monotonic()
    if model is None:
        model = build_backbone(name, device)
    load_seconds = time.monotonic() - t0
    cfg = with_resize_mode(data_config(model), resize_mode, paths)
    if flops is None:
        flops = count_flops(model, cfg["input_size"], device)
    feats = extract_features(
        model,
        paths,
        cfg,
        device=device,
        model_key=name,
        cache_dir=config.cache_dir,
        batch_size=config.batch_size,
        progress=progress,
        cancel=cancel,
        stage=f"features:{name}",
    )
    return Candidate(name, model, cfg, feats, flops, load_seconds)


# Images in each timed batch of a comparison backbone's real extraction (two batches).
MEASURE_IMAGES = 16


@dataclass(frozen=True)
class FeatureCost:
    """What featurizing the sample with one backbone costs, timed on its real extraction.

    Attributes:
        setup: Seconds before the first image of the full extraction (opening the
            runtime; an export kept in the cache is not repeated).
        per_image: Decode and forward seconds per image, from the timed batches.
        remaining: Images still to featurize after the measurement (the measured
            ones, and any featurized by an earlier run, are read from the cache).
        timed: Images the rate was timed on.

    """

    setup: float
    per_image: float
    remaining: int
    timed: int = 0

    @property
    def seconds(self) -> float:
        """Predicted seconds of the full extraction."""
        return self.setup + self.remaining * self.per_image


def measure_feature_cost(
    model: nn.Module,
    name: str,
    cfg: dict[str, Any],
    paths: list,
    config: ValidationConfig,
    device: torch.device,
    clock: Callable[[], float] = time.monotonic,
) -> FeatureCost:
    """Time a backbone's real feature extraction on two batches of the sample's images.

    The images timed are ones not in the feature cache; they go through the same
    decode, runtime (ONNX Runtime on the CPU for a large enough set, exported here) and
    cache as the full extraction, so what is measured is the real step, and the full
    extraction then reads them from the cache.

    Args:
        model: The backbone, in eval mode on ``device``.
        name: Its name (the cache key).
        cfg: Its preprocessing.
        paths: Every image of the split.
        config: Run settings (cache folder).
        device: Where it runs.
        clock: Monotonic clock.

    Returns:
        The :class:`FeatureCost`.

    """
    todo = uncached(paths, name, cfg, config.cache_dir)
    timed = todo[: 2 * MEASURE_IMAGES]
    if not timed:
        return FeatureCost(0.0, 0.0, 0, 0)
    marks: list[float] = []
    start = clock()
    feats = extract_features(
        model,
        timed,
        cfg,
        device=device,
        model_key=name,
        cache_dir=config.cache_dir,
        batch_size=MEASURE_IMAGES,
        progress=lambda _p: marks.append(clock()),
        runtime=planned_runtime(device, len(todo)),
        clock=clock,
    )
    # Both batches, the runtime's first call included: the second alone reads too fast,
    # its images having been decoded while the first ran.
    per_image = (marks[-1] - start - feats.setup_seconds) / len(timed)
    if config.cache_dir is None:  # nothing is kept: the full extraction redoes it all
        return FeatureCost(feats.setup_seconds, max(per_image, 0.0), len(todo), len(timed))
    setup = feats.setup_seconds - feats.export_seconds
    return FeatureCost(max(setup, 0.0), max(per_image, 0.0), len(todo) - len(timed), len(timed))


def comparison_names(config: ValidationConfig) -> list[str]:
    """Backbones to compare against the first one (bundled and available by default)."""
    if config.compare_backbones is not None:
        names = list(config.compare_backbones)
    else:
        names = [info.name for info in available_backbones()]
    return [n for n in names if n != config.backbone]


def probe_accuracy(candidate: Candidate, split: LabeledSplit, seed: int) -> dict[str, Any]:
    """Held-out linear-probe accuracy of one candidate, with its Wilson interval."""
    n_train = len(split.train_paths)
    x = candidate.features.features
    y_train, y_val = np.asarray(split.train_labels), np.asarray(split.val_labels)
    probe = fit_linear_probe(
        x[:n_train], y_train, seed=seed, classes=np.arange(len(split.class_names))
    )
    pred = probe.predict_proba(x[n_train:]).argmax(axis=1)
    correct = int((pred == y_val).sum())
    low, high = wilson_interval(correct, len(y_val))
    return {"value": correct / len(y_val), "ci_low": low, "ci_high": high, "method": "wilson"}


def rank_candidates(
    candidates: list[Candidate],
    split: LabeledSplit,
    seed: int,
) -> list[dict[str, Any]]:
    """Rank backbones by transferability and confirm each with its linear probe.

    Args:
        candidates: Backbones with features on the same images.
        split: The split (labels; the probe trains on its training side).
        seed: Seed of N-LEEP and the probes.

    Returns:
        Best first: ``{"backbone", "rank", "mean_rank", "ranks", "scores",
        "agree_on_top", "shuffled_logme", "linear_probe_accuracy", "flops_per_image",
        "feature_dim", "images_per_second", "confirmed"}``; ``confirmed`` says whether
        the top-ranked backbone also has the best probe accuracy.

    """
    labels = np.concatenate([np.asarray(split.train_labels), np.asarray(split.val_labels)])
    scores: dict[str, dict[str, float]] = {}
    extra: dict[str, dict[str, Any]] = {}
    for cand in candidates:
        # The scores read labels of every image: they use no held-out prediction.
        t = transferability_scores(cand.features.features, labels, seed=seed)
        scores[cand.name] = t["scores"]
        extra[cand.name] = {
            "shuffled_logme": t["logme_shuffled"],
            "linear_probe_accuracy": probe_accuracy(cand, split, seed),
            "flops_per_image": cand.flops_per_image,
            "feature_dim": int(cand.features.features.shape[1]),
            "images_per_second": round(cand.features.images_per_second, 2),
        }
    ranking = rank_backbones(scores)
    best_probe = best_by_probe(extra)
    for row in ranking:
        row.update(extra[row["backbone"]])
        row["confirmed"] = row["rank"] == 1 and (
            extra[best_probe]["linear_probe_accuracy"]["value"]
            <= row["linear_probe_accuracy"]["value"]
        )
    return ranking


def best_by_probe(rows: dict[str, dict[str, Any]]) -> str:
    """Backbone with the best probe accuracy; the cheaper one when accuracies tie."""
    return max(
        rows,
        key=lambda b: (rows[b]["linear_probe_accuracy"]["value"], -rows[b]["flops_per_image"]),
    )


def gather_candidates(
    first: Candidate,
    split: LabeledSplit,
    config: ValidationConfig,
    device: torch.device,
    seconds_available: float,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    log: Callable[[str, dict[str, Any]], None],
    resize_mode: str = "crop",
    stages: list[dict[str, Any]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Candidate]:
    """Load comparison backbones while their measured cost fits the time given.

    Each backbone's extraction is first timed on two batches of the sample's own images
    (:func:`measure_feature_cost`); it runs on the whole sample only when the cost
    predicted from that fits what is left.

    Args:
        first: The backbone already measured.
        split: The split (its images are featurized).
        config: Run settings.
        device: Where to run.
        seconds_available: Time this step may use.
        progress: Progress callback.
        cancel: Cancellation token.
        log: Receives, for each backbone skipped, an English sentence saying why and
            its code for the locale files.
        resize_mode: "crop" or "squash", as for the first backbone.
        stages: Receives ``{"stage", "predicted_seconds", "actual_seconds"}`` for each
            measurement (not predicted) and each backbone featurized.
        clock: Monotonic clock.

    Returns:
        ``first`` followed by every comparison backbone that was measured.

    """
    paths = list(split.train_paths) + list(split.val_paths)
    out = [first]
    start = clock()
    for name in comparison_names(config):
        if seconds_available - (clock() - start) <= 0:
            log(
                f"{name} was not compared: no time of the budget was left for the comparison.",
                message("backbone_not_compared_no_time", backbone=name),
            )
            continue
        t0 = clock()
        try:
            model = build_backbone(name, device)
        except BackboneUnavailable as exc:
            log(
                f"{name} was not compared: {exc}",
                message("backbone_not_compared_unavailable", backbone=name, error=str(exc)),
            )
            continue
        cfg = with_resize_mode(data_config(model), resize_mode, paths)
        flops = count_flops(model, cfg["input_size"], device)
        cost = measure_feature_cost(model, name, cfg, paths, config, device, clock)
        estimate = cost.seconds
        if stages is not None:
            stages.append(
                {
                    "stage": f"cost_measurement:features:{name}",
                    "predicted_seconds": None,
                    "actual_seconds": round(clock() - t0, 2),
                }
            )
        left = seconds_available - (clock() - start)
        if estimate > left:
            del model
            log(
                f"{name} was not compared: its features would take about {estimate:.0f} s "
                f"(timed on {cost.timed} of these images) and {max(left, 0):.0f} s of "
                "the budget were left for the comparison.",
                message(
                    "backbone_not_compared_budget",
                    backbone=name,
                    needed_s=round(float(estimate), 1),
                    left_s=round(float(max(left, 0)), 1),
                    timed_images=cost.timed,
                ),
            )
            continue
        progress(Progress(f"features:{name}", 0.0, f"Features of {name} for the ranking"))
        t0 = clock()
        out.append(
            load_candidate(name, paths, config, device, progress, cancel, resize_mode, model, flops)
        )
        if stages is not None:
            stages.append(
                {
                    "stage": f"features:{name}",
                    "predicted_seconds": round(estimate, 2),
                    "actual_seconds": round(clock() - t0, 2),
                }
            )
    return out
