"""Image/mask pairs decoded once into arrays at the training resolution.

Images are resized to a square ``size x size`` (bilinear; segmentation needs the whole
frame, so there is no crop) and their masks with nearest-neighbour sampling. Held-out
masks are also kept at their stored resolution, where the scores are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from PIL import Image

from engines.images import load_rgb
from engines.intake.records import ImageRecord
from engines.segmentation.masks import load_mask


@dataclass
class PairArrays:
    """Decoded pairs.

    Attributes:
        images: ``uint8`` ``(n, size, size, 3)``.
        masks: ``uint8`` ``(n, size, size)`` class ids (255 = void).
        native_masks: Masks at their image's displayed resolution (held-out sets only).
        records: The records, in the order of the arrays.

    """

    images: np.ndarray
    masks: np.ndarray
    records: list[ImageRecord]
    native_masks: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _decode_pair(
    record: ImageRecord, size: int, mask_spec: dict, native: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    img = load_rgb(record.path)
    small = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
    kind, n_classes, ignore = (
        mask_spec["encoding"],
        mask_spec["n_classes"],
        mask_spec["ignore_index"],
    )
    if record.mask_path is None:
        raise ValueError(f"{record.path} has no mask: pair each image with its mask.")
    full = load_mask(
        record.mask_path,
        kind,
        n_classes,
        size=img.size,
        ignore_index=ignore,
        image_path=record.path,
    )
    small_mask = np.asarray(Image.fromarray(full).resize((size, size), Image.Resampling.NEAREST))
    return small, small_mask, (full if native else None)


def decode_pairs(
    records: Sequence[ImageRecord], size: int, mask_spec: dict, native: bool = False
) -> PairArrays:
    """Decode images and masks (in two threads) into arrays at ``size x size``.

    Args:
        records: Records with a ``mask_path``.
        size: Side of the square training resolution.
        mask_spec: Output of :func:`engines.segmentation.masks.resolve_mask_encoding`.
        native: Also keep each mask at its image's displayed resolution.

    Returns:
        :class:`PairArrays`.

    Raises:
        MaskError: A mask cannot be read or holds class ids out of range.

    """
    records = list(records)
    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(lambda r: _decode_pair(r, size, mask_spec, native), records))
    if not rows:
        return PairArrays(
            np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), np.uint8), []
        )
    return PairArrays(
        images=np.stack([r[0] for r in rows]),
        masks=np.stack([r[1] for r in rows]),
        records=records,
        native_masks=[cast(np.ndarray, r[2]) for r in rows] if native else [],
    )


def normalise(batch: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``uint8`` NHWC images to a normalised ``float32`` NCHW tensor (channels-last memory).

    Channels-last memory makes the depthwise convolutions of EfficientNet-style
    encoders markedly faster on CPUs.
    """
    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)
