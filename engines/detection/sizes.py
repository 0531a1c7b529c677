"""How big the objects are once an image is resized for a detector, and what tiling fixes it.

A detector resizes each frame so that its longer side equals its input size (the
letterbox resize of YOLO-style and most single-stage detectors). An object of side
``s`` pixels in a ``W x H`` frame then measures ``s * S / max(W, H)`` pixels at input
size ``S``. Detectors find objects below roughly 32 px poorly: COCO calls them
"small" (< 32² px, Lin et al. 2014, "Microsoft COCO: Common Objects in Context",
ECCV), and the finest default anchors of FPN detectors are 32 px (Lin et al. 2017,
"Feature Pyramid Networks for Object Detection", CVPR). Below about 8 px an object
covers a single cell of a stride-8 feature map.

Tiling (slicing the frame into overlapping tiles that are each resized to ``S``,
as in SAHI, Akyon, Altinuc & Temizel 2022, "Slicing Aided Hyper Inference and
Fine-tuning for Small Object Detection", ICIP) keeps objects at the size needed. For a
target size ``T`` reached by the objects at a chosen quantile (by default 90 % of them
reach it), the scale needed is ``T / s_q``; a tile then spans ``S * s_q / T`` native
pixels. The number of tiles per frame, and the share of boxes that no tile holds
whole (they are cut by tile borders), are measured on the uploaded boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from engines.intake.profiling import summarize

REFERENCES = [
    "Lin et al. (2014), Microsoft COCO: Common Objects in Context, ECCV (small < 32² px).",
    "Lin et al. (2017), Feature Pyramid Networks for Object Detection, CVPR.",
    "Akyon, Altinuc & Temizel (2022), Slicing Aided Hyper Inference and Fine-tuning for "
    "Small Object Detection, ICIP.",
]


def tile_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles covering ``length`` pixels with the given overlap.

    Tiles advance by ``tile * (1 - overlap)``; the last tile is aligned with the end, so
    every pixel is covered and no tile leaves the frame.

    Args:
        length: Frame side in pixels.
        tile: Tile side in pixels.
        overlap: Overlap between neighbouring tiles, in [0, 1).

    Returns:
        Start offsets, ascending (``[0]`` when the tile covers the whole side).

    Raises:
        ValueError: If the sizes are not positive or the overlap is out of range.

    """
    if length <= 0 or tile <= 0:
        raise ValueError("length and tile must be positive.")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}.")
    if tile >= length:
        return [0]
    step = max(1, int(math.floor(tile * (1.0 - overlap))))
    n = int(math.ceil((length - tile) / step)) + 1
    return [min(i * step, length - tile) for i in range(n)]


def tiles_per_image(width: int, height: int, tile: int, overlap: float) -> int:
    """Number of tiles :func:`tile_starts` lays over a ``width x height`` frame."""
    return len(tile_starts(width, tile, overlap)) * len(tile_starts(height, tile, overlap))


def box_fits_a_tile(
    x: float, y: float, w: float, h: float, width: int, height: int, tile: int, overlap: float
) -> bool:
    """Whether some tile of the grid holds the box whole."""

    def fits(start: float, size: float, length: int) -> bool:
        return any(
            s <= start and start + size <= s + tile
            for s in tile_starts(length, min(tile, length), overlap)
        )

    return fits(x, w, width) and fits(y, h, height)


def _side(w: float, h: float) -> float:
    return math.sqrt(max(w, 0.0) * max(h, 0.0))


def object_size_stats(
    boxes: Sequence[tuple[float, float, float, float, int, int]],
    input_sizes: Sequence[int] = (320, 640, 1024),
    thresholds_px: Sequence[int] = (8, 16, 32),
    target_px: int = 32,
    quantile: float = 0.1,
    overlap: float = 0.2,
) -> dict[str, Any]:
    """Object sizes at each detector input size, and the tiling that would keep them.

    Args:
        boxes: One ``(x, y, w, h, image_width, image_height)`` per box, in pixels.
        input_sizes: Detector input sizes (longer side after the resize).
        thresholds_px: Sizes whose "fraction under" is reported.
        target_px: Object side (square root of the box area) the tiling should reach.
        quantile: Share of objects allowed below ``target_px`` (0.1: 90 % reach it).
        overlap: Overlap between neighbouring tiles.

    Returns:
        JSON-ready ``{"n_boxes", "object_side_px", "object_min_side_px",
        "relative_side", "by_input_size": [...], "tiling": [...], "thresholds_px",
        "target_px", "quantile", "overlap", "method", "references"}``. Object side is
        ``sqrt(w * h)``. Per input size, ``tiling`` says whether the whole frame
        resized keeps the quantile object at the target (``whole_frame_reaches_target``;
        else ``tiling_needed``), the scale needed (resized px per native px),
        ``upsampling_needed`` (that scale exceeds 1: the objects are below the target
        even at native resolution), the native tile side, tiles per image, the share
        of boxes no tile holds whole, and the share still under the target when tiled.

    Raises:
        ValueError: If there are no usable boxes or a parameter is out of range.

    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}.")
    if target_px <= 0 or any(s <= 0 for s in input_sizes):
        raise ValueError("target_px and input sizes must be positive.")
    rows = [b for b in boxes if b[2] > 0 and b[3] > 0 and b[4] > 0 and b[5] > 0]
    if not rows:
        raise ValueError("No box with a positive width and height inside a sized image.")
    arr = np.asarray(rows, dtype=float)
    x, y, w, h, iw, ih = arr.T
    side = np.sqrt(w * h)
    longer = np.maximum(iw, ih)
    by_size = []
    tiling = []
    q_side = float(np.quantile(side, quantile))
    for s in input_sizes:
        scale = s / longer
        resized = side * scale
        by_size.append(
            {
                "input_size": int(s),
                "resized_side_px": summarize(resized.tolist()),
                "fraction_under": {str(t): float(np.mean(resized < t)) for t in thresholds_px},
                "n_under": {str(t): int(np.sum(resized < t)) for t in thresholds_px},
            }
        )
        need = target_px / q_side  # scale (resized px per native px) the quantile object needs
        whole_frame_ok = bool(np.quantile(resized, quantile) >= target_px)
        tile = int(max(1, math.floor(s * q_side / target_px + 1e-9)))
        images = {(int(a), int(b)) for a, b in zip(iw, ih, strict=True)}
        per_image = [tiles_per_image(a, b, tile, overlap) for a, b in images]
        cut = sum(
            not box_fits_a_tile(bx, by, bw, bh, int(a), int(b), tile, overlap)
            for bx, by, bw, bh, a, b in zip(x, y, w, h, iw, ih, strict=True)
        )
        after = side * s / np.minimum(tile, longer)  # frames smaller than a tile: one pass
        tiling.append(
            {
                "input_size": int(s),
                "whole_frame_reaches_target": whole_frame_ok,
                "tiling_needed": not whole_frame_ok,
                "scale_needed": float(need),
                "upsampling_needed": bool(need > 1.0),
                "tile_side_px": tile,
                "tiles_per_image": summarize(per_image),
                "fraction_boxes_cut_by_tiles": float(cut / len(rows)),
                "fraction_under_target_after_tiling": float(np.mean(after < target_px)),
            }
        )
    return {
        "n_boxes": len(rows),
        "object_side_px": summarize(side.tolist()),
        "object_min_side_px": summarize(np.minimum(w, h).tolist()),
        "relative_side": summarize((side / longer).tolist()),
        "object_side_at_quantile_px": q_side,
        "by_input_size": by_size,
        "tiling": tiling,
        "thresholds_px": [int(t) for t in thresholds_px],
        "target_px": int(target_px),
        "quantile": float(quantile),
        "overlap": float(overlap),
        "method": (
            "letterbox resize of the longer side to the input size; object side = "
            "sqrt(w*h); tiles of tile_side_px native pixels, each resized to the "
            "input size, overlapping by `overlap`"
        ),
        "references": list(REFERENCES),
    }
