"""Predicting held-out masks and scoring them at each image's own resolution.

The network sees a square, resized copy of each image; its class logits are resized
back (bilinear) to the image's displayed size before the arg-max, so Dice and IoU are
measured against the masks exactly as the client drew them, thin structures included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engines.progress import CancelToken
from engines.segmentation.data import PairArrays, normalise
from engines.segmentation.model import SegmentationNet
from engines.segmentation.scores import image_counts
from engines.segmentation.train import forward_from_cache


@dataclass
class Evaluation:
    """Predictions and pixel counts of a held-out set.

    Attributes:
        predictions: Predicted class map of each image, at its displayed resolution.
        counts: ``(n, n_classes, 3)`` pixel counts (see
            :func:`engines.segmentation.scores.image_counts`).
        n_valid: Scored pixels of each image.
        seconds: Time spent predicting and counting.
        images_per_second: Prediction speed (preprocessed images to class maps).

    """

    predictions: list[np.ndarray]
    counts: np.ndarray
    n_valid: np.ndarray
    seconds: float
    images_per_second: float


def predict_native(
    net: nn.Module,
    pairs: PairArrays,
    data_cfg: dict[str, Any],
    n_classes: int,
    *,
    device: torch.device,
    batch_size: int = 8,
    cancel: CancelToken | None = None,
    levels: list[torch.Tensor] | None = None,
    stop_stage: int | None = None,
) -> Evaluation:
    """Predict every held-out image and count pixels against its native-size mask.

    Args:
        net: The trained network (eval mode is set here).
        pairs: Held-out pairs decoded with ``native=True``.
        data_cfg: Preprocessing of the encoder's weights.
        n_classes: Classes, background included.
        device: Where to run.
        batch_size: Images per forward pass.
        cancel: Cancellation token, checked every batch.
        levels: Cached frozen-part activations of ``pairs`` (one view, from
            :func:`engines.segmentation.train.cached_levels`); the network then runs
            only its trainable part on them.
        stop_stage: Which activations ``levels`` holds (see
            :func:`engines.segmentation.train.forward_from_cache`).

    Returns:
        :class:`Evaluation`.

    Raises:
        ValueError: If the pairs carry no native-size masks.

    """
    if len(pairs) and not pairs.native_masks:
        raise ValueError("Decode the held-out pairs with native=True to score them.")
    start = time.monotonic()
    net.eval()
    preds: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    valid: list[int] = []
    with torch.inference_mode():
        for k in range(0, len(pairs), batch_size):
            if cancel is not None:
                cancel.raise_if_cancelled()
            size = tuple(pairs.images.shape[1:3])
            if levels is not None:
                inputs = [lvl[k : k + batch_size].float().to(device) for lvl in levels]
                logits = forward_from_cache(
                    cast(SegmentationNet, net), inputs, stop_stage, size
                ).float()
            else:
                x = normalise(
                    pairs.images[k : k + batch_size], data_cfg["mean"], data_cfg["std"]
                ).to(device)
                logits = net(x).float()
            for j in range(logits.shape[0]):
                truth = pairs.native_masks[k + j]
                up = F.interpolate(
                    logits[j : j + 1], size=truth.shape, mode="bilinear", align_corners=False
                )
                pred = up.argmax(1)[0].to("cpu", torch.uint8).numpy()
                counts, n_valid = image_counts(pred, truth, n_classes)
                preds.append(pred)
                rows.append(counts)
                valid.append(n_valid)
    seconds = time.monotonic() - start
    counts_arr = np.stack(rows) if rows else np.zeros((0, n_classes, 3), np.int64)
    return Evaluation(
        predictions=preds,
        counts=counts_arr,
        n_valid=np.asarray(valid, dtype=np.int64),
        seconds=round(seconds, 3),
        images_per_second=round(len(pairs) / seconds, 2) if seconds > 0 else 0.0,
    )


def per_image_foreground_dice(counts: np.ndarray, background_index: int = 0) -> np.ndarray:
    """Foreground Dice of each image; NaN when neither truth nor prediction has foreground."""
    c = np.delete(counts, background_index, axis=1).astype(float)
    inter, total = c[:, :, 0].sum(1), c[:, :, 1].sum(1) + c[:, :, 2].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * inter / total, np.nan)
