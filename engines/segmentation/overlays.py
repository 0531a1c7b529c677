"""Held-out images drawn with their true and predicted masks, as PNG pictures.

Each picture has two panels side by side: the image with the true mask on the left,
the same image with the predicted mask on the right, each class in its own colour.
Which images are drawn is chosen without looking for flattering ones: among the
images with foreground, the best, the median and the worst by Dice, then a clean
(no-foreground) image when there is one, so false alarms show too.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from engines.images import load_rgb
from engines.segmentation.masks import IGNORE_INDEX

PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)
"""Colours of the foreground classes (Trubetskoy's 20 distinct colours, first ten)."""

_ALPHA = 0.5


def class_colour(index: int) -> tuple[int, int, int]:
    """Colour of a foreground class id (1, 2, ...); the palette repeats after ten."""
    return PALETTE[(index - 1) % len(PALETTE)]


def _blend(image: np.ndarray, classes: np.ndarray, background_index: int) -> np.ndarray:
    out = image.astype(np.float32).copy()
    for c in np.unique(classes):
        if c in (background_index, IGNORE_INDEX):
            continue
        sel = classes == c
        out[sel] = (1 - _ALPHA) * out[sel] + _ALPHA * np.asarray(class_colour(int(c)), np.float32)
    return out.clip(0, 255).astype(np.uint8)


def render_overlay(
    image_path: Path,
    truth: np.ndarray,
    pred: np.ndarray,
    background_index: int = 0,
    max_side: int = 512,
    captions: tuple[str, str] = ("truth", "prediction"),
) -> bytes:
    """Draw an image with its true and predicted class maps, as PNG bytes.

    Args:
        image_path: The image.
        truth: True class map at the image's displayed size.
        pred: Predicted class map, same size.
        background_index: Class left uncoloured.
        max_side: Longest side of each panel (larger images are shrunk).
        captions: Text written on the two panels.

    Returns:
        The PNG file's bytes.

    Raises:
        ValueError: If the maps and the image differ in size.

    """
    img = np.asarray(load_rgb(image_path))
    if truth.shape != img.shape[:2] or pred.shape != img.shape[:2]:
        raise ValueError(
            f"Masks {truth.shape}/{pred.shape} do not match the image {img.shape[:2]}."
        )
    panels = []
    for classes, caption in zip((truth, pred), captions, strict=True):
        panel = Image.fromarray(_blend(img, classes, background_index))
        # Shrink large images; enlarge tiny ones so that the masks can be seen.
        scale = min(max_side / max(panel.size), max(1.0, 256 / max(panel.size)))
        if scale != 1.0:
            panel = panel.resize(
                (max(1, round(panel.width * scale)), max(1, round(panel.height * scale))),
                Image.Resampling.NEAREST,
            )
        draw = ImageDraw.Draw(panel)
        draw.rectangle((0, 0, 8 + 7 * len(caption), 14), fill=(0, 0, 0))
        draw.text((4, 1), caption, fill=(255, 255, 255))
        panels.append(panel)
    gap = 4
    canvas = Image.new("RGB", (panels[0].width * 2 + gap, panels[0].height), (255, 255, 255))
    canvas.paste(panels[0], (0, 0))
    canvas.paste(panels[1], (panels[0].width + gap, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def pick_overlay_indices(fg_dice: np.ndarray, n: int) -> list[int]:
    """Choose which held-out images to draw: best, median, worst, then a clean one.

    Args:
        fg_dice: Foreground Dice per image, NaN for images with no foreground in
            truth or prediction (see
            :func:`engines.segmentation.evaluate.per_image_foreground_dice`).
        n: How many to pick.

    Returns:
        Indices, at most ``n``, without repeats.

    """
    d = np.asarray(fg_dice, dtype=float)
    scored = [
        int(i) for i in np.argsort(-np.nan_to_num(d, nan=-1.0), kind="stable") if np.isfinite(d[i])
    ]
    chosen: list[int] = []
    if scored:
        for pos in (0, len(scored) // 2, len(scored) - 1):
            if scored[pos] not in chosen:
                chosen.append(scored[pos])
    clean = [int(i) for i in np.flatnonzero(~np.isfinite(d))]
    if clean:
        chosen.append(clean[0])
    rest = [i for i in scored if i not in chosen]
    step = max(1, len(rest) // max(1, n))
    chosen += rest[::step]
    return chosen[:n]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "image"


def make_overlays(
    image_paths: Sequence[Path],
    names: Sequence[str],
    truths: Sequence[np.ndarray],
    preds: Sequence[np.ndarray],
    fg_dice: np.ndarray,
    n: int,
    output_dir: Path | None = None,
    prefix: str = "overlay",
) -> list[dict[str, Any]]:
    """Render the chosen held-out images and save them or return them inline.

    Args:
        image_paths: Held-out images.
        names: Their display names (paths relative to the dataset).
        truths: True class maps at native size.
        preds: Predicted class maps at native size.
        fg_dice: Foreground Dice per image (NaN when it has no foreground anywhere).
        n: How many to draw.
        output_dir: Folder for the PNG files; None returns them as base64 text.
        prefix: File name prefix.

    Returns:
        ``[{"image", "dice", "has_foreground", "path", "png_base64"}]`` with exactly
        one of ``path`` / ``png_base64`` set.

    """
    out = []
    if output_dir is not None:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    for rank, i in enumerate(pick_overlay_indices(fg_dice, n)):
        png = render_overlay(image_paths[i], truths[i], preds[i])
        entry: dict[str, Any] = {
            "image": names[i],
            "dice": None if not np.isfinite(fg_dice[i]) else float(fg_dice[i]),
            "has_foreground": bool(np.any((truths[i] != 0) & (truths[i] != IGNORE_INDEX))),
            "path": None,
            "png_base64": None,
        }
        if output_dir is not None:
            path = Path(output_dir) / f"{prefix}_{rank:02d}_{_slug(Path(names[i]).stem)}.png"
            path.write_bytes(png)
            entry["path"] = str(path)
        else:
            entry["png_base64"] = base64.b64encode(png).decode("ascii")
        out.append(entry)
    return out
