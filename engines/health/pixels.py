"""Simple pixel features: a stand-in for backbone embeddings in tests and demos.

Not a substitute for a pretrained backbone: a 16 x 16 grayscale thumbnail, centred
and scaled per image, so that cosine similarity is the thumbnails' correlation. It
finds resized and re-encoded copies, not the same object photographed twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from engines.images import DEFAULT_MAX_PIXELS, load_rgb


def pixel_features(
    paths: Sequence[Path], side: int = 16, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Return an n x (3 * side * side) float32 matrix of normalised colour thumbnails.

    Args:
        paths: Image files (readable; as in a scanned index).
        side: Thumbnail side in pixels.
        max_pixels: Decompression-bomb guard passed to :func:`engines.images.load_rgb`.

    Returns:
        One row per path: the thumbnail minus its mean, divided by its norm.

    """
    rows = np.zeros((len(paths), 3 * side * side), dtype=np.float32)
    for i, p in enumerate(paths):
        img = load_rgb(Path(p), max_pixels).resize((side, side), Image.Resampling.BILINEAR)
        v = np.asarray(img, dtype=np.float32).ravel()
        v -= v.mean()
        rows[i] = v / max(float(np.linalg.norm(v)), 1e-6)
    return rows
