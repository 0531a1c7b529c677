"""Pretrained features of a list of images, for checks that run before any split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.backbones import DEFAULT_BACKBONE, create_backbone, data_config
from engines.device import resolve_device
from engines.features import FeatureSet, extract_features, with_resize_mode
from engines.progress import CancelToken, ProgressCallback, ignore_progress
from engines.results.base import message
from engines.similarity import domain_similarity


def embed_images(
    paths: Sequence[Path],
    backbone: str = DEFAULT_BACKBONE,
    device: str = "auto",
    cache_dir: str | Path | None = None,
    batch_size: int = 32,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    resize_mode: str = "auto",
) -> FeatureSet:
    """Pooled features and ImageNet logits of images from a pretrained backbone.

    Shares the feature cache with the validation, so the images embedded here for the
    health check cost nothing when the validation reads them again.

    Args:
        paths: Image files.
        backbone: Backbone name (the bundled offline default unless given).
        device: "auto", "cpu", "cuda" or "mps".
        cache_dir: Feature cache directory (None: no cache).
        batch_size: Images per forward pass.
        progress: Progress callback.
        cancel: Cancellation token.
        resize_mode: "auto", "crop" or "squash" (see
            :func:`engines.features.with_resize_mode`); the validation's default is the
            same, so the features are read back from the cache.

    Returns:
        The features, in the order of ``paths``.

    """
    dev = resolve_device(device)
    model = create_backbone(backbone).to(dev).eval().to(memory_format=torch.channels_last)
    return extract_features(
        model,
        list(paths),
        with_resize_mode(data_config(model), resize_mode, paths),
        device=dev,
        model_key=backbone,
        cache_dir=cache_dir,
        batch_size=batch_size,
        progress=progress,
        cancel=cancel,
        stage="embed",
    )


def feature_record(feats: FeatureSet) -> dict[str, Any]:
    """What result.json says about a feature extraction."""
    return {
        "n_images": len(feats.features),
        "seconds": round(feats.seconds, 3),
        "images_per_second": round(feats.images_per_second, 2),
        "from_cache": feats.cached,
    }


def similarity_or_reason(
    logits: np.ndarray | None, features: np.ndarray, backbone: str, **evidence: Any
) -> dict[str, Any]:
    """Domain similarity, or ``{"call": None, "score": None, "reason"}`` when it cannot run.

    Args:
        logits: ImageNet logits of the images, or None.
        features: Their pooled features.
        backbone: Backbone that made both.
        **evidence: Further inputs of :func:`engines.similarity.domain_similarity`
            (labels, lp_accuracy, knn_accuracy, paths for the pixel signals).

    Returns:
        The similarity record.

    """
    try:
        return domain_similarity(logits, features, backbone=backbone, **evidence)
    except ValueError as exc:
        return {
            "call": None,
            "score": None,
            "reason": str(exc),
            "reason_code": message("similarity_not_measured", error=str(exc)),
        }
