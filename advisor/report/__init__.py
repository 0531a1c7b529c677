"""The feasibility report the client keeps, rendered from a result document.

Three stages in the manner of ydata-profiling: the result (the description) is read
into a :class:`ReportModel` (structure: sections of typed blocks, every number with its
source pointer) by :func:`build_report_model`; renderers draw the same model as one
self-contained HTML page (:func:`render_html`) or a PDF with an embedded Korean font
(:func:`render_pdf`). :func:`write_report` does all three for a run folder.
"""

from advisor.report.build import build_report_model
from advisor.report.decision import decide
from advisor.report.model import ReportModel
from advisor.report.options import ReportOptions
from advisor.report.render import render_html, render_summary_html
from advisor.report.write import FORMATS, write_report


def render_summary_pdf(model: ReportModel) -> bytes:
    """Render the one-page client summary as PDF bytes (see :mod:`advisor.report.pdf`)."""
    from advisor.report.pdf import render_summary_pdf as _render_summary_pdf

    return _render_summary_pdf(model)


def render_pdf(model: ReportModel, options: ReportOptions | None = None) -> bytes:
    """Render a report model as PDF bytes (see :func:`advisor.report.pdf.render_pdf`)."""
    from advisor.report.pdf import render_pdf as _render_pdf

    return _render_pdf(model, options)


__all__ = [
    "FORMATS",
    "ReportModel",
    "ReportOptions",
    "build_report_model",
    "decide",
    "render_html",
    "render_pdf",
    "render_summary_html",
    "render_summary_pdf",
    "write_report",
]
