"""Class balance of a detection sample: per class, per image and overall."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from engines.intake.profiling import summarize
from engines.intake.records import ImageRecord, natural_key


def class_balance(records: Sequence[ImageRecord]) -> dict[str, Any]:
    """Count boxes and images per class, and how boxes spread over images.

    Only records with a box annotation (``boxes`` not None) count; an annotated image
    with no boxes is a true negative and counts as "without boxes".

    Args:
        records: Scanned records.

    Returns:
        JSON-ready ``{"n_images_annotated", "n_images_not_annotated",
        "n_images_without_boxes", "n_boxes", "boxes_per_image", "classes_per_image",
        "per_class": [{name, n_boxes, share_of_boxes, n_images, share_of_images,
        boxes_per_image_when_present}], "imbalance_ratio_boxes",
        "imbalance_ratio_images", "rarest_class", "most_common_class"}``
        (ratios are None with fewer than one class).

    """
    annotated = [r for r in records if r.boxes is not None]
    boxes_of = Counter[str]()
    images_of = Counter[str]()
    per_image = []
    classes_per_image = []
    for r in annotated:
        labels = [b.label for b in r.boxes or []]
        per_image.append(len(labels))
        classes_per_image.append(len(set(labels)))
        boxes_of.update(labels)
        images_of.update(set(labels))
    n_boxes = sum(boxes_of.values())
    n_img = len(annotated)
    names = sorted(boxes_of, key=natural_key)
    per_class = [
        {
            "name": name,
            "n_boxes": int(boxes_of[name]),
            "share_of_boxes": boxes_of[name] / n_boxes if n_boxes else 0.0,
            "n_images": int(images_of[name]),
            "share_of_images": images_of[name] / n_img if n_img else 0.0,
            "boxes_per_image_when_present": boxes_of[name] / images_of[name],
        }
        for name in names
    ]
    out: dict[str, Any] = {
        "n_images_annotated": n_img,
        "n_images_not_annotated": len(records) - n_img,
        "n_images_without_boxes": sum(1 for n in per_image if n == 0),
        "n_boxes": int(n_boxes),
        "boxes_per_image": summarize(per_image),
        "classes_per_image": summarize(classes_per_image),
        "per_class": per_class,
        "imbalance_ratio_boxes": None,
        "imbalance_ratio_images": None,
        "rarest_class": None,
        "most_common_class": None,
    }
    if names:
        out["imbalance_ratio_boxes"] = max(boxes_of.values()) / min(boxes_of.values())
        out["imbalance_ratio_images"] = max(images_of.values()) / min(images_of.values())
        out["rarest_class"] = min(names, key=lambda n: (boxes_of[n], natural_key(n)))
        out["most_common_class"] = max(names, key=lambda n: (boxes_of[n], natural_key(n)))
    return out
