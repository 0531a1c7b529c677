"""Reading segmentation masks as class-index maps, whatever way the client saved them.

Three encodings are recognised:

* ``index`` — each pixel holds its class id: palette (indexed) PNGs, where the palette
  index is the class (Pascal VOC style, where 255 marks "void" pixels that are not
  scored), and grayscale PNGs with values ``0 .. n_classes - 1``.
* ``binary`` — a two-class mask saved as 0 / 255 (or any 8-bit gray values, soft
  anti-aliased edges included): foreground is ``value >= 128``. Gray masks holding
  values of 32 or more (other than the 255 of 0/255 masks) are read this way.

:func:`resolve_mask_encoding` looks at the masks once and decides; :func:`load_mask`
then turns one file into a ``uint8`` class map (``IGNORE_INDEX`` for void pixels),
resized with nearest-neighbour sampling so that no new class ids appear at edges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image

from engines.errors import EngineError

IGNORE_INDEX = 255
"""Class id of pixels that are not scored and not trained on (VOC "void")."""

ENCODINGS = ("auto", "binary", "index")

MAX_GRAY_CLASS_ID = 32
"""Gray masks whose values stay below this are read as class ids; above, as 0-255
intensities of a two-class mask (thresholded at 128)."""


class MaskError(EngineError):
    """A mask cannot be read or does not fit the classes it should describe."""


def read_mask_array(path: Path) -> tuple[np.ndarray, str]:
    """Decode a mask file into a 2-D integer array of its stored values.

    Palette images keep their palette indices; gray images their gray values; RGB
    images whose three channels are equal are read as gray. Multi-channel colour
    masks are refused (their colours are not class ids).

    Args:
        path: The mask file.

    Returns:
        ``(values, mode)``: an ``(H, W)`` ``int32`` array and the file's Pillow mode.

    Raises:
        MaskError: The file is unreadable or a colour mask.

    """
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                arr = np.asarray(im, dtype=np.int32)
            elif mode == "1":
                arr = np.asarray(im, dtype=np.int32) * 255
            elif mode in {"L", "I", "I;16", "I;16B", "I;16L", "I;16N"}:
                arr = np.asarray(im).astype(np.int32)
            elif mode in {"LA", "RGB", "RGBA"}:
                rgb = np.asarray(im.convert("RGB"))
                if not (
                    np.array_equal(rgb[..., 0], rgb[..., 1])
                    and np.array_equal(rgb[..., 0], rgb[..., 2])
                ):
                    raise MaskError(
                        f"Mask {Path(path).name} is a colour image; its colours are not "
                        "class ids. Save masks as indexed (palette) PNG or as gray PNG "
                        "with one value per class."
                    )
                arr = rgb[..., 0].astype(np.int32)
            else:
                arr = np.asarray(im.convert("L")).astype(np.int32)
    except MaskError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise MaskError(f"Mask {Path(path).name} cannot be read ({exc}).") from exc
    if arr.ndim != 2:
        raise MaskError(f"Mask {Path(path).name} is not a single-channel image.")
    return arr, mode


def mask_value_counts(paths: Sequence[Path], max_files: int = 200) -> tuple[Counter[int], set[str]]:
    """Count, over up to ``max_files`` masks, in how many masks each value appears.

    Args:
        paths: Mask files.
        max_files: Masks looked at (evenly spaced over ``paths``).

    Returns:
        ``(counts, modes)``: value -> number of masks holding it, and the Pillow modes
        seen.

    """
    paths = list(paths)
    if len(paths) > max_files:
        step = len(paths) / max_files
        paths = [paths[int(i * step)] for i in range(max_files)]
    counts: Counter[int] = Counter()
    modes: set[str] = set()
    for p in paths:
        arr, mode = read_mask_array(p)
        modes.add(mode)
        counts.update(np.unique(arr).tolist())
    return counts, modes


def resolve_mask_encoding(
    paths: Sequence[Path], n_classes: int | None = None, encoding: str = "auto"
) -> dict[str, object]:
    """Decide how the masks encode classes, and how many classes they hold.

    Args:
        paths: Mask files of the dataset.
        n_classes: Classes the caller expects (background included), or None to infer.
        encoding: "auto", "binary" or "index".

    Returns:
        ``{"encoding", "n_classes", "values", "ignore_index"}`` where ``values`` are the
        distinct stored values seen (at most 64 listed) and ``ignore_index`` is the
        void value (255) when index masks use it, else None.

    Raises:
        MaskError: No masks, an unknown encoding, or values that do not fit
            ``n_classes`` (the message says what was found and what to do).

    """
    if encoding not in ENCODINGS:
        raise MaskError(f"Unknown mask encoding {encoding!r}: use one of {', '.join(ENCODINGS)}.")
    if not paths:
        raise MaskError(
            "No image has a mask: pair each image with a mask (same name, "
            "in a masks/ folder) before validating segmentation."
        )
    counts, modes = mask_value_counts(paths)
    values = sorted(counts)
    shown = values[:64]
    palette = modes == {"P"}
    non_void = [v for v in values if v != IGNORE_INDEX]
    small_ids = bool(non_void) and max(non_void) < MAX_GRAY_CLASS_ID
    void = IGNORE_INDEX if IGNORE_INDEX in counts and (palette or small_ids) else None
    class_values = [v for v in values if v != void]
    # Gray values that cannot be class ids (0/255, or anti-aliased edges between them)
    # are a two-class mask, unless the caller said there are more classes.
    looks_binary = not palette and (
        set(values) <= {0, 255} or (not small_ids and n_classes in (None, 2))
    )
    if encoding == "binary" or (encoding == "auto" and looks_binary):
        if n_classes not in (None, 2):
            raise MaskError(
                f"The masks are binary (values {_fmt(shown)}) but {n_classes} classes were "
                "given. Give two class names (background and the object), or save one "
                "class id per pixel."
            )
        return {"encoding": "binary", "n_classes": 2, "values": shown, "ignore_index": None}
    top = max(class_values) if class_values else 0
    inferred = top + 1
    if n_classes is None:
        n_classes = max(inferred, 2)
    if top >= n_classes:
        raise MaskError(
            f"The masks hold class ids up to {top} (values {_fmt(shown)}) but only "
            f"{n_classes} class names were given. Give one name per class id "
            f"(0 .. {top}), or re-save the masks with ids below {n_classes}."
        )
    return {"encoding": "index", "n_classes": int(n_classes), "values": shown, "ignore_index": void}


def _fmt(values: Sequence[int]) -> str:
    if len(values) > 8:
        return ", ".join(str(v) for v in values[:4]) + ", …, " + str(values[-1])
    return ", ".join(str(v) for v in values)


def to_class_map(
    values: np.ndarray, encoding: str, n_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """Turn stored mask values into class ids.

    Args:
        values: ``(H, W)`` stored values from :func:`read_mask_array`.
        encoding: "binary" or "index".
        n_classes: Classes (background included).
        ignore_index: Stored value of void pixels (index masks), or None.

    Returns:
        ``uint8`` class map; void pixels are :data:`IGNORE_INDEX`.

    Raises:
        MaskError: A class id at or above ``n_classes``.

    """
    if encoding == "binary":
        return (values >= 128).astype(np.uint8)
    out = values.astype(np.int64)
    void = out == ignore_index if ignore_index is not None else np.zeros(out.shape, bool)
    bad = (~void) & ((out < 0) | (out >= n_classes))
    if bad.any():
        found = sorted(np.unique(out[bad]).tolist())[:5]
        raise MaskError(f"The mask holds class ids {found} outside 0 .. {n_classes - 1}.")
    result = out.astype(np.uint8)
    result[void] = IGNORE_INDEX
    return result


_EXIF_TRANSPOSE = {
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(image_path: Path) -> tuple[int, tuple[int, int]]:
    with Image.open(image_path) as im:
        return int(im.getexif().get(0x0112, 1) or 1), im.size


def load_mask(
    path: Path,
    encoding: str,
    n_classes: int,
    size: tuple[int, int] | None = None,
    ignore_index: int | None = None,
    image_path: Path | None = None,
) -> np.ndarray:
    """Read one mask as a class map, optionally resized with nearest-neighbour sampling.

    Args:
        path: The mask file.
        encoding: "binary" or "index" (from :func:`resolve_mask_encoding`).
        n_classes: Classes (background included).
        size: ``(width, height)`` to resize to, or None for the stored size.
        ignore_index: Stored value of void pixels (index masks), or None.
        image_path: The mask's image. When that image carries an EXIF rotation by 90
            degrees and the mask has the image's stored (unrotated) size, the mask is
            turned the same way, so that it lines up with the image as displayed.

    Returns:
        ``uint8`` array ``(H, W)`` of class ids, :data:`IGNORE_INDEX` for void pixels.

    Raises:
        MaskError: Unreadable mask or class ids out of range.

    """
    values, _ = read_mask_array(path)
    classes = to_class_map(values, encoding, n_classes, ignore_index)
    im = Image.fromarray(classes)
    if image_path is not None:
        orientation, raw_size = _orientation(image_path)
        method = _EXIF_TRANSPOSE.get(orientation)
        if method is not None and im.size == raw_size and raw_size[0] != raw_size[1]:
            im = im.transpose(method)
    if size is not None and im.size != tuple(size):
        im = im.resize(cast("tuple[int, int]", tuple(size)), Image.Resampling.NEAREST)
    return np.asarray(im, dtype=np.uint8)
