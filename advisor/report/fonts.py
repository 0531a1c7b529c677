"""Find a font with Korean glyphs for the PDF (embedded, subset, by the PDF renderer).

Looked up in order: the ``FEASIBILITY_REPORT_FONT`` environment variable (a .ttf/.otf
file), the files of the Debian/Ubuntu packages ``fonts-nanum`` and ``fonts-noto-cjk``
(and their usual places on other systems), then fontconfig (``fc-match :lang=ko``).
Nanum Gothic (SIL Open Font License) is preferred: a plain TrueType file that every PDF
viewer renders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FONT_ENV = "FEASIBILITY_REPORT_FONT"
INSTALL_HINT = (
    "No font with Korean glyphs was found for the PDF report: install one "
    "(Debian/Ubuntu: `apt-get install fonts-nanum`) or set FEASIBILITY_REPORT_FONT to a "
    ".ttf or .otf file with Korean glyphs."
)
CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum-gothic/NanumGothic.ttf",
    "/usr/share/fonts/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/Library/Fonts/AppleGothic.ttf",
    "C:/Windows/Fonts/malgun.ttf",
)
_SUFFIXES = (".ttf", ".otf", ".ttc")


class FontNotFound(RuntimeError):
    """No Korean font is available; the message says how to install one."""


def _fontconfig() -> Path | None:
    """A regular-weight font fontconfig lists as covering Korean, or None."""
    exe = shutil.which("fc-list")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, ":lang=ko", "--format=%{file}\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    files = [
        Path(line)
        for line in out.stdout.splitlines()
        if line.strip() and Path(line).suffix.lower() in _SUFFIXES
    ]
    files = [p for p in files if p.is_file()]

    def rank(path: Path) -> tuple[int, str]:
        name = path.name.lower()
        heavy = any(w in name for w in ("bold", "black", "heavy", "light", "thin", "coding"))
        return (1 if heavy else 0, name)

    return min(files, key=rank, default=None)


def find_korean_font() -> Path | None:
    """Return a font file with Korean glyphs, or None where none is installed.

    Raises:
        FontNotFound: If ``FEASIBILITY_REPORT_FONT`` names a file that does not exist.

    """
    configured = os.environ.get(FONT_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FontNotFound(
                f"{FONT_ENV}={configured!r} is not a font file: point it at a .ttf or .otf "
                "file with Korean glyphs, or unset it."
            )
        return path
    for candidate in CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    return _fontconfig()


def require_korean_font() -> Path:
    """Like :func:`find_korean_font`, but raise :class:`FontNotFound` when there is none."""
    path = find_korean_font()
    if path is None:
        raise FontNotFound(INSTALL_HINT)
    return path
