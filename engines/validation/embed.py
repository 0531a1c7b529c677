"""Pretrained features of a list of images, for checks that run before any split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.backbones import DEFAULT_BACKBONE, create_backbone, data_config
from engines.device import resolve_device
from engines.errors import EngineError
from engines.features import (
    FeatureSet,
    OnnxForward,
    extract_features,
    onnx_model_path,
    onnxruntime_available,
    with_resize_mode,
)
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


def prepare_backbone(
    backbone: str = DEFAULT_BACKBONE,
    device: str = "auto",
    cache_dir: str | Path | None = None,
) -> bool:
    """Export a backbone to ONNX into the feature cache ahead of the first run.

    On the CPU the features run on ONNX Runtime, and exporting the model costs about a
    second the first time (bench: 1.0-1.2 s for EfficientNet-Lite0 on 2 cores), a large
    part of a small sample's first evidence. Done while the consultant uploads, the
    first run opens the exported model instead, whatever the sample's size.

    Args:
        backbone: Backbone name.
        device: "auto", "cpu", "cuda" or "mps" (only the CPU uses the export).
        cache_dir: The feature cache the runs use (None: nothing to prepare).

    Returns:
        Whether an exported model is in the cache now (False on a GPU, without ONNX
        Runtime, without a cache folder, or when the export failed: the run then
        embeds with PyTorch as it would have).

    """
    if cache_dir is None or resolve_device(device).type != "cpu" or not onnxruntime_available():
        return False
    model = create_backbone(backbone).eval()
    size = data_config(model)["input_size"]
    path = onnx_model_path(model, size, backbone, cache_dir)
    if path is not None and not path.exists():
        try:
            OnnxForward(model, size, backbone, cache_dir)
        except EngineError:
            return False
    return path is not None and path.exists()


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
