"""What a scanned upload is made of: image records and the dataset index."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.images import ImageInfo
from engines.profile import SkippedFile

JUNK_NAMES = frozenset(
    {
        "__macosx",
        ".ds_store",
        "thumbs.db",
        "desktop.ini",
        "__pycache__",
        ".git",
        ".svn",
        "$recycle.bin",
        ".trash",
        ".trashes",
    }
)

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "trainset": "train",
    "train_set": "train",
    "train-set": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "validate": "val",
    "dev": "val",
    "vali": "val",
    "valset": "val",
    "val_set": "val",
    "val-set": "val",
    "test": "test",
    "testing": "test",
    "tst": "test",
    "testset": "test",
    "test_set": "test",
    "test-set": "test",
    "holdout": "test",
    "eval": "test",
}


def normalize_split(name: str | None) -> str | None:
    """Map a split folder or manifest value to "train", "val" or "test".

    Accepts any case and the usual variants (Training, valid, Validation, DEV, TEST,
    test_set...). Returns None for anything else.
    """
    if name is None:
        return None
    key = unicodedata.normalize("NFC", str(name)).strip().lower()
    return _SPLIT_ALIASES.get(key)


def nfc(text: str) -> str:
    """Unicode NFC form: macOS stores Korean names decomposed (NFD); labels must not."""
    return unicodedata.normalize("NFC", text)


def is_junk(name: str) -> bool:
    """Whether a file or folder name is OS clutter or hidden (never data)."""
    low = name.lower()
    if name in (".", ".."):
        return False  # path parts, judged by the traversal check, never silently dropped
    return low in JUNK_NAMES or name.startswith(".") or low.startswith("~$")


_NATURAL = re.compile(r"(\d+)")


def natural_key(text: str) -> list[Any]:
    """Sort key that puts "img2" before "img10"."""
    return [int(p) if p.isdigit() else p.lower() for p in _NATURAL.split(text)]


@dataclass
class Box:
    """One object box, in pixels of the image as stored: top-left x, y, width, height."""

    label: str
    x: float
    y: float
    w: float
    h: float


@dataclass
class ImageRecord:
    """One usable image of the upload.

    Attributes:
        path: The image file.
        label: Its class, or None when unlabeled.
        split: "train", "val" or "test" when the upload said so, else None.
        mask_path: Its segmentation mask, when the upload pairs one.
        boxes: Its object boxes when a detection annotation covers it ([] = annotated,
            no objects); None when no box annotation mentions it.
        domain: Which collection it belongs to in an unpaired upload ("A", "B",
            "source", "target", ...), else None.
        info: What the file is (size, format, hash, quality numbers), filled by the scan.

    """

    path: Path
    label: str | None = None
    split: str | None = None
    mask_path: Path | None = None
    boxes: list[Box] | None = None
    domain: str | None = None
    info: ImageInfo | None = None


@dataclass
class DatasetIndex:
    """Everything a scan found: the usable images, what was skipped, and the layout.

    Attributes:
        root: The dataset root that was scanned.
        records: Usable images, in a stable order (by path).
        skipped: Files not used, each with its reason (paths relative to ``root``).
        layout: The layout recognised: "class_folders", "split_class_folders",
            "manifest", "flat", "unpaired", "segmentation_masks", "voc" or "coco".
        data_type: "paired", "unpaired" or "input_only".
        task_hint: "classification", "segmentation", "detection" or None.
        notes: Plain sentences on what was inferred and why (shown to the consultant).
        annotations: Summary of annotation files (COCO categories, VOC files, masks).

    """

    root: Path
    records: list[ImageRecord]
    skipped: list[SkippedFile]
    layout: str
    data_type: str
    task_hint: str | None
    notes: list[str] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str | None]:
        """The label of every record, in order."""
        return [r.label for r in self.records]

    @property
    def classes(self) -> list[str]:
        """Distinct labels, sorted."""
        return sorted({r.label for r in self.records if r.label is not None}, key=natural_key)

    def relpath(self, path: Path) -> str:
        """Return a path relative to the root, with forward slashes, for messages."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).as_posix()
