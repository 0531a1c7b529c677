"""Pretrained features and ImageNet logits for a list of images, batched and cached.

Decoding runs in a thread pool (PIL releases the GIL while decoding and resizing) so
it overlaps with the forward passes. Features are cached on disk per backbone,
preprocessing and image content, so a second look at the same sample costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from engines.images import load_rgb
from engines.progress import CancelToken, Progress, ProgressCallback, ignore_progress

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


@dataclass
class FeatureSet:
    """Pooled features (n x d) and ImageNet logits (n x 1000) of a list of images."""

    features: np.ndarray
    logits: np.ndarray | None
    seconds: float
    images_per_second: float
    cached: int


def prepare_image(path: Path, cfg: dict[str, Any]) -> np.ndarray:
    """Decode an image and resize/center-crop it as the backbone was trained.

    Args:
        path: Image file.
        cfg: Output of :func:`engines.backbones.data_config`.

    Returns:
        uint8 array of shape (size, size, 3).

    """
    size = cfg["input_size"]
    scale_size = int(round(size / cfg["crop_pct"]))
    img = load_rgb(path)
    w, h = img.size
    ratio = scale_size / min(w, h)
    new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
    img = img.resize((new_w, new_h), _RESAMPLE.get(cfg["interpolation"], Image.BICUBIC))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.uint8)


def to_tensor_batch(arrays: Sequence[np.ndarray], cfg: dict[str, Any]) -> torch.Tensor:
    """Stack uint8 HWC arrays into a normalised float NCHW batch (channels_last)."""
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    return ((batch - mean) / std).contiguous(memory_format=torch.channels_last)


def file_digest(path: Path) -> str:
    """Content hash of a file (the cache key of its features)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """Features on disk, one small file per (backbone, preprocessing, image content)."""

    def __init__(self, root: Path, model_key: str, cfg: dict[str, Any]) -> None:
        tag = hashlib.blake2b(
            json.dumps([model_key, cfg], sort_keys=True, default=str).encode(), digest_size=8
        ).hexdigest()
        self.dir = Path(root) / f"{model_key}-{tag}"
        self.dir.mkdir(parents=True, exist_ok=True)

    def get(self, digest: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Return cached (feature, logits) for an image digest, or None."""
        path = self.dir / f"{digest}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                logits = data["logits"] if "logits" in data.files else None
                return data["feature"], logits
        except (OSError, ValueError, KeyError):
            return None  # a torn write: recompute

    def put(self, digest: str, feature: np.ndarray, logits: np.ndarray | None) -> None:
        """Store one image's feature (and logits) atomically."""
        tmp = self.dir / f".{digest}.tmp.npz"
        arrays = {"feature": feature} if logits is None else {"feature": feature, "logits": logits}
        np.savez(tmp, **arrays)
        tmp.replace(self.dir / f"{digest}.npz")


def _forward(
    model: nn.Module, batch: torch.Tensor, device: torch.device, with_logits: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    batch = batch.to(device, non_blocking=True)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        fmap = model.forward_features(batch)
        pooled = model.forward_head(fmap, pre_logits=True)
        logits = model.get_classifier()(pooled) if with_logits else None
    feats = pooled.float().cpu().numpy()
    return feats, (logits.float().cpu().numpy() if logits is not None else None)


def extract_features(
    model: nn.Module,
    paths: Sequence[Path],
    cfg: dict[str, Any],
    *,
    device: torch.device,
    model_key: str,
    cache_dir: Path | None = None,
    batch_size: int = 32,
    with_logits: bool = True,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    stage: str = "features",
) -> FeatureSet:
    """Compute pooled features (and ImageNet logits) for every image.

    Args:
        model: A timm model in eval mode, already on ``device``.
        paths: Images to embed, in order.
        cfg: Preprocessing, from :func:`engines.backbones.data_config`.
        device: Where the model runs.
        model_key: Name that identifies the weights (part of the cache key).
        cache_dir: Where to cache features; None disables caching.
        batch_size: Images per forward pass.
        with_logits: Also return the ImageNet classifier's logits.
        progress: Called after each batch.
        cancel: Checked between batches.
        stage: Stage name reported through ``progress``.

    Returns:
        The features in the order of ``paths``.

    """
    start = time.monotonic()
    n = len(paths)
    cache = FeatureCache(cache_dir, model_key, cfg) if cache_dir is not None else None
    digests = [file_digest(p) for p in paths] if cache is not None else [""] * n
    feats: list[np.ndarray | None] = [None] * n
    logits: list[np.ndarray | None] = [None] * n
    todo = []
    for i, digest in enumerate(digests):
        hit = cache.get(digest) if cache is not None else None
        if hit is not None and (hit[1] is not None or not with_logits):
            feats[i], logits[i] = hit
        else:
            todo.append(i)
    cached = n - len(todo)
    done = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        batches = [todo[k : k + batch_size] for k in range(0, len(todo), batch_size)]
        pending = pool.map(lambda idx: [prepare_image(paths[i], cfg) for i in idx], batches)
        for idx, arrays in zip(batches, pending, strict=True):
            if cancel is not None:
                cancel.raise_if_cancelled()
            f, lg = _forward(model, to_tensor_batch(arrays, cfg), device, with_logits)
            for row, i in enumerate(idx):
                feats[i] = f[row]
                logits[i] = lg[row] if lg is not None else None
                if cache is not None:
                    cache.put(digests[i], f[row], logits[i])
            done += len(idx)
            elapsed = time.monotonic() - start
            rate = done / elapsed if elapsed > 0 else 0.0
            progress(
                Progress(
                    stage,
                    (cached + done) / max(n, 1),
                    f"Embedded {cached + done}/{n} images",
                    eta_seconds=(len(todo) - done) / rate if rate else None,
                )
            )
    seconds = time.monotonic() - start
    features = np.stack(feats).astype(np.float32) if n else np.zeros((0, 0), np.float32)
    logit_arr = np.stack(logits).astype(np.float32) if with_logits and n else None
    return FeatureSet(features, logit_arr, seconds, n / seconds if seconds > 0 else 0.0, cached)
