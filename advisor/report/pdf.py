"""Render the report as PDF, from the same model, with an embedded Korean font.

Why WeasyPrint: it lays out the same HTML and CSS as the screen report (one template,
one stylesheet, CSS paged media for page numbers and breaks), embeds and subsets
TrueType/OpenType fonts so Korean text renders in any viewer and stays extractable,
draws the report's SVG charts natively, and needs no browser (a headless Chromium
print would add a ~300 MB dependency; ReportLab would need a second layout of every
section). It is imported only when a PDF is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from advisor.report.fonts import require_korean_font
from advisor.report.model import ReportModel
from advisor.report.options import ReportOptions
from advisor.report.render import render_html, render_summary_html

FONT_FAMILY = "ReportSans"


class PdfUnavailable(RuntimeError):
    """The PDF renderer (WeasyPrint and its Pango library) is not installed."""


def bold_companion(font: Path) -> Path:
    """The bold face installed beside a regular font file (NanumGothicBold.ttf...), else it."""
    stem = font.stem.removesuffix("-Regular")
    for name in (f"{stem}Bold{font.suffix}", f"{stem}-Bold{font.suffix}"):
        candidate = font.with_name(name)
        if candidate.is_file():
            return candidate
    return font


def font_face_css(font: Path) -> str:
    """``@font-face`` rules that make a local font file the report's ``ReportSans``."""
    regular = font.resolve().as_uri()
    bold = bold_companion(font).resolve().as_uri()
    return (
        f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{regular}"); '
        f"font-weight: normal; }}\n"
        f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{bold}"); '
        f"font-weight: bold; }}\n"
    )


@contextmanager
def _pillow_settings_kept() -> Iterator[None]:
    """Restore Pillow's truncated-image switch, which WeasyPrint turns on for the process.

    Left on, every later decode in the app would silently accept truncated files that
    the intake must report as broken.
    """
    from PIL import ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def render_pdf(model: ReportModel, options: ReportOptions | None = None) -> bytes:
    """Render the report model as a PDF (see :func:`_render_pdf`)."""
    with _pillow_settings_kept():
        return _render_pdf(model, options)


def _render_pdf(model: ReportModel, options: ReportOptions | None = None) -> bytes:
    """Render the report model as PDF bytes.

    Charts are drawn as static SVG; the Korean font (see
    :func:`advisor.report.fonts.find_korean_font`) is embedded for both languages, so
    client-provided names in Korean render in an English report too. Only ``file:``
    (the font) and ``data:`` (images) URLs are fetched: nothing from the network.

    Args:
        model: The report model.
        options: Rendering options (the PDF always uses static charts).

    Returns:
        The PDF document.

    Raises:
        advisor.report.fonts.FontNotFound: No font with Korean glyphs is installed.
        PdfUnavailable: WeasyPrint cannot be imported.

    """
    font = require_korean_font()
    html = render_html(model, options=options, mode="print", font_css=font_face_css(font))
    return _html_to_pdf(html)


def render_summary_pdf(model: ReportModel) -> bytes:
    """Render the one-page client summary of a report model as a PDF.

    Raises:
        advisor.report.fonts.FontNotFound: No font with Korean glyphs is installed.
        PdfUnavailable: WeasyPrint cannot be imported.

    """
    with _pillow_settings_kept():
        font = require_korean_font()
        html = render_summary_html(model, mode="print", font_css=font_face_css(font))
        return _html_to_pdf(html)


def _html_to_pdf(html: str) -> bytes:
    """Lay out print-mode HTML with WeasyPrint, fetching only ``file:`` and ``data:``."""
    try:
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(
            f"PDF export needs WeasyPrint and the Pango library ({exc}): install them with "
            "`pip install weasyprint` (Debian/Ubuntu also `apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0`)."
        ) from exc
    fetcher = URLFetcher(allowed_protocols={"file", "data"}, timeout=5)
    # WeasyPrint logs every CSS property it ignores; the report's screen-only rules
    # would flood the caller's log.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = HTML(string=html, url_fetcher=fetcher)
    return document.write_pdf(font_config=FontConfiguration())
