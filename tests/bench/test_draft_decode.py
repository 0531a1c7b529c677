"""Reduced-scale JPEG decoding (the draft-mode lever kept in the engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.features import prepare_image
from engines.images import load_rgb

CFG = {
    "input_size": 224,
    "mean": (0.5,) * 3,
    "std": (0.5,) * 3,
    "interpolation": "bicubic",
    "crop_pct": 0.875,
}


def _photo(path: Path, size: tuple[int, int], fmt: str = "JPEG") -> Path:
    from skimage import data

    Image.fromarray(data.astronaut()).resize(size).save(path, fmt)
    return path


@pytest.mark.parametrize("size", [(1024, 768), (768, 1024), (2000, 600)])
def test_jpeg_decodes_at_reduced_scale_never_below_the_target(tmp_path: Path, size) -> None:
    path = _photo(tmp_path / "big.jpg", size)
    full = load_rgb(path)
    small = load_rgb(path, reduce_to=256)
    assert full.size == size
    assert min(small.size) >= 256
    assert small.width < full.width and small.height < full.height
    assert small.mode == "RGB"


def test_small_jpeg_and_other_formats_are_decoded_in_full(tmp_path: Path) -> None:
    small = _photo(tmp_path / "small.jpg", (300, 280))
    png = _photo(tmp_path / "big.png", (1024, 768), "PNG")
    assert load_rgb(small, reduce_to=256).size == (300, 280)
    assert load_rgb(png, reduce_to=256).size == (1024, 768)


def test_exif_rotation_is_applied_after_the_reduced_decode(tmp_path: Path) -> None:
    from skimage import data

    img = Image.fromarray(data.astronaut()).resize((1024, 768))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, "JPEG", exif=exif)
    out = load_rgb(path, reduce_to=256)
    assert out.height > out.width  # upright: portrait
    assert min(out.size) >= 256


def test_prepared_pixels_barely_change(tmp_path: Path) -> None:
    path = _photo(tmp_path / "big.jpg", (1024, 768))
    draft = prepare_image(path, CFG)
    full = prepare_image(path, CFG, draft=False)
    assert draft.shape == full.shape == (224, 224, 3)
    assert not np.array_equal(draft, full)  # the reduced decode is really used
    assert np.abs(draft.astype(np.int16) - full).mean() < 4.0
