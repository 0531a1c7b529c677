"""Write the report files of a run from one model.

The full report (report.html, report.pdf) and the one-page client summary beside it
(summary.html, summary.pdf).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.report.build import build_report_model
from advisor.report.options import ReportOptions
from advisor.report.render import render_html, render_summary_html

FORMATS: tuple[str, ...] = ("html", "pdf")
LOG = logging.getLogger(__name__)


def write_report(
    result: Mapping[str, Any],
    out_dir: Path,
    language: str = "en",
    formats: Sequence[str] | None = None,
    options: ReportOptions | None = None,
    image_root: Path | None = None,
) -> Path:
    """Render the report of a result into ``out_dir`` (``report.html``, ``report.pdf``).

    The one-page client summary of the same model is written beside each format
    (``summary.html``, ``summary.pdf``).

    Args:
        result: A parsed result.json.
        out_dir: Folder to write into (created if needed).
        language: "ko" or "en".
        formats: Any of "html" and "pdf". None (the default) writes both, the PDF only
            where the machine can render it (a Korean font and WeasyPrint): a missing
            one is logged and the HTML is still written. Naming "pdf" explicitly makes
            it required.
        options: Costs, rates and rendering choices (defaults: :class:`ReportOptions`).
        image_root: Folder the result's image paths refer to (the unpacked upload);
            overrides ``options.image_root``. Thumbnails are embedded where files exist.

    Returns:
        The path of the first format written (``report.html`` by default).

    Raises:
        ValueError: For an unknown format or language, or no format at all.
        advisor.report.fonts.FontNotFound: A PDF was asked for and no Korean font exists.
        advisor.report.pdf.PdfUnavailable: A PDF was asked for and WeasyPrint is missing.

    """
    strict_pdf = formats is not None
    wanted = list(dict.fromkeys(FORMATS if formats is None else formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise ValueError(
            f"Unknown report format(s) {unknown or wanted!r}: use 'html' and/or 'pdf'."
        )
    options = options or ReportOptions()
    if image_root is not None:
        options = replace(options, image_root=Path(image_root))
    model = build_report_model(result, language, options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in wanted:
        if fmt == "html":
            _write(out_dir / "report.html", render_html(model, options=options).encode("utf-8"))
            _write(out_dir / "summary.html", render_summary_html(model).encode("utf-8"))
        else:
            from advisor.report.fonts import FontNotFound
            from advisor.report.pdf import PdfUnavailable, render_pdf, render_summary_pdf

            try:
                report, summary = render_pdf(model, options), render_summary_pdf(model)
            except (FontNotFound, PdfUnavailable) as exc:
                if strict_pdf:
                    raise
                LOG.warning("report.pdf not written: %s", exc)
                continue
            _write(out_dir / "report.pdf", report)
            _write(out_dir / "summary.pdf", summary)
        written.append(out_dir / f"report.{fmt}")
    return written[0]


def _write(path: Path, data: bytes) -> None:
    """Write a file atomically (a reader never sees half of it)."""
    tmp = path.with_suffix(f"{path.suffix}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
