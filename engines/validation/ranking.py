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
from engines.features import FeatureSet, extract_features, with_resize_mode
from engines.linear_probe import fit_linear_probe
from engines.metrics import wilson_interval
from engines.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from engines.results.base import message
from engines.transferability import rank_backbones, transferability_scores
from engines.validation.config import DECODE_SECONDS_PER_IMAGE, LabeledSplit, ValidationConfig


@dataclass
class Candidate:
    """One backbone's features on the sample, and what they cost."""

    name: str
    model: nn.Module
    data_cfg: dict[str, Any]
    features: FeatureSet
    flops_per_image: int
    load_seconds: float


def load_candidate(
    name: str,
    paths: list,
    config: ValidationConfig,
    device: torch.device,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    resize_mode: str = "crop",
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

    Returns:
        The :class:`Candidate`.

    Raises:
        engines.backbones.BackboneUnavailable: The backbone cannot be built here.

    """
    t0 = time.monotonic()
    model = create_backbone(name)
    model = model.to(device).eval().to(memory_format=torch.channels_last)
    load_seconds = time.monotonic() - t0
    cfg = with_resize_mode(data_config(model), resize_mode, paths)
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


def estimated_feature_seconds(
    reference: Candidate, reference_forward: float, flops: int, n_images: int
) -> float:
    """Seconds to extract features for ``n_images`` with a model of ``flops`` per image.

    Scales the reference backbone's measured forward time per image by the FLOP
    ratio, plus decoding.

    Args:
        reference: The backbone already measured.
        reference_forward: Its measured forward seconds per image.
        flops: FLOPs per image of the model to estimate.
        n_images: Images to featurize.

    Returns:
        Estimated seconds.

    """
    ratio = flops / max(reference.flops_per_image, 1)
    return (reference_forward * ratio + DECODE_SECONDS_PER_IMAGE) * n_images


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
    first_forward: float,
    split: LabeledSplit,
    config: ValidationConfig,
    device: torch.device,
    seconds_available: float,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    log: Callable[[str, dict[str, Any]], None],
    resize_mode: str = "crop",
    stages: list[dict[str, Any]] | None = None,
) -> list[Candidate]:
    """Load comparison backbones while their estimated cost fits the time given.

    Args:
        first: The backbone already measured.
        first_forward: Its measured forward seconds per image.
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
            backbone featurized.

    Returns:
        ``first`` followed by every comparison backbone that was measured.

    """
    paths = list(split.train_paths) + list(split.val_paths)
    out = [first]
    start = time.monotonic()
    for name in comparison_names(config):
        left = seconds_available - (time.monotonic() - start)
        try:
            model = create_backbone(name)
        except BackboneUnavailable as exc:
            log(
                f"{name} was not compared: {exc}",
                message("backbone_not_compared_unavailable", backbone=name, error=str(exc)),
            )
            continue
        cfg = data_config(model)
        flops = count_flops(model, cfg["input_size"], torch.device("cpu"))
        estimate = estimated_feature_seconds(first, first_forward, flops, len(paths))
        del model
        if estimate > left:
            log(
                f"{name} was not compared: its features would take about {estimate:.0f} s "
                f"and {max(left, 0):.0f} s of the budget were left for the comparison.",
                message(
                    "backbone_not_compared_budget",
                    backbone=name,
                    needed_s=round(float(estimate), 1),
                    left_s=round(float(max(left, 0)), 1),
                ),
            )
            continue
        progress(Progress(f"features:{name}", 0.0, f"Features of {name} for the ranking"))
        t0 = time.monotonic()
        out.append(load_candidate(name, paths, config, device, progress, cancel, resize_mode))
        if stages is not None:
            stages.append(
                {
                    "stage": f"features:{name}",
                    "predicted_seconds": round(estimate, 2),
                    "actual_seconds": round(time.monotonic() - t0, 2),
                }
            )
    return out
