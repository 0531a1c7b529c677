"""Generators of messy client uploads, built in a test's temporary folder.

Everything is generated (numpy / Pillow / scikit-image's bundled sample photos); no
network. Images are small (32-96 px) so the whole suite stays fast.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASS_COLOURS = [
    (200, 40, 40),
    (40, 160, 60),
    (50, 70, 200),
    (210, 180, 30),
    (150, 60, 170),
    (30, 170, 170),
    (240, 120, 20),
    (120, 120, 120),
]


def class_image(class_idx: int, seed: int, size: int = 48) -> Image.Image:
    """A distinct, class-typical RGB image: class colour, class stripe angle, noise."""
    rng = np.random.default_rng(seed * 7919 + class_idx)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = (class_idx * 37 % 180) * np.pi / 180
    freq = 0.25 + 0.05 * (class_idx % 4) + rng.uniform(-0.04, 0.04)
    angle += rng.uniform(-0.15, 0.15)
    stripes = 0.5 + 0.5 * np.sin(
        freq * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 6.28)
    )
    colour = np.asarray(CLASS_COLOURS[class_idx % len(CLASS_COLOURS)], dtype=np.float32)
    img = stripes[..., None] * colour[None, None, :] * 0.8 + 30
    img += rng.normal(0, 12, size=img.shape)
    # random blobs so that two images of a class are never alike
    for _ in range(2):
        cy, cx = rng.integers(0, size, 2)
        r = rng.integers(size // 8, size // 3)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
        img[blob] = rng.uniform(0, 255, 3)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8), "RGB")


def save(img: Image.Image, path: Path, fmt: str | None = None, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **kwargs)
    return path


def make_class_tree(
    root: Path,
    counts: dict[str, int],
    size: int = 48,
    ext: str = ".png",
    split: str | None = None,
    seed: int = 0,
) -> list[Path]:
    """Write ``root/[split/]class/class_i.ext`` images; return their paths."""
    paths = []
    for k, (label, n) in enumerate(counts.items()):
        for i in range(n):
            folder = root / split / label if split else root / label
            p = folder / f"{label}_{i}{ext}"
            save(class_image(k, seed * 100_003 + i, size), p)
            paths.append(p)
    return paths


def zip_dir(folder: Path, zip_path: Path, prefix: str = "") -> Path:
    """Zip a folder's files with relative names (optionally under a prefix)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
    return zip_path


def zip_members(
    zip_path: Path, members: Iterable[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    """Write a zip with exactly these entry names and bytes (names may be hostile)."""
    with zipfile.ZipFile(zip_path, "w", compression) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            zf.writestr(info, data)
    return zip_path


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size but holds a tiny data stream (a pixel bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_dicom(
    path: Path,
    size: int = 64,
    modality: str = "CT",
    bits: int = 16,
    window: tuple[float, float] | None = (40.0, 400.0),
    photometric: str = "MONOCHROME2",
) -> Path:
    """Write a small uncompressed DICOM image with pydicom (synthetic CT-like values)."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\x00" * 128)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = "TEST"
    ds.Rows = size
    ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    yy, xx = np.mgrid[0:size, 0:size]
    hu = np.where((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2, 1100, 900)
    ds.PixelData = hu.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    del pydicom
    return path
