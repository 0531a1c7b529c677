"""Thumbnails of the client's images, embedded as data URIs where the files still exist.

result.json stores image paths relative to the upload root; the upload may be gone
when a report is rendered again, so every image is optional. A path that would leave
the root (``..``, an absolute path, a link pointing outside) is never opened.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


def safe_path(root: Path, relative: str) -> Path | None:
    """The file a relative path names under root, or None if it leaves root or is absent."""
    rel = PurePosixPath(str(relative).replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        return None
    base = root.resolve()
    path = (base / Path(*rel.parts)).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def thumbnail_uri(path: Path, max_px: int = 160) -> str | None:
    """A JPEG thumbnail of an image file as a data URI, or None if it cannot be read."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (max_px * 2, max_px * 2))
            frame = img.convert("RGB")
            frame.thumbnail((max_px, max_px))
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=80, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def embed(root: Path | None, relative: str, max_px: int = 160) -> str | None:
    """The thumbnail of ``root/relative`` where it exists and is an image, else None."""
    if root is None:
        return None
    path = safe_path(root, relative)
    if path is None or path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    return thumbnail_uri(path, max_px)


def samples_from_folders(
    root: Path | None, classes: list[str], per_class: int, max_files: int = 5000
) -> dict[str, list[str]]:
    """Find example images of each class under root by folder name (a bounded walk).

    Used when the result lists no sample images: files whose parent folder is named
    like a class are taken, in sorted order.

    Args:
        root: The upload root (None: nothing is found).
        classes: Class names.
        per_class: Most examples per class.
        max_files: Most files looked at.

    Returns:
        ``{class: [relative path, ...]}`` for the classes that have examples.

    """
    if root is None or not root.is_dir() or per_class <= 0:
        return {}
    wanted = set(classes)
    found: dict[str, list[str]] = {}
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        folder = Path(dirpath)
        if folder.name in wanted and folder.name not in found:
            picked = [
                (folder / name).relative_to(root).as_posix()
                for name in sorted(filenames)
                if Path(name).suffix.lower() in IMAGE_SUFFIXES and not (folder / name).is_symlink()
            ][:per_class]
            if picked:
                found[folder.name] = picked
        seen += len(filenames)
        if seen > max_files or len(found) == len(wanted):
            break
    return found
