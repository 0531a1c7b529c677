"""The feasibility report, rendered from a result document.

Two stages in the manner of ydata-profiling: the result (description) is turned into
the HTML by one Jinja environment with autoescaping on, so every client-provided
string (file names, class names) appears as text, never as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from advisor.i18n import check_language, pick, t


def _environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("advisor", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = lambda key, **kw: t(key, language, **kw)
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * float(v):.1f}%"
    env.filters["pick"] = lambda v: pick(v, language)
    return env


def render_html(result: dict[str, Any], language: str = "en") -> str:
    """Render the report as one self-contained HTML page.

    Args:
        result: A result document (see :mod:`advisor.result`).
        language: "ko" or "en".

    Returns:
        The HTML text.

    """
    check_language(language)
    template = _environment(language).get_template("report.html.j2")
    return template.render(r=result, lang=language)


def write_report(result: dict[str, Any], out_dir: Path, language: str = "en") -> Path:
    """Render the HTML report into ``out_dir/report.html`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(render_html(result, language), encoding="utf-8")
    return path
