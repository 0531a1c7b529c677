"""Shared fixtures: small real images made from scikit-image's bundled photos."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Tests never reach the network: pretrained weights come from the bundled packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SOURCES = {"cat": "chelsea", "coffee": "coffee", "astronaut": "astronaut", "rocket": "rocket"}


def photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3]


def random_crops(source: np.ndarray, n: int, size: int, rng: np.random.Generator) -> list:
    h, w = source.shape[:2]
    crops = []
    for _ in range(n):
        side = int(rng.integers(min(h, w) // 2, min(h, w)))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(source[top : top + side, left : left + side]).resize((size, size))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crops.append(crop)
    return crops


def make_class_folders(
    root: Path,
    per_class: dict[str, int],
    size: int = 64,
    seed: int = 0,
    splits: dict[str, float] | None = None,
) -> Path:
    """Write class/*.jpg (or split/class/*.jpg) with crops of a distinct photo per class."""
    rng = np.random.default_rng(seed)
    for label, n in per_class.items():
        source = photo(SOURCES.get(label, "astronaut"))
        for i, crop in enumerate(random_crops(source, n, size, rng)):
            if splits:
                split = "train" if i < int(n * splits.get("train", 0.75)) else "val"
                folder = root / split / label
            else:
                folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            crop.save(folder / f"{label}_{i:03d}.jpg", quality=90)
    return root


def zip_folder(folder: Path, dest: Path, wrap: str | None = None) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                arc = path.relative_to(folder).as_posix()
                zf.write(path, f"{wrap}/{arc}" if wrap else arc)
    return dest


@pytest.fixture
def two_class_folder(tmp_path: Path) -> Path:
    return make_class_folders(tmp_path / "sample", {"cat": 16, "coffee": 16})


@pytest.fixture
def two_class_zip(tmp_path: Path) -> Path:
    folder = make_class_folders(tmp_path / "sample", {"cat": 16, "coffee": 16})
    return zip_folder(folder, tmp_path / "sample.zip", wrap="client_sample")
