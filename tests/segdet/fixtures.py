"""Generated segmentation and detection samples with a planted, learnable signal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def textured_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Gray noise with soft stripes: texture the encoder sees but the masks ignore."""
    yy, xx = np.mgrid[0:size, 0:size]
    stripes = 40 * np.sin(xx / rng.uniform(2.0, 5.0) + rng.uniform(0, 6.28))
    base = rng.normal(90, 18, size=(size, size)) + stripes
    img = np.repeat(base[..., None], 3, axis=2)
    img[..., 2] += 15
    return img


def square_sample(
    root: Path,
    n: int = 24,
    size: int = 64,
    seed: int = 0,
    palette: bool = False,
    groups: tuple[str, ...] = (),
) -> Path:
    """Write images/*.png with bright squares on texture and masks/*.png marking them.

    Masks are 0/255 gray PNGs, or palette PNGs holding class id 1 when ``palette``.
    Every fourth image has no square (an all-background mask). With ``groups`` the
    pairs go to ``images/<group>/`` and ``masks/<group>/`` in turn (image labels).
    """
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = groups[i % len(groups)] if groups else ""
        (root / "images" / sub).mkdir(parents=True, exist_ok=True)
        (root / "masks" / sub).mkdir(parents=True, exist_ok=True)
        img = textured_background(size, rng)
        mask = np.zeros((size, size), np.uint8)
        if i % 4:
            side = int(rng.integers(size // 5, size // 2))
            top, left = rng.integers(0, size - side, size=2)
            img[top : top + side, left : left + side] = (235, 225, 60)
            mask[top : top + side, left : left + side] = 1
        pixels = np.clip(img, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "images" / sub / f"s{i:03d}.png")
        if palette:
            m = Image.frombytes("P", (size, size), mask.tobytes())
            m.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        else:
            m = Image.fromarray(mask * 255)
        m.save(root / "masks" / sub / f"s{i:03d}.png")
    return root


def shapes_detection_sample(
    root: Path, n: int = 16, size: int = 96, seed: int = 0, fmt: str = "voc"
) -> Path:
    """Write images with red squares ("square") and blue discs ("disc") and boxes.

    ``fmt`` is "voc" (one XML per image) or "coco" (one annotations.json).
    """
    rng = np.random.default_rng(seed)
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    coco: dict = {
        "images": [],
        "annotations": [],
        "categories": [{"id": 1, "name": "square"}, {"id": 2, "name": "disc"}],
    }
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        img = np.clip(textured_background(size, rng), 0, 255)
        boxes = []
        for j, label in enumerate(("square", "disc")[: 1 + i % 2] if i % 3 else ("square",)):
            side = int(rng.integers(14, 24))
            x = int(rng.integers(0, size - side)) if j == 0 else int(rng.integers(0, size - side))
            y = (
                int(rng.integers(0, size // 2 - side))
                if j == 0
                else int(rng.integers(size // 2, size - side))
            )
            if label == "square":
                img[y : y + side, x : x + side] = (220, 40, 40)
            else:
                r = side / 2
                disc = (yy - (y + r)) ** 2 + (xx - (x + r)) ** 2 <= r * r
                img[disc] = (40, 60, 220)
            boxes.append((label, x, y, side, side))
        name = f"d{i:03d}.png"
        Image.fromarray(img.astype(np.uint8)).save(img_dir / name)
        if fmt == "voc":
            objs = "".join(
                f"<object><name>{lab}</name><bndbox><xmin>{x}</xmin><ymin>{y}</ymin>"
                f"<xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object>"
                for lab, x, y, w, h in boxes
            )
            (img_dir / f"d{i:03d}.xml").write_text(
                f"<annotation><filename>{name}</filename><size><width>{size}</width>"
                f"<height>{size}</height><depth>3</depth></size>{objs}</annotation>"
            )
        else:
            coco["images"].append({"id": i, "file_name": name, "width": size, "height": size})
            for lab, x, y, w, h in boxes:
                coco["annotations"].append(
                    {
                        "id": len(coco["annotations"]) + 1,
                        "image_id": i,
                        "category_id": 1 if lab == "square" else 2,
                        "bbox": [x, y, w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
    if fmt == "coco":
        (root / "annotations.json").write_text(json.dumps(coco))
    return root
