"""Detection annotations: Pascal VOC XML and COCO JSON, read for profiling.

Only what the profile needs is read: which image, which class, which box. Files are
size-limited before parsing; XML is parsed with the standard library's expat, which
does not fetch external entities and refuses exponential entity expansion.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.intake.records import Box, nfc

_MAX_XML_BYTES = 5 * 1024**2
_MAX_JSON_BYTES = 300 * 1024**2


@dataclass
class VocFile:
    """One Pascal VOC annotation: the image it names and its boxes."""

    path: Path
    filename: str | None
    width: int | None
    height: int | None
    boxes: list[Box]


@dataclass
class CocoFile:
    """One COCO annotation file: image entries with their boxes, and categories."""

    path: Path
    images: dict[str, list[Box]]  # file_name -> boxes
    categories: dict[int, str]
    n_annotations: int
    n_with_segmentation: int
    info: dict[str, Any] = field(default_factory=dict)


def _num(node: ET.Element | None, tag: str) -> float | None:
    if node is None:
        return None
    child = node.find(tag)
    if child is None or child.text is None:
        return None
    try:
        return float(child.text.strip())
    except ValueError:
        return None


def read_voc(path: Path) -> VocFile | None:
    """Read a Pascal VOC XML file, or return None when it is not one.

    Args:
        path: An ``.xml`` file.

    Returns:
        Its image name, size and boxes (``xmin, ymin, xmax, ymax`` turned into x, y, w,
        h), or None for XML that is not a VOC annotation or cannot be parsed.

    """
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_XML_BYTES:
            return None
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError, ValueError):
        return None
    if root.tag.lower() != "annotation":
        return None
    filename_node = root.find("filename")
    filename = None
    if filename_node is not None and filename_node.text:
        filename = nfc(filename_node.text.strip())
    size = root.find("size")
    width = _num(size, "width")
    height = _num(size, "height")
    boxes: list[Box] = []
    for obj in root.iter("object"):
        name_node = obj.find("name")
        label = nfc(name_node.text.strip()) if name_node is not None and name_node.text else "?"
        bnd = obj.find("bndbox")
        x1, y1, x2, y2 = (_num(bnd, t) for t in ("xmin", "ymin", "xmax", "ymax"))
        if x1 is None or y1 is None or x2 is None or y2 is None:
            continue
        boxes.append(Box(label=label, x=x1, y=y1, w=max(0.0, x2 - x1), h=max(0.0, y2 - y1)))
    return VocFile(
        path=path,
        filename=filename,
        width=int(width) if width else None,
        height=int(height) if height else None,
        boxes=boxes,
    )


def read_coco(path: Path) -> CocoFile | None:
    """Read a COCO-format JSON file, or return None when it is not one.

    Args:
        path: A ``.json`` file with ``images``, ``annotations`` and ``categories``.

    Returns:
        Boxes per image file name and the category names, or None.

    """
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_JSON_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        return None
    if not isinstance(data.get("annotations"), list):
        return None
    categories = {}
    for cat in data.get("categories") or []:
        if isinstance(cat, dict) and "id" in cat:
            categories[cat["id"]] = nfc(str(cat.get("name", cat["id"])))
    by_id: dict[Any, str] = {}
    images: dict[str, list[Box]] = {}
    for img in data["images"]:
        if isinstance(img, dict) and "file_name" in img:
            name = nfc(str(img["file_name"]))
            by_id[img.get("id")] = name
            images.setdefault(name, [])
    n_seg = 0
    n_ann = 0
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            continue
        file_name = by_id.get(ann.get("image_id"))
        bbox = ann.get("bbox")
        if file_name is None or not isinstance(bbox, list | tuple) or len(bbox) != 4:
            continue
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            continue
        n_ann += 1
        if ann.get("segmentation"):
            n_seg += 1
        label = categories.get(ann.get("category_id"), str(ann.get("category_id")))
        images[file_name].append(Box(label=label, x=x, y=y, w=w, h=h))
    return CocoFile(
        path=path,
        images=images,
        categories=categories,
        n_annotations=n_ann,
        n_with_segmentation=n_seg,
        info=data.get("info") or {},
    )
