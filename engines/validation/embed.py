"""Pretrained features of a list of images, for checks that run before any split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from engines.backbones import DEFAULT_BACKBONE, create_backbone, data_config
from engines.device import resolve_device
from engines.features import FeatureSet, extract_features
from engines.progress import CancelToken, ProgressCallback, ignore_progress


def embed_images(
    paths: Sequence[Path],
    backbone: str = DEFAULT_BACKBONE,
    device: str = "auto",
    cache_dir: Path | None = None,
    batch_size: int = 32,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
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

    Returns:
        The features, in the order of ``paths``.

    """
    dev = resolve_device(device)
    model = create_backbone(backbone).to(dev).eval().to(memory_format=torch.channels_last)
    return extract_features(
        model,
        list(paths),
        data_config(model),
        device=dev,
        model_key=backbone,
        cache_dir=cache_dir,
        batch_size=batch_size,
        progress=progress,
        cancel=cancel,
        stage="embed",
    )
