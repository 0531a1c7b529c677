"""Limits on what an upload may be, and the error every intake refusal raises."""

from __future__ import annotations

from dataclasses import dataclass

from engines.errors import UserError


class IntakeError(UserError, ValueError):
    """An upload that cannot be used at all.

    The message is one line for the consultant: what is wrong and what to do. Files
    that are merely broken do not raise; they are listed as skipped.
    """


@dataclass(frozen=True)
class IntakeLimits:
    """How big an upload may be before it is refused.

    Attributes:
        max_upload_bytes: Largest zip accepted, checked from the file size before
            reading (2 GiB: a sample, not the whole archive, is what the advice needs).
        max_uncompressed_bytes: Largest total size the zip may unpack to (8 GiB).
        max_ratio: Largest overall uncompressed/compressed ratio (zip-bomb guard).
            Photos and PNGs compress 1-3x; even flat synthetic BMPs rarely pass 100x,
            while bombs reach 1,000x and more.
        max_members: Most entries a zip may hold.
        max_image_pixels: Largest width x height decoded per image (decompression-bomb
            guard, checked from each header before decoding).
        max_decoded_bytes: Largest memory one image's decode may take, width x height x
            bands x bytes per sample (with the float working copies of 16-bit and
            float data), checked from each header before decoding (1 GiB).
        ratio_check_min_bytes: Below this total uncompressed size the ratio is not
            checked (a small zip of blank masks can compress very well and is harmless).

    """

    max_upload_bytes: int = 2 * 1024**3
    max_uncompressed_bytes: int = 8 * 1024**3
    max_ratio: float = 200.0
    max_members: int = 200_000
    max_image_pixels: int = 100_000_000
    max_decoded_bytes: int = 1024**3
    ratio_check_min_bytes: int = 32 * 1024**2


def human_bytes(n: float) -> str:
    """Format a byte count for a message ("1.5 GB")."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover
