"""A generated client sample whose decoding costs what real photos cost.

Each class is one of scikit-image's bundled colour photographs; every image is a
random crop of it, mirrored, slightly rotated, colour-jittered, resized so that its
longer side is 640-1024 px (camera-like aspect ratios), given mild sensor noise and
saved as JPEG at quality 80-95. The noise keeps the files the size of real photos of
that resolution (a smooth up-scaled crop would compress, and decode, unrealistically
fast). The result is zipped as the consultant would upload it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

# Class name -> scikit-image data function (colour photographs shipped with the package).
SOURCES: dict[str, str] = {
    "cat": "chelsea",
    "coffee": "coffee",
    "astronaut": "astronaut",
    "rocket": "rocket",
    "galaxy": "hubble_deep_field",
    "tissue": "immunohistochemistry",
    "retina": "retina",
    "motorcycle": "stereo_motorcycle",
}
ASPECTS = ((4, 3), (3, 4), (1, 1), (16, 9), (3, 2))


def _photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if isinstance(img, tuple):  # stereo pairs: the left view
        img = img[0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])


def _augment(source: Image.Image, long_side: int, rng: np.random.Generator) -> Image.Image:
    aw, ah = ASPECTS[int(rng.integers(len(ASPECTS)))]
    w, h = source.size
    scale = float(rng.uniform(0.45, 1.0))
    cw = min(w, int(min(w, h * aw / ah) * scale))
    ch = min(h, int(cw * ah / aw))
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    img = source.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = img.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR)
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.8, 1.2)))
    img = ImageEnhance.Contrast(img).enhance(float(rng.uniform(0.8, 1.2)))
    ratio = long_side / max(img.size)
    size = (max(1, round(img.width * ratio)), max(1, round(img.height * ratio)))
    img = img.resize(size, Image.Resampling.BICUBIC)
    noisy = np.asarray(img, dtype=np.float32) + rng.normal(0, 4.0, (size[1], size[0], 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def generate_dataset(
    folder: Path,
    n_images: int,
    n_classes: int = 6,
    min_side: int = 640,
    max_side: int = 1024,
    seed: int = 0,
) -> Path:
    """Write ``n_images`` JPEG photos in class folders and zip them; return the zip.

    Args:
        folder: Empty working folder; the images go to ``folder/sample`` and the zip to
            ``folder/sample.zip``.
        n_images: Images in all (spread evenly over the classes).
        n_classes: Classes, at most ``len(SOURCES)``.
        min_side: Smallest longer side in pixels.
        max_side: Largest longer side in pixels.
        seed: Seed of every random choice.

    Returns:
        The zip file.

    Raises:
        ValueError: If the counts or sizes cannot make a usable sample.

    """
    if not 2 <= n_classes <= len(SOURCES):
        raise ValueError(f"n_classes must be between 2 and {len(SOURCES)}, got {n_classes}.")
    if n_images < 2 * n_classes:
        raise ValueError(
            f"{n_images} images cannot give {n_classes} classes two images each: ask for "
            f"at least {2 * n_classes}."
        )
    if not 16 <= min_side <= max_side:
        raise ValueError(
            f"Sides must satisfy 16 <= min_side <= max_side, got {min_side}, {max_side}."
        )
    rng = np.random.default_rng(seed)
    root = Path(folder) / "sample"
    names = list(SOURCES)[:n_classes]
    sources = {name: Image.fromarray(_photo(SOURCES[name])) for name in names}
    for i in range(n_images):
        label = names[i % n_classes]
        out = root / label
        out.mkdir(parents=True, exist_ok=True)
        long_side = int(rng.integers(min_side, max_side + 1))
        img = _augment(sources[label], long_side, rng)
        img.save(out / f"{label}_{i:05d}.jpg", quality=int(rng.integers(80, 96)))
    zpath = Path(folder) / "sample.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(root.rglob("*.jpg")):
            zf.write(path, path.relative_to(root.parent).as_posix())
    return zpath
