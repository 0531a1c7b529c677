"""Render a report model as one self-contained HTML page (the "render" stage).

One Jinja environment with autoescaping: every text of the client (class names, file
names, the goal) is escaped. Numbers are drawn through :func:`num_html`, which writes
their source beside them (``data-src``), so each figure on the page can be traced back
to result.json. Two flavours come from the same template: ``screen`` (interactive
plotly charts, plotly.js inlined) and ``print`` (static SVG charts, page layout for the
PDF renderer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from advisor.report import charts
from advisor.report.model import Phrase, ReportModel
from advisor.report.numbers import Estimate, Num, format_num
from advisor.report.options import ReportOptions

MODES: tuple[str, ...] = ("screen", "print")


def num_html(num: Num) -> Markup:
    """A number with its source: ``<span class="num" data-src=...>95.2%</span>``."""
    if num.derived:
        title = f"= {num.formula}" + (f" ← {', '.join(num.inputs)}" if num.inputs else "")
        attrs = (
            f' data-formula="{escape(num.formula)}"'
            f' data-inputs="{escape(json.dumps(list(num.inputs), ensure_ascii=False))}"'
        )
    else:
        title = num.source
        attrs = f' data-src="{escape(num.source)}"'
    return Markup(
        f'<span class="num" data-kind="{escape(num.kind)}" data-value="{escape(repr(num.value))}"'
        f'{attrs} title="{escape(title)}">{escape(format_num(num))}</span>'
    )


def estimate_html(est: Estimate) -> Markup:
    """A number with its interval: ``95.2% [77.3–99.2%]``; an open end shows as ``…``."""
    value = num_html(est.value)
    if est.low is None and est.high is None:
        return value
    low = num_html(est.low) if est.low is not None else Markup("…")
    high = num_html(est.high) if est.high is not None else Markup("…")
    title = f' title="{escape(est.method)}"' if est.method else ""
    return Markup(f'<span class="est">{value} <span class="ci"{title}>[{low}–{high}]</span></span>')


def phrase_html(phrase: Phrase) -> Markup:
    """Fill a localized sentence: texts are escaped, numbers keep their sources."""
    return Markup(escape(phrase.template)).format(
        **{k: value_html(v) for k, v in phrase.params.items()}
    )


def value_html(value: Any) -> Markup:
    """Draw any cell of the model (Num, Estimate, Phrase, text; None as a dash)."""
    if value is None:
        return Markup("–")
    if isinstance(value, Num):
        return num_html(value)
    if isinstance(value, Estimate):
        return estimate_html(value)
    if isinstance(value, Phrase):
        return phrase_html(value)
    return escape(str(value))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("advisor", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["v"] = value_html
    return env


def _chart_renderer(mode: str, interactive: bool) -> Callable[[charts.Chart], Markup]:
    def draw(chart: charts.Chart) -> Markup:
        if mode == "screen" and interactive:
            return Markup(charts.plotly_html(chart))
        return Markup(charts.svg(chart))

    return draw


def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package, safe to inline in <script>."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def render_html(
    model: ReportModel | Mapping[str, Any],
    language: str | None = None,
    *,
    options: ReportOptions | None = None,
    mode: str = "screen",
    font_css: str = "",
) -> str:
    """Render the report as one self-contained HTML page.

    Args:
        model: A :class:`ReportModel`, or a result document (then built with
            ``language`` and ``options``; kept for callers of the earlier API).
        language: Language when ``model`` is a result document ("en" by default).
        options: Options when ``model`` is a result document; also decides whether
            charts are interactive.
        mode: "screen" (interactive charts) or "print" (static charts, for the PDF).
        font_css: Extra CSS (``@font-face`` rules) placed before the report's styles.

    Returns:
        The HTML text; it loads nothing from the network.

    Raises:
        ValueError: For an unknown mode or language.

    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}: use 'screen' or 'print'.")
    options = options or ReportOptions()
    if not isinstance(model, ReportModel):
        from advisor.report.build import build_report_model

        model = build_report_model(model, language or "en", options)
    elif language is not None and language != model.language:
        raise ValueError(
            f"The model is in {model.language!r}; build it again to render {language!r}."
        )
    interactive = options.interactive_charts and mode == "screen"
    has_charts = any(b.kind == "chart" for s in model.sections for b in s.blocks)
    template = _environment().get_template("report.html.j2")
    return template.render(
        m=model,
        mode=mode,
        chart=_chart_renderer(mode, interactive),
        plotly_js=Markup(plotly_js()) if interactive and has_charts else "",
        font_css=Markup(font_css),
    )


def render_summary_html(model: ReportModel, *, mode: str = "screen", font_css: str = "") -> str:
    """Render the one-page client summary of a report model as self-contained HTML.

    Args:
        model: A report model built by :func:`advisor.report.build.build_report_model`
            (its ``client`` summary and ``decision`` are drawn).
        mode: "screen" or "print" (page layout for the PDF renderer).
        font_css: Extra CSS (``@font-face`` rules) placed before the summary's styles.

    Returns:
        The HTML text; it loads nothing from the network.

    Raises:
        ValueError: For an unknown mode, or a model without a client summary.

    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}: use 'screen' or 'print'.")
    if model.client is None:
        raise ValueError(
            "The report model has no client summary: build it with build_report_model."
        )
    template = _environment().get_template("summary.html.j2")
    return template.render(m=model, mode=mode, font_css=Markup(font_css))
