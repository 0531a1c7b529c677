"""Held-out images drawn with their true and predicted boxes, as PNG pictures.

Two panels side by side: the true boxes on the left, the predicted boxes (with their
scores, above a display threshold) on the right, each class in its own colour. The
images are chosen without looking for flattering ones: among images with boxes, the
best, the median and the worst by recall at IoU 0.5, then an image without boxes when
there is one, so false alarms show too.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from engines.images import load_rgb
from engines.segmentation.overlays import _slug as slug
from engines.segmentation.overlays import class_colour, pick_overlay_indices


def render_boxes(
    image_path: Path,
    truth: dict[str, np.ndarray],
    pred: dict[str, np.ndarray],
    class_names: Sequence[str],
    min_score: float = 0.3,
    max_side: int = 512,
) -> bytes:
    """Draw an image with its true boxes (left) and predicted boxes (right), as PNG bytes.

    Args:
        image_path: The image.
        truth: ``{"boxes": (n, 4) x0 y0 x1 y1, "labels"}`` in native pixels.
        pred: The same plus ``"scores"``.
        class_names: Name of each class index.
        min_score: Predictions below this score are not drawn.
        max_side: Longest side of each panel.

    Returns:
        The PNG file's bytes.

    """
    img = load_rgb(image_path)
    scale = min(max_side / max(img.size), max(1.0, 256 / max(img.size)))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    panels = []
    keep = np.asarray(pred["scores"]) >= min_score
    sets = [
        ("truth", np.asarray(truth["boxes"]).reshape(-1, 4), truth["labels"], None),
        (
            f"prediction (score >= {min_score:g})",
            np.asarray(pred["boxes"]).reshape(-1, 4)[keep],
            np.asarray(pred["labels"])[keep],
            np.asarray(pred["scores"])[keep],
        ),
    ]
    for caption, boxes, labels, scores in sets:
        panel = img.resize(size, Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(panel)
        for j, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
            colour = class_colour(int(lab) + 1)
            x0, y0, x1, y1 = (float(v) * scale for v in b)
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=2)
            text = str(class_names[int(lab)])
            if scores is not None:
                text += f" {scores[j]:.2f}"
            draw.text((x0 + 2, max(0.0, y0 - 11)), text, fill=colour)
        draw.rectangle((0, 0, 8 + 6 * len(caption), 14), fill=(0, 0, 0))
        draw.text((4, 1), caption, fill=(255, 255, 255))
        panels.append(panel)
    gap = 4
    canvas = Image.new("RGB", (size[0] * 2 + gap, size[1]), (255, 255, 255))
    canvas.paste(panels[0], (0, 0))
    canvas.paste(panels[1], (size[0] + gap, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def make_box_overlays(
    image_paths: Sequence[Path],
    names: Sequence[str],
    truths: Sequence[dict[str, np.ndarray]],
    preds: Sequence[dict[str, np.ndarray]],
    class_names: Sequence[str],
    recall: np.ndarray,
    n: int,
    min_score: float = 0.3,
    output_dir: Path | None = None,
    prefix: str = "boxes",
) -> list[dict[str, Any]]:
    """Render the chosen held-out images and save them or return them inline.

    Args:
        image_paths: Held-out images.
        names: Their display names.
        truths: True boxes per image (native pixels).
        preds: Predicted boxes per image.
        class_names: Name of each class index.
        recall: Recall at IoU 0.5 per image (NaN for an image without boxes).
        n: How many to draw.
        min_score: Lowest score drawn.
        output_dir: Folder for the PNG files; None returns them as base64 text.
        prefix: File name prefix.

    Returns:
        ``[{"image", "recall50", "n_boxes", "n_predicted", "path", "png_base64"}]`` with
        exactly one of ``path`` / ``png_base64`` set.

    """
    out = []
    if output_dir is not None:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    for rank, i in enumerate(pick_overlay_indices(np.asarray(recall, float), n)):
        png = render_boxes(image_paths[i], truths[i], preds[i], class_names, min_score)
        entry: dict[str, Any] = {
            "image": names[i],
            "recall50": None if not np.isfinite(recall[i]) else float(recall[i]),
            "n_boxes": int(np.asarray(truths[i]["labels"]).size),
            "n_predicted": int(np.sum(np.asarray(preds[i]["scores"]) >= min_score)),
            "path": None,
            "png_base64": None,
        }
        if output_dir is not None:
            path = Path(output_dir) / f"{prefix}_{rank:02d}_{slug(Path(names[i]).stem)}.png"
            path.write_bytes(png)
            entry["path"] = str(path)
        else:
            entry["png_base64"] = base64.b64encode(png).decode("ascii")
        out.append(entry)
    return out
