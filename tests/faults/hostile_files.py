"""Generators of hostile files that are tiny on disk and huge once decoded.

Built without ever holding the decoded image: the compressed stream of zero rows is
written chunk by chunk, so a 10,000 x 9,900 16-bit PNG costs a few hundred KB of disk
and a few MB of memory to make.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_ROWS_PER_CHUNK = 256


def _zero_rows_deflated(row_bytes: int, rows: int, wbits: int = zlib.MAX_WBITS) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, wbits)
    block = bytes(row_bytes * _ROWS_PER_CHUNK)
    out = []
    done = 0
    while done < rows:
        n = min(_ROWS_PER_CHUNK, rows - done)
        out.append(packer.compress(block if n == _ROWS_PER_CHUNK else bytes(row_bytes * n)))
        done += n
    out.append(packer.flush())
    return b"".join(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def huge_png16(path: Path, width: int = 10_000, height: int = 9_900) -> Path:
    """A complete, valid 16-bit grayscale PNG of zeros (99 MP by default)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    # Each row: filter byte 0, then 2 bytes per pixel.
    idat = _zero_rows_deflated(1 + 2 * width, height)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def huge_float_tiff(path: Path, width: int = 8_000, height: int = 8_000) -> Path:
    """A complete, valid 32-bit float grayscale TIFF of zeros, deflate-compressed."""
    data = _zero_rows_deflated(4 * width, height)
    entries = [  # (tag, type, count, value); types: 3 SHORT, 4 LONG
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 32),
        (259, 3, 1, 8),
        (262, 3, 1, 1),
        (273, 4, 1, 0),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, len(data)),
        (339, 3, 1, 3),
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = ifd_offset + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + data)
    return path
