"""Reading client images: any common format, decoded safely to 8-bit RGB.

Clients send what they have: JPEG from phones (EXIF-rotated), 16-bit TIFF from
microscopes, palette GIFs, RGBA PNG screenshots, CMYK JPEG from print workflows and
DICOM from hospitals. :func:`load_rgb` turns each into a plain ``RGB`` image, and
:func:`inspect_image` checks a file (header, pixel count, full decode) and measures the
few numbers the health check needs, in one pass and without keeping pixels.

Safety: the pixel count is checked from the header *before* any decode, per call, so a
decompression bomb is refused without touching Pillow's process-wide
``Image.MAX_IMAGE_PIXELS`` (which other users of the same process share). So are the
decoded bytes (:func:`check_decoded_bytes`): a 16-bit or float image costs several
times what its pixel count suggests, and PNG/TIFF compression hides it from the zip's
ratio guard. A JPEG is checked at the size it is decoded at (DCT draft mode).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 100_000_000
"""Largest width x height decoded (100 megapixels, about a 10,000 x 10,000 scan)."""

DEFAULT_MAX_DECODED_BYTES = 1024**3
"""Largest memory one decode may take (1 GiB), see :func:`check_decoded_bytes`."""

# Bytes per sample of Pillow's modes; 16-bit and float data are then scaled to 8 bits
# through float32 working copies (_array_to_rgb), which the guard counts too.
_WIDE_SAMPLE_BYTES = {"I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I": 4, "F": 4}
_FLOAT_WORKING_BYTES = 16  # four float32 copies per sample while scaling to 8 bits

IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".bmp",
        ".dib",
        ".gif",
        ".tif",
        ".tiff",
        ".webp",
        ".dcm",
        ".dicom",
    }
)
"""File name endings read as images (any case)."""

DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})  # formats Pillow can decode at reduced scale

_STATS_SIDE = 256  # the quality numbers are measured on a copy at most this many px a side
_HASH_CHUNK = 1 << 20

# Leading bytes of the formats we read: used to spot an extension that lies and to
# recognise images saved without an extension.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


class ImageDecodeError(ValueError):
    """A file that cannot be used as an image; the message is a short reason."""


@dataclass
class ImageInfo:
    """What one image file is, measured while verifying it.

    Attributes:
        width: Width in pixels as displayed (after the EXIF rotation).
        height: Height in pixels as displayed.
        mode: Pillow mode of the stored data ("RGB", "L", "I;16", "CMYK", ...), or
            "DICOM" plus photometric interpretation for DICOM files.
        format: Format found in the file's content ("JPEG", "PNG", "DICOM", ...).
        n_bytes: File size.
        sha256: Hash of the file's bytes (exact duplicates share it).
        channels: Colour channels stored (1 gray, 3 colour, 4 with alpha or CMYK).
        bit_depth: Bits per channel stored (8 or 16 mostly).
        n_frames: Frames in the file (animated GIF, multi-page TIFF, multi-frame DICOM).
        exif_rotated: Whether an EXIF orientation tag rotates or flips the image.
        suffix_mismatch: Whether the file name's ending disagrees with its content.
        modality: DICOM modality (e.g. "CT", "MR", "CR"), else None.
        brightness: Mean luma, 0-255, measured on a small copy.
        contrast: Standard deviation of luma, 0-255.
        sharpness: Variance of the Laplacian of luma on a copy at most 256 px a side
            (Pech-Pacheco et al. 2000); low means blurry.
        dhash: 64-bit difference hash of the image as 16 hex digits (near-identical
            images differ in few bits).

    """

    width: int
    height: int
    mode: str
    format: str
    n_bytes: int
    sha256: str
    channels: int = 3
    bit_depth: int = 8
    n_frames: int = 1
    exif_rotated: bool = False
    suffix_mismatch: bool = False
    modality: str | None = None
    brightness: float | None = None
    contrast: float | None = None
    sharpness: float | None = None
    dhash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data."""
        return asdict(self)


def sniff_format(head: bytes) -> str | None:
    """Name the image format from a file's first bytes, or None when unknown.

    Args:
        head: At least the first 132 bytes of the file (fewer is fine for most formats).

    Returns:
        "JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP" or "DICOM", or None.

    """
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[128:132] == b"DICM":
        return "DICOM"
    return None


def is_dicom(path: Path) -> bool:
    """Whether a file is DICOM, by its ending or its "DICM" marker at byte 128."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            return sniff_format(fh.read(132)) == "DICOM"
    except OSError:
        return False


def _check_pixels(width: int, height: int, max_pixels: int, frames: int = 1) -> None:
    pixels = int(width) * int(height) * max(1, int(frames))
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"invalid image size {width}x{height}")
    if pixels > max_pixels:
        raise ImageDecodeError(
            f"too many pixels ({width}x{height} = {pixels / 1e6:.0f} MP, limit "
            f"{max_pixels / 1e6:.0f} MP): possible decompression bomb; downscale it first"
        )


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """Memory a decode of the image takes: width x height x bands x bytes per sample.

    For 16-bit and float modes the float32 working copies that scale them to 8 bits
    are counted as well (four per sample), since they are what fills the memory.
    """
    try:
        bands = Image.getmodebands(mode)
    except (KeyError, ValueError):
        bands = 4  # an unknown mode: assume the widest common layout
    per_sample = _WIDE_SAMPLE_BYTES.get(mode, 1)
    if mode in _WIDE_SAMPLE_BYTES:
        per_sample += _FLOAT_WORKING_BYTES
    return int(width) * int(height) * bands * per_sample


def check_decoded_bytes(
    width: int, height: int, mode: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES
) -> None:
    """Refuse, before decoding, an image whose decode would take more than ``max_bytes``.

    Raises:
        ImageDecodeError: Over the limit; the message says by how much and what to do.

    """
    needed = decoded_bytes(width, height, mode)
    if needed > max_bytes:
        depth = {2: "16-bit", 4: "32-bit"}.get(_WIDE_SAMPLE_BYTES.get(mode, 1), "8-bit")
        kind = "float" if mode == "F" else depth
        raise ImageDecodeError(
            f"too large to decode safely ({width}x{height} {kind} {mode}: "
            f"{needed / 2**30:.1f} GB of memory decoded, limit {max_bytes / 2**30:.1f} GB); "
            "downscale it or convert it to 8-bit first"
        )


def _open_pil(path: Path, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse oversize images before decoding."""
    try:
        im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            f"too many pixels ({exc}); possible decompression bomb; downscale it first"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not a readable image (unknown or damaged format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"not a readable image ({_short(exc)})") from exc
    try:
        _check_pixels(im.width, im.height, max_pixels)
    except ImageDecodeError:
        im.close()
        raise
    return im


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _decode(im: Image.Image, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> Image.Image:
    """Fully decode the first frame; truncation and corruption raise here.

    The decoded bytes are checked first, at the size the image will be decoded at
    (after a JPEG draft, so a large JPEG read at a reduced scale passes).
    """
    check_decoded_bytes(im.width, im.height, im.mode, max_bytes)
    try:
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        im.load()
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"too many pixels ({_short(exc)})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as exc:
        msg = _short(exc)
        if "truncat" in msg.lower():
            raise ImageDecodeError("truncated image (the file is cut short)") from exc
        raise ImageDecodeError(f"corrupt image data ({msg})") from exc
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB (alpha composited on white)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        return _array_to_rgb(np.asarray(im))
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _array_to_rgb(arr: np.ndarray) -> Image.Image:
    """Scale a high-bit-depth or float array to 8-bit RGB by its own value range."""
    data = np.asarray(arr, dtype=np.float32)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    finite = data[np.isfinite(data)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    if np.asarray(arr).dtype == np.uint8:
        scaled = data  # already 8-bit: keep the values as they are
    elif hi > lo:
        scaled = (data - lo) * (255.0 / (hi - lo))
    else:
        scaled = np.zeros_like(data)
    out = np.nan_to_num(scaled, nan=0.0).clip(0, 255).astype(np.uint8)
    if out.ndim == 2:
        return Image.fromarray(out, mode="L").convert("RGB")
    if out.ndim == 3 and out.shape[2] >= 3:
        return Image.fromarray(np.ascontiguousarray(out[:, :, :3]), mode="RGB")
    raise ImageDecodeError(f"unsupported pixel array shape {arr.shape}")


def _dicom_dataset(path: Path) -> Any:
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImageDecodeError("DICOM file, but pydicom is not installed") from exc
    _quiet_pydicom()
    try:
        ds = pydicom.dcmread(path, force=path.suffix.lower() in DICOM_SUFFIXES)
    except InvalidDicomError as exc:
        raise ImageDecodeError("not a DICOM file") from exc
    except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError) as exc:
        raise ImageDecodeError(f"unreadable DICOM file ({_short(exc)})") from exc
    if not _looks_like_dicom(ds):
        raise ImageDecodeError(
            "not a DICOM file (no DICOM header or image attributes; a file renamed .dcm?)"
        )
    return ds


_DICOM_IDENTITY = ("PixelData", "SOPClassUID", "Modality", "Rows", "StudyInstanceUID")
_pydicom_quiet = False


def _looks_like_dicom(ds: Any) -> bool:
    """Whether a dataset read with ``force`` is DICOM, not bytes parsed as elements."""
    if getattr(ds, "preamble", None) is not None or len(getattr(ds, "file_meta", ()) or ()):
        return True
    try:
        return any(keyword in ds for keyword in _DICOM_IDENTITY)
    except Exception:  # noqa: BLE001 - garbage parsed as elements fails in any way
        return False


def _quiet_pydicom() -> None:
    """Keep pydicom's warnings about damaged files off stderr (once per process).

    A damaged file is reported as skipped with its reason; pydicom's own warnings and
    log lines about it would only clutter the console of the app and the CLI.
    """
    global _pydicom_quiet
    if _pydicom_quiet:
        return
    import logging
    import warnings

    warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    _pydicom_quiet = True


def _dicom_to_rgb(ds: Any, max_pixels: int) -> Image.Image:
    """Window a DICOM dataset's first frame to 8-bit RGB.

    Modality LUT (rescale slope/intercept) first, then the VOI window stored in the
    file (WindowCenter/WindowWidth) when there is one, else the frame's own range;
    MONOCHROME1 (inverted grayscale) is flipped so that bright means dense everywhere.
    """
    rows = int(getattr(ds, "Rows", 0) or 0)
    cols = int(getattr(ds, "Columns", 0) or 0)
    if "PixelData" not in ds:
        raise ImageDecodeError("DICOM file without pixel data (a report or structure set?)")
    _check_pixels(cols, rows, max_pixels)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if rows * cols * frames > 4 * max_pixels:
        raise ImageDecodeError(f"DICOM with too many frames ({frames} of {cols}x{rows})")
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut

        arr = ds.pixel_array
    except (ImportError, RuntimeError, NotImplementedError) as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise ImageDecodeError(
            f"compressed DICOM ({syntax}) needs a pixel-data plugin "
            f"(pylibjpeg or gdcm); export it uncompressed"
        ) from exc
    except (ValueError, AttributeError, KeyError, TypeError, EOFError, OSError) as exc:
        raise ImageDecodeError(f"DICOM pixel data unreadable ({_short(exc)})") from exc
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if frames > 1:
        arr = arr[0]
    if photometric in {"RGB", "YBR_FULL", "YBR_FULL_422"} or (arr.ndim == 3 and arr.shape[-1] == 3):
        if photometric.startswith("YBR"):
            from pydicom.pixels import convert_color_space

            arr = convert_color_space(arr, photometric, "RGB")
        return _array_to_rgb(arr)
    try:
        data = apply_modality_lut(arr, ds)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            data = apply_voi_lut(data, ds, index=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        data = arr
    data = np.asarray(data, dtype=np.float32)
    if photometric == "MONOCHROME1":
        data = data.max() - data
    return _array_to_rgb(data)


def load_rgb(
    path: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_to: int | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> Image.Image:
    """Read an image file as an 8-bit ``RGB`` Pillow image, upright.

    Handles JPEG, PNG, BMP, GIF (first frame), TIFF, WebP and DICOM. The EXIF
    orientation is applied; 16-bit and float data are scaled by their own range;
    grayscale, palette and CMYK are converted; transparency is composited on white.
    DICOM is windowed with the file's own window (else its range) and its modality
    LUT applied. Safe to call from several threads at once.

    A caller that shrinks the image anyway can pass ``reduce_to``: a JPEG is then
    decoded at the strongest DCT reduction (1/2, 1/4 or 1/8, Pillow's draft mode) that
    keeps both sides at least ``reduce_to`` pixels, which skips most of the inverse DCT
    and colour conversion work (the file is still read and entropy-decoded in full).

    Args:
        path: The image file.
        max_pixels: Largest width x height accepted; checked from the header before
            decoding.
        reduce_to: Smallest side the caller needs (JPEG only; None: full size).
        max_decoded_bytes: Largest memory the decode may take (see
            :func:`check_decoded_bytes`); checked from the header before decoding.

    Returns:
        A fully loaded image of mode "RGB".

    Raises:
        ImageDecodeError: The file is not an image, is truncated or corrupt, or has
            more pixels than ``max_pixels`` or more decoded bytes than
            ``max_decoded_bytes``. The message is a short reason.

    """
    path = Path(path)
    if is_dicom(path):
        return _dicom_to_rgb(_dicom_dataset(path), max_pixels)
    with _open_pil(path, max_pixels) as im:
        if reduce_to is not None and reduce_to > 0 and im.format in _DRAFT_FORMATS:
            im.draft(im.mode, (int(reduce_to), int(reduce_to)))
        _decode(im, max_decoded_bytes)
        try:
            upright = ImageOps.exif_transpose(im)
        except (OSError, ValueError, SyntaxError, TypeError, KeyError):
            upright = im  # a broken EXIF block must not lose the picture
        rgb = _to_rgb(upright)
        rgb.load()
        return rgb.copy() if rgb is im else rgb


def file_sha256(path: Path) -> str:
    """Hash a file's bytes (hex SHA-256), reading it in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _exif_orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError):
        return 1


_CHANNELS = {
    "1": 1,
    "L": 1,
    "P": 1,
    "I": 1,
    "F": 1,
    "LA": 2,
    "PA": 2,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "CMYK": 4,
    "RGBa": 4,
}


def _mode_channels_depth(mode: str) -> tuple[int, int]:
    if mode.startswith("I;16"):
        return 1, 16
    if mode in {"I", "F"}:
        return 1, 32
    if mode == "1":
        return 1, 1
    return _CHANNELS.get(mode, 3), 8


def image_quality_numbers(rgb: Image.Image) -> dict[str, Any]:
    """Brightness, contrast, sharpness and difference hash of an RGB image.

    Sharpness is the variance of the 4-neighbour Laplacian of luma (Pech-Pacheco,
    Cristobal, Chamorro-Martinez, Fernandez-Valdivia, "Diatom autofocusing in
    brightfield microscopy: a comparative study", ICPR 2000), measured on a copy
    resized to at most 256 px a side so that it does not depend on the resolution.
    The dHash is the 8x8 sign pattern of horizontal gradients of a 9x8 thumbnail
    (N. Krawetz, "Kind of Like That", 2013).

    Args:
        rgb: An RGB image.

    Returns:
        ``{"brightness", "contrast", "sharpness", "dhash"}``.

    """
    gray = rgb.convert("L")
    if max(gray.size) > _STATS_SIDE:
        gray.thumbnail((_STATS_SIDE, _STATS_SIDE), Image.Resampling.BILINEAR)
    arr = np.asarray(gray, dtype=np.float32)
    brightness = float(arr.mean())
    contrast = float(arr.std())
    if arr.shape[0] >= 3 and arr.shape[1] >= 3:
        lap = (
            arr[:-2, 1:-1] + arr[2:, 1:-1] + arr[1:-1, :-2] + arr[1:-1, 2:] - 4.0 * arr[1:-1, 1:-1]
        )
        sharpness = float(lap.var())
    else:
        sharpness = 0.0
    small = np.asarray(gray.resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return {
        "brightness": round(brightness, 3),
        "contrast": round(contrast, 3),
        "sharpness": round(sharpness, 3),
        "dhash": f"{value:016x}",
    }


def inspect_image(
    path: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    measure: bool = True,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> ImageInfo:
    """Verify an image file by decoding it, and describe it.

    The header is read first and the pixel count checked; then the first frame is
    decoded fully (JPEG at a reduced DCT scale, which still reads every byte, so a
    truncated file is caught cheaply). Nothing of the pixels is kept.

    Args:
        path: The file.
        max_pixels: Largest width x height accepted.
        measure: Also measure brightness, contrast, sharpness and the dHash.
        max_decoded_bytes: Largest memory the decode may take (checked before it).

    Returns:
        The file's :class:`ImageInfo`.

    Raises:
        ImageDecodeError: Empty, not an image, truncated, corrupt or too large.

    """
    path = Path(path)
    try:
        n_bytes = path.stat().st_size
    except OSError as exc:
        raise ImageDecodeError(f"cannot read the file ({_short(exc)})") from exc
    if n_bytes == 0:
        raise ImageDecodeError("empty file (0 bytes)")
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError as exc:
        raise ImageDecodeError(f"cannot read the file ({_short(exc)})") from exc
    sniffed = sniff_format(head)
    if sniffed == "DICOM" or (sniffed is None and path.suffix.lower() in DICOM_SUFFIXES):
        return _inspect_dicom(path, n_bytes, max_pixels, measure)

    with _open_pil(path, max_pixels) as im:
        fmt = im.format or sniffed or "unknown"
        mode = im.mode
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        orientation = _exif_orientation(im)
        width, height = im.size
        scale = max(width, height) / _STATS_SIDE
        if fmt == "JPEG" and scale >= 2:
            # DCT-domain downscale: every byte is still decoded, so truncation shows.
            im.draft(im.mode, (int(width / scale) + 1, int(height / scale) + 1))
        _decode(im, max_decoded_bytes)
        numbers: dict[str, Any] = {}
        if measure:
            view = im
            if orientation in (2, 3, 4, 5, 6, 7, 8):
                try:
                    view = ImageOps.exif_transpose(im)
                except (OSError, ValueError, SyntaxError, TypeError, KeyError):
                    view = im
            numbers = image_quality_numbers(_to_rgb(view))
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    channels, depth = _mode_channels_depth(mode)
    return ImageInfo(
        width=width,
        height=height,
        mode=mode,
        format=fmt,
        n_bytes=n_bytes,
        sha256=file_sha256(path),
        channels=channels,
        bit_depth=depth,
        n_frames=n_frames,
        exif_rotated=orientation not in (1, 0),
        suffix_mismatch=_suffix_mismatch(path.suffix.lower(), fmt),
        **numbers,
    )


_SUFFIX_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".dib": "BMP",
    ".gif": "GIF",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".dcm": "DICOM",
    ".dicom": "DICOM",
}


def _suffix_mismatch(suffix: str, fmt: str) -> bool:
    expected = _SUFFIX_FORMATS.get(suffix)
    if expected is None:
        return bool(suffix)  # an image under a non-image ending (or a made-up one)
    if expected == "JPEG" and fmt == "MPO":  # multi-picture JPEG from some cameras
        return False
    return expected != fmt


def _inspect_dicom(path: Path, n_bytes: int, max_pixels: int, measure: bool) -> ImageInfo:
    ds = _dicom_dataset(path)
    rgb = _dicom_to_rgb(ds, max_pixels)
    bits = int(getattr(ds, "BitsStored", 0) or getattr(ds, "BitsAllocated", 8) or 8)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
    modality = str(getattr(ds, "Modality", "") or "") or None
    numbers = image_quality_numbers(rgb) if measure else {}
    return ImageInfo(
        width=rgb.width,
        height=rgb.height,
        mode=f"DICOM {photometric}",
        format="DICOM",
        n_bytes=n_bytes,
        sha256=file_sha256(path),
        channels=samples,
        bit_depth=bits,
        n_frames=int(getattr(ds, "NumberOfFrames", 1) or 1),
        exif_rotated=False,
        suffix_mismatch=path.suffix.lower() not in DICOM_SUFFIXES and path.suffix != "",
        modality=modality,
        **numbers,
    )


ELONGATED_ASPECT = 1.3
"""Median long/short side ratio from which the whole image is resized into the square
instead of centre-cropped: a centre crop at 1.3 already drops a quarter of the image,
and defects at the ends of elongated parts (the magnetic tiles, median 1.42) are lost."""


def aspect_ratios(paths: Sequence[Path], limit: int = 200) -> list[float]:
    """Long/short side ratios read from the headers of up to ``limit`` evenly spread images."""
    paths = sorted(paths)  # the same images whatever order the caller lists them in
    if not paths:
        return []
    step = max(1, len(paths) // limit)
    ratios = []
    for path in paths[::step][:limit]:
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # DICOM or unreadable: the decoders decide later
        if min(w, h) > 0:
            ratios.append(max(w, h) / min(w, h))
    return ratios


def choose_resize_mode(paths: Sequence[Path], threshold: float = ELONGATED_ASPECT) -> str:
    """``"squash"`` (resize the whole image) for elongated samples, else ``"crop"``.

    Args:
        paths: The sample's images.
        threshold: Median long/short ratio from which the whole image is kept.

    Returns:
        "crop" or "squash".

    """
    ratios = aspect_ratios(paths)
    if ratios and float(np.median(ratios)) >= threshold:
        return "squash"
    return "crop"
