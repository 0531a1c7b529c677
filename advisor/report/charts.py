"""Chart specs of the report, drawn as interactive plotly (HTML) or static SVG (PDF).

A spec holds the numbers (as :class:`Num`, with their sources) and the localized
words; :func:`plotly_html` and :func:`svg` draw the same spec. The SVG drawing is done
here rather than by a plotting library so the PDF needs no browser or image exporter
and its text stays text (searchable, in the embedded Korean font).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from advisor.report.numbers import Estimate, Num, format_value

FONT = "ReportSans, 'Nanum Gothic', NanumGothic, 'Noto Sans CJK KR', 'Noto Sans KR', sans-serif"
BLUE, GREY, RED, GREEN, ORANGE = "#2b6cb0", "#9aa5b1", "#c53030", "#2f855a", "#dd6b20"


@dataclass
class RefLine:
    """A horizontal reference line (target, chance) across a chart."""

    label: str
    value: Num
    color: str = RED


@dataclass
class Bar:
    """One bar with an optional interval; ``highlight`` marks the chosen one."""

    label: str
    value: Num
    low: Num | None = None
    high: Num | None = None
    highlight: bool = False


@dataclass
class BarChart:
    """Bars with intervals: strategies, backbones, class counts."""

    id: str
    title: str
    axis_title: str
    bars: list[Bar]
    lines: list[RefLine] = field(default_factory=list)
    value_kind: str = "percent"
    horizontal: bool = False


@dataclass
class CurvePoint:
    """A measured point of the learning curve: size, mean score and its spread."""

    x: Num
    y: Num
    spread: Num | None = None


@dataclass
class CurveChart:
    """The learning curve: measured points, the fitted law, predictions with intervals."""

    id: str
    title: str
    x_title: str
    y_title: str
    observed: list[CurvePoint]
    predictions: list[tuple[Num, Estimate]]
    fit: tuple[Num, Num, Num] | None
    legend: dict[str, str]
    lines: list[RefLine] = field(default_factory=list)


@dataclass
class HeatmapChart:
    """A confusion matrix: rows are true classes, columns predicted ones."""

    id: str
    title: str
    x_title: str
    y_title: str
    labels: list[str]
    cells: list[list[Num]]


Chart = BarChart | CurveChart | HeatmapChart


def fitted_curve(
    fit: tuple[Num, Num, Num], x_low: float, x_high: float, steps: int = 60
) -> list[tuple[float, float]]:
    """Points of acc(n) = a − b·n^(−c) on a log grid (display only, from the fit's a, b, c)."""
    a, b, c = (float(v.value) for v in fit)
    lo, hi = math.log(max(x_low, 1.0)), math.log(max(x_high, x_low + 1.0))
    xs = [math.exp(lo + (hi - lo) * i / (steps - 1)) for i in range(steps)]
    return [(x, min(max(a - b * x ** (-c), 0.0), 1.0)) for x in xs]


# ------------------------------------------------------------------------- plotly


def _pct_axis(kind: str) -> dict:
    return {"tickformat": ".0%", "range": [0, 1.05]} if kind == "percent" else {}


def plotly_figure(chart: Chart) -> dict:
    """The plotly figure (as a JSON-ready dict) of a chart spec."""
    layout: dict = {
        "title": {"text": chart.title, "font": {"size": 15}},
        "font": {"family": FONT, "size": 12},
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "height": 360,
        "template": "plotly_white",
        "showlegend": False,
    }
    data: list[dict] = []
    if isinstance(chart, BarChart):
        ok = chart.bars
        values = [b.value.value for b in ok]
        plus = [(b.high.value - b.value.value) if b.high else 0 for b in ok]
        minus = [(b.value.value - b.low.value) if b.low else 0 for b in ok]
        labels = [b.label for b in ok]
        text = [format_value(b.value.value, b.value.kind) for b in ok]
        colors = (
            [BLUE if b.highlight else GREY for b in ok]
            if any(b.highlight for b in ok)
            else [BLUE] * len(ok)
        )
        whiskers = any(plus) or any(minus)
        # Labels go inside the bars where whiskers would cross them.
        bar: dict = {
            "type": "bar",
            "marker": {"color": colors},
            "text": text,
            "textposition": "inside" if whiskers else "outside",
            "insidetextanchor": "middle",
            "cliponaxis": False,
        }
        err = {
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "visible": whiskers,
            "color": "#1f2933",
        }
        if chart.horizontal:
            bar.update(x=values, y=labels, orientation="h", error_x=err)
            layout["xaxis"] = {"title": {"text": chart.axis_title}, **_pct_axis(chart.value_kind)}
            layout["yaxis"] = {"automargin": True, "autorange": "reversed"}
            layout["height"] = max(220, 110 + 30 * len(ok))
        else:
            bar.update(x=labels, y=values, error_y=err)
            layout["yaxis"] = {"title": {"text": chart.axis_title}, **_pct_axis(chart.value_kind)}
            layout["xaxis"] = {"automargin": True}
        data.append(bar)
        layout["shapes"], layout["annotations"] = _plotly_lines(chart.lines, chart.horizontal)
    elif isinstance(chart, CurveChart):
        xs = [p.x.value for p in chart.observed]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": chart.legend.get("observed", ""),
                "x": xs,
                "y": [p.y.value for p in chart.observed],
                "error_y": {
                    "type": "data",
                    "array": [p.spread.value if p.spread else 0 for p in chart.observed],
                },
                "marker": {"color": BLUE, "size": 9},
            }
        )
        if chart.fit is not None and xs:
            high = max([x.value for x, _ in chart.predictions] + xs)
            pts = fitted_curve(chart.fit, min(xs), high * 1.2)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": chart.legend.get("fit", ""),
                    "x": [p[0] for p in pts],
                    "y": [p[1] for p in pts],
                    "line": {"color": BLUE, "dash": "dot"},
                    "hoverinfo": "skip",
                }
            )
        if chart.predictions:
            preds = chart.predictions
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": chart.legend.get("predicted", ""),
                    "x": [x.value for x, _ in preds],
                    "y": [e.value.value for _, e in preds],
                    "error_y": {
                        "type": "data",
                        "symmetric": False,
                        "array": [
                            (e.high.value - e.value.value) if e.high else 0 for _, e in preds
                        ],
                        "arrayminus": [
                            (e.value.value - e.low.value) if e.low else 0 for _, e in preds
                        ],
                    },
                    "marker": {"color": ORANGE, "size": 11, "symbol": "diamond"},
                }
            )
        layout["showlegend"] = True
        layout["legend"] = {"orientation": "h", "y": -0.25}
        layout["xaxis"] = {"type": "log", "title": {"text": chart.x_title}}
        layout["yaxis"] = {"title": {"text": chart.y_title}, **_pct_axis("percent")}
        layout["shapes"], layout["annotations"] = _plotly_lines(chart.lines, False)
    else:
        z = [[c.value for c in row] for row in chart.cells]
        totals = [sum(row) or 1 for row in z]
        data.append(
            {
                "type": "heatmap",
                "x": chart.labels,
                "y": chart.labels,
                "z": [[v / totals[i] for v in row] for i, row in enumerate(z)],
                "text": [[str(int(v)) for v in row] for row in z],
                "texttemplate": "%{text}",
                "colorscale": [[0, "#f5f8fc"], [1, "#2b4c8c"]],
                "zmin": 0,
                "zmax": 1,
                "showscale": False,
                "hovertemplate": "%{y} → %{x}: %{text}<extra></extra>",
            }
        )
        layout["xaxis"] = {"title": {"text": chart.x_title}, "side": "bottom", "automargin": True}
        layout["yaxis"] = {
            "title": {"text": chart.y_title, "standoff": 12},
            "autorange": "reversed",
            "automargin": True,
        }
        layout["height"] = max(300, 120 + 40 * len(chart.labels))
    return {"data": data, "layout": layout}


def _plotly_lines(lines: list[RefLine], horizontal: bool) -> tuple[list, list]:
    shapes, notes = [], []
    for line in lines:
        v = line.value.value
        if horizontal:
            shapes.append(
                {
                    "type": "line",
                    "x0": v,
                    "x1": v,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": line.color, "dash": "dash"},
                }
            )
            notes.append(
                {
                    "x": v,
                    "yref": "paper",
                    "y": 1.02,
                    "text": line.label,
                    "showarrow": False,
                    "font": {"color": line.color},
                }
            )
        else:
            shapes.append(
                {
                    "type": "line",
                    "y0": v,
                    "y1": v,
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "line": {"color": line.color, "dash": "dash"},
                }
            )
            notes.append(
                {
                    "y": v,
                    "xref": "paper",
                    "x": 1,
                    "xanchor": "right",
                    "yanchor": "bottom",
                    "text": line.label,
                    "showarrow": False,
                    "font": {"color": line.color},
                }
            )
    return shapes, notes


def plotly_html(chart: Chart) -> str:
    """A div and the script that draws the chart with the page's inlined plotly.js."""
    figure = json.dumps(plotly_figure(chart), ensure_ascii=False).replace("</", "<\\/")
    config = json.dumps(
        {
            "displaylogo": False,
            "responsive": True,
            "modeBarButtonsToRemove": ["select2d", "lasso2d"],
        }
    )
    div_id = f"chart-{chart.id}"
    return (
        f'<div id="{escape(div_id)}" class="plotly-chart"></div>\n'
        f"<script>(function(){{var f={figure};"
        f"Plotly.newPlot({json.dumps(div_id)},f.data,f.layout,{config});}})();</script>"
    )


# ---------------------------------------------------------------------------- SVG


def _text(
    x: float,
    y: float,
    s: str,
    size: int = 11,
    anchor: str = "start",
    color: str = "#1f2933",
    weight: str = "normal",
    rotate: float | None = None,
) -> str:
    transform = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{color}" font-weight="{weight}"{transform}>{escape(s)}</text>'
    )


def _line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    color: str = "#1f2933",
    width: float = 1.0,
    dash: str = "",
) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{color}" stroke-width="{width:g}"{d}/>'
    )


def _short(label: str, n: int = 18) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp  # pragma: no cover


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}" role="img">'
        f"<title>{escape(title)}</title>"
        + _text(width / 2, 18, title, 13, "middle", weight="bold")
        + "".join(body)
        + "</svg>"
    )


def _bar_svg(chart: BarChart) -> str:
    if chart.horizontal:
        return _hbar_svg(chart)
    width, height = 640, 300
    left, right, top, bottom = 56, 20, 34, 62
    pw, ph = width - left - right, height - top - bottom
    top_value = (
        1.0
        if chart.value_kind == "percent"
        else _nice_max(max([b.high.value if b.high else b.value.value for b in chart.bars] + [0]))
    )
    y = lambda v: top + ph * (1 - min(max(v / top_value, 0), 1.05))  # noqa: E731
    body = []
    for i in range(6):
        v = top_value * i / 5
        body.append(_line(left, y(v), left + pw, y(v), "#e4e7eb"))
        body.append(
            _text(
                left - 6,
                y(v) + 4,
                format_value(v, chart.value_kind)
                if chart.value_kind != "percent"
                else f"{100 * v:.0f}%",
                10,
                "end",
            )
        )
    n = max(len(chart.bars), 1)
    slot = pw / n
    bw = min(slot * 0.6, 70)
    any_high = any(b.highlight for b in chart.bars)
    for i, b in enumerate(chart.bars):
        cx = left + slot * (i + 0.5)
        color = BLUE if (b.highlight or not any_high) else GREY
        y0 = y(b.value.value)
        body.append(
            f'<rect x="{cx - bw / 2:.1f}" y="{y0:.1f}" width="{bw:.1f}" '
            f'height="{top + ph - y0:.1f}" fill="{color}"/>'
        )
        if b.low is not None and b.high is not None:
            body.append(_line(cx, y(b.low.value), cx, y(b.high.value), width=1.5))
            for v in (b.low.value, b.high.value):
                body.append(_line(cx - 6, y(v), cx + 6, y(v), width=1.5))
        label_y = min(y0, y(b.high.value) if b.high else y0) - 5
        body.append(_text(cx, label_y, format_value(b.value.value, b.value.kind), 10, "middle"))
        body.append(
            _text(cx, top + ph + 16, _short(b.label, int(max(slot / 6.5, 8))), 10, "middle")
        )
    for line in chart.lines:
        body.append(
            _line(left, y(line.value.value), left + pw, y(line.value.value), line.color, 1.2, "5,4")
        )
        body.append(_text(left + pw, y(line.value.value) - 4, line.label, 10, "end", line.color))
    body.append(_line(left, top + ph, left + pw, top + ph))
    body.append(_text(14, top + ph / 2, chart.axis_title, 11, "middle", rotate=-90))
    return _svg(width, height, chart.title, body)


def _hbar_svg(chart: BarChart) -> str:
    rows = max(len(chart.bars), 1)
    width, height = 640, 60 + 24 * rows
    left, right, top = 150, 70, 30
    pw = width - left - right
    top_value = (
        1.0
        if chart.value_kind == "percent"
        else _nice_max(max([b.high.value if b.high else b.value.value for b in chart.bars] + [0]))
    )
    x = lambda v: left + pw * min(max(v / top_value, 0), 1.0)  # noqa: E731
    body = []
    for i, b in enumerate(chart.bars):
        cy = top + 24 * i + 12
        body.append(_text(left - 6, cy + 4, _short(b.label, 24), 10, "end"))
        body.append(
            f'<rect x="{left}" y="{cy - 8:.1f}" width="{x(b.value.value) - left:.1f}" '
            f'height="16" fill="{BLUE}"/>'
        )
        body.append(
            _text(x(b.value.value) + 4, cy + 4, format_value(b.value.value, b.value.kind), 10)
        )
    body.append(_line(left, top, left, top + 24 * rows))
    body.append(_text(left + pw / 2, height - 8, chart.axis_title, 11, "middle"))
    return _svg(width, height, chart.title, body)


def _curve_svg(chart: CurveChart) -> str:
    width, height = 640, 320
    left, right, top, bottom = 56, 20, 34, 74
    pw, ph = width - left - right, height - top - bottom
    xs = [p.x.value for p in chart.observed] + [x.value for x, _ in chart.predictions]
    x_lo, x_hi = max(min(xs) / 1.4, 1.0), max(xs) * 1.4
    lows = (
        [p.y.value - (p.spread.value if p.spread else 0) for p in chart.observed]
        + [e.low.value for _, e in chart.predictions if e.low is not None]
        + [line.value.value for line in chart.lines]
    )
    y_lo = max(math.floor(min(lows + [1.0]) * 10) / 10 - 0.1, 0.0)
    log_span = math.log(x_hi) - math.log(x_lo)

    def lx(v: float) -> float:
        return left + pw * (math.log(v) - math.log(x_lo)) / log_span

    y = lambda v: top + ph * (1 - (min(max(v, y_lo), 1.0) - y_lo) / (1 - y_lo))  # noqa: E731
    body = []
    for i in range(6):
        v = y_lo + (1 - y_lo) * i / 5
        body.append(_line(left, y(v), left + pw, y(v), "#e4e7eb"))
        body.append(_text(left - 6, y(v) + 4, f"{100 * v:.0f}%", 10, "end"))
    decade = 10 ** math.floor(math.log10(x_lo))
    while decade <= x_hi:
        for m in (1, 2, 5):
            v = decade * m
            if x_lo <= v <= x_hi:
                body.append(_line(lx(v), top, lx(v), top + ph, "#f0f2f4"))
                body.append(_text(lx(v), top + ph + 14, f"{v:,.0f}", 10, "middle"))
        decade *= 10
    if chart.fit is not None:
        pts = fitted_curve(chart.fit, x_lo, x_hi)
        path = " ".join(f"{lx(px):.1f},{y(py):.1f}" for px, py in pts)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{BLUE}" '
            f'stroke-width="1.5" stroke-dasharray="3,3"/>'
        )
    for p in chart.observed:
        cx, cy = lx(p.x.value), y(p.y.value)
        if p.spread is not None and p.spread.value > 0:
            body.append(
                _line(cx, y(p.y.value - p.spread.value), cx, y(p.y.value + p.spread.value), BLUE)
            )
        body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{BLUE}"/>')
    for x, e in chart.predictions:
        cx, cy = lx(x.value), y(e.value.value)
        if e.low is not None and e.high is not None:
            body.append(_line(cx, y(e.low.value), cx, y(e.high.value), ORANGE, 1.5))
            for v in (e.low.value, e.high.value):
                body.append(_line(cx - 5, y(v), cx + 5, y(v), ORANGE, 1.5))
        body.append(
            f'<path d="M{cx:.1f},{cy - 6:.1f} L{cx + 6:.1f},{cy:.1f} '
            f'L{cx:.1f},{cy + 6:.1f} L{cx - 6:.1f},{cy:.1f} Z" fill="{ORANGE}"/>'
        )
    for line in chart.lines:
        body.append(
            _line(left, y(line.value.value), left + pw, y(line.value.value), line.color, 1.2, "5,4")
        )
        body.append(_text(left + pw, y(line.value.value) - 4, line.label, 10, "end", line.color))
    body.append(_line(left, top + ph, left + pw, top + ph))
    body.append(_text(left + pw / 2, top + ph + 32, chart.x_title, 11, "middle"))
    body.append(_text(14, top + ph / 2, chart.y_title, 11, "middle", rotate=-90))
    legend_y = height - 12
    items = [("observed", BLUE, "circle"), ("fit", BLUE, "dash"), ("predicted", ORANGE, "diamond")]
    lx0: float = left
    for key, color, shape in items:
        name = chart.legend.get(key, "")
        if not name:
            continue
        if shape == "dash":
            body.append(_line(lx0, legend_y - 4, lx0 + 16, legend_y - 4, color, 1.5, "3,3"))
        else:
            body.append(f'<circle cx="{lx0 + 8}" cy="{legend_y - 4}" r="4" fill="{color}"/>')
        body.append(_text(lx0 + 20, legend_y, name, 10))
        lx0 += 40 + 6.5 * len(name)
    return _svg(width, height, chart.title, body)


def _heatmap_svg(chart: HeatmapChart) -> str:
    k = max(len(chart.labels), 1)
    cell = max(min(360 / k, 48), 18)
    left, top = 130, 40
    width = int(left + cell * k + 20)
    height = int(top + cell * k + 90)
    body = []
    for i, row in enumerate(chart.cells):
        total = sum(c.value for c in row) or 1
        for j, c in enumerate(row):
            share = c.value / total
            shade = int(245 - 170 * share)
            fill = f"rgb({shade},{int(248 - 120 * share)},{int(252 - 40 * share)})"
            x0, y0 = left + j * cell, top + i * cell
            body.append(
                f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
                f'fill="{fill}" stroke="#ffffff"/>'
            )
            body.append(
                _text(
                    x0 + cell / 2,
                    y0 + cell / 2 + 4,
                    format_value(c.value, c.kind),
                    max(8, min(12, int(cell / 3))),
                    "middle",
                    "#ffffff" if share > 0.6 else "#1f2933",
                )
            )
        body.append(
            _text(left - 6, top + i * cell + cell / 2 + 4, _short(chart.labels[i]), 10, "end")
        )
    for j, label in enumerate(chart.labels):
        x0 = left + j * cell + cell / 2
        body.append(_text(x0, top + k * cell + 12, _short(label, 14), 10, "end", rotate=-35))
    body.append(_text(left + cell * k / 2, height - 6, chart.x_title, 11, "middle"))
    body.append(_text(12, top + cell * k / 2, chart.y_title, 11, "middle", rotate=-90))
    return _svg(width, height, chart.title, body)


def svg(chart: Chart) -> str:
    """The chart as a standalone SVG drawing (text as text, in the report's fonts)."""
    if isinstance(chart, BarChart):
        return _bar_svg(chart)
    if isinstance(chart, CurveChart):
        return _curve_svg(chart)
    return _heatmap_svg(chart)
