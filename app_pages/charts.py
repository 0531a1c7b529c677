"""Plotly figures of a result document, an embedding map and the 2×2, for the pages.

Every reader is defensive: a section that is absent or null gives None (the page says
"not measured"), and no number is drawn that the result does not hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

from engines.results import ImagesNeeded

Tr = Callable[..., str]
PALETTE = (
    "#2b6cb0",
    "#dd6b20",
    "#38a169",
    "#805ad5",
    "#d53f8c",
    "#319795",
    "#b7791f",
    "#e53e3e",
    "#4a5568",
    "#00a3c4",
)
_LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "template": "plotly_white",
    "height": 380,
}


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, null, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def interval(metric: Any) -> tuple[float | None, float | None, float | None]:
    """``(value, ci_low, ci_high)`` of a metric dict, None where absent."""
    if not isinstance(metric, dict):
        return None, None, None
    return number(metric.get("value")), number(metric.get("ci_low")), number(metric.get("ci_high"))


def images_needed_text(needed: ImagesNeeded | None, tr: Tr) -> str:
    """How many labeled images the target needs, as the learning curve's fit says."""
    if needed is None:
        return tr("app.common.not_measured")
    if needed.status == "reachable" and needed.n is not None:
        return f"{needed.n:,}"
    if needed.status == "already_reached":
        return tr("app.validate.target_reached")
    return tr("app.validate.target_unreachable")


def images_needed_short(needed: ImagesNeeded | None, tr: Tr) -> str:
    """The same as :func:`images_needed_text`, short enough for a metric tile."""
    if needed is None:
        return tr("app.common.not_measured_short")
    if needed.status == "reachable" and needed.n is not None:
        return f"{needed.n:,}"
    if needed.status == "already_reached":
        return tr("app.validate.reached_short")
    return tr("app.validate.unreachable_short")


def strategy_figure(
    experiments: list[dict[str, Any]], tr: Tr, target: float | None = None
) -> go.Figure | None:
    """Accuracy of each experiment with its 95 % interval (one bar per strategy)."""
    rows = []
    for exp in experiments or []:
        value, low, high = interval((exp.get("metrics") or {}).get("accuracy"))
        if value is None:
            continue
        name = tr(f"app.strategy.{exp.get('strategy')}")
        rows.append((f"{name}<br><sub>{exp.get('backbone', '')}</sub>", value, low, high))
    if not rows:
        return None
    fig = go.Figure(
        go.Bar(
            x=[r[0] for r in rows],
            y=[r[1] for r in rows],
            marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(rows))],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(r[3] - r[1]) if r[3] is not None else 0 for r in rows],
                "arrayminus": [(r[1] - r[2]) if r[2] is not None else 0 for r in rows],
            },
            text=[f"{r[1]:.1%}" for r in rows],
            textposition="inside",
            hovertemplate="%{x}<br>%{y:.1%}<extra></extra>",
        )
    )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dash",
            line_color="#e53e3e",
            annotation_text=tr("app.validate.target_line", target=target),
        )
    fig.update_layout(
        title=tr("app.validate.chart_strategies"),
        yaxis={"range": [0, 1.05], "tickformat": ".0%", "title": tr("app.validate.accuracy")},
        **_LAYOUT,
    )
    return fig


def learning_curve_figure(
    curve: dict[str, Any] | None, tr: Tr, target: float | None = None
) -> go.Figure | None:
    """Measured points (mean ± std), the fitted curve with its band, and the target."""
    if not isinstance(curve, dict):
        return None
    points = [p for p in curve.get("points") or [] if number(p.get("mean")) is not None]
    if not points:
        return None
    fig = go.Figure(
        go.Scatter(
            x=[p["n"] for p in points],
            y=[p["mean"] for p in points],
            mode="markers",
            name=tr("app.validate.measured"),
            error_y={"type": "data", "array": [number(p.get("std")) or 0 for p in points]},
            marker={"size": 9, "color": PALETTE[0]},
        )
    )
    fit = curve.get("fit") or {}
    preds = [p for p in fit.get("predictions") or [] if number(p.get("value")) is not None]
    if preds:
        start = max(points, key=lambda p: p["n"])
        xs = [start["n"]] + [p["n"] for p in preds]
        ys = [start["mean"]] + [p["value"] for p in preds]
        lows = [start["mean"]] + [number(p.get("ci_low")) or p["value"] for p in preds]
        highs = [start["mean"]] + [number(p.get("ci_high")) or p["value"] for p in preds]
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1],
                y=highs + lows[::-1],
                fill="toself",
                fillcolor="rgba(43,108,176,0.15)",
                line={"width": 0},
                name=tr("app.validate.band"),
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                line={"dash": "dash"},
                name=tr("app.validate.extrapolated"),
                marker={"color": PALETTE[1]},
            )
        )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dot",
            line_color="#e53e3e",
            annotation_text=tr("app.validate.target_line", target=target),
        )
    fig.update_layout(
        title=tr("app.validate.chart_curve"),
        xaxis={"type": "log", "title": tr("app.validate.n_train")},
        yaxis={"tickformat": ".0%", "title": tr("app.validate.accuracy")},
        **_LAYOUT,
    )
    return fig


def confusion_figure(metrics: dict[str, Any] | None, tr: Tr) -> go.Figure | None:
    """The confusion matrix of an experiment (rows: true class, columns: predicted)."""
    if not isinstance(metrics, dict):
        return None
    matrix, classes = metrics.get("confusion_matrix"), metrics.get("classes")
    if not matrix or not classes or len(matrix) != len(classes):
        return None
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=classes,
            y=classes,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            showscale=False,
            hovertemplate="%{y} → %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        title=tr("app.validate.chart_confusion"),
        xaxis={"title": tr("app.validate.predicted")},
        yaxis={"title": tr("app.validate.true"), "autorange": "reversed"},
        **_LAYOUT,
    )
    return fig


def ranking_figure(ranking: list[dict[str, Any]] | None, tr: Tr) -> go.Figure | None:
    """Backbones by transferability rank (1 = best), with each score in the hover."""
    rows = [r for r in ranking or [] if number(r.get("mean_rank", r.get("rank"))) is not None]
    if not rows:
        return None
    rows.sort(key=lambda r: number(r.get("mean_rank", r.get("rank"))) or 0.0)

    def hover(r: dict[str, Any]) -> str:
        scores = r.get("scores") or {k: r.get(k) for k in ("logme", "h_score", "nleep")}
        parts = [f"{k}: {v:.3f}" for k, v in scores.items() if number(v) is not None]
        value, _, _ = interval(r.get("linear_probe_accuracy"))
        if value is not None:
            parts.append(f"{tr('app.validate.accuracy')}: {value:.1%}")
        return "<br>".join(parts)

    fig = go.Figure(
        go.Bar(
            y=[r["backbone"] for r in rows],
            x=[number(r.get("mean_rank", r.get("rank"))) for r in rows],
            orientation="h",
            marker_color=PALETTE[2],
            hovertext=[hover(r) for r in rows],
            hoverinfo="text+y",
        )
    )
    fig.update_layout(
        title=tr("app.validate.chart_ranking"),
        xaxis={"title": tr("app.validate.mean_rank")},
        yaxis={"autorange": "reversed"},
        **{**_LAYOUT, "height": 260},
    )
    return fig


def class_counts_figure(counts: dict[str, int], tr: Tr) -> go.Figure | None:
    """Images per class, largest first."""
    if not counts:
        return None
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    fig = go.Figure(
        go.Bar(
            x=[k for k, _ in items],
            y=[v for _, v in items],
            marker_color=PALETTE[0],
            text=[v for _, v in items],
            textposition="outside",
        )
    )
    fig.update_layout(
        title=tr("app.data.per_class"), yaxis={"title": tr("app.data.n_images")}, **_LAYOUT
    )
    return fig


def embedding_figure(emb: dict[str, Any], tr: Tr) -> go.Figure:
    """The sample on its embedding map: colour = class, rings = duplicates, x = label."""
    points = emb.get("points") or []
    fig = go.Figure()
    labels = sorted({str(p["label"]) for p in points})
    for i, label in enumerate(labels):
        pts = [p for p in points if str(p["label"]) == label]
        fig.add_trace(
            go.Scatter(
                x=[p["x"] for p in pts],
                y=[p["y"] for p in pts],
                mode="markers",
                name=label,
                marker={"size": 8, "color": PALETTE[i % len(PALETTE)], "opacity": 0.85},
                text=[p["name"] for p in pts],
                hovertemplate="%{text}<extra>" + label + "</extra>",
            )
        )
    dups = [p for p in points if p.get("duplicate_group")]
    if dups:
        fig.add_trace(
            go.Scatter(
                x=[p["x"] for p in dups],
                y=[p["y"] for p in dups],
                mode="markers",
                name=tr("app.data.map_duplicates"),
                marker={
                    "size": 16,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 2, "color": "#d69e2e"},
                },
                text=[
                    f"{p['name']} · {tr('app.data.map_group', n=p['duplicate_group'])}"
                    for p in dups
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    flagged = [p for p in points if p.get("label_issue")]
    if flagged:
        fig.add_trace(
            go.Scatter(
                x=[p["x"] for p in flagged],
                y=[p["y"] for p in flagged],
                mode="markers",
                name=tr("app.data.map_label_issues"),
                marker={"size": 13, "symbol": "x-thin", "line": {"width": 3, "color": "#e53e3e"}},
                text=[
                    f"{p['name']} · {p['label']} → {p['label_issue']['suggested']}" for p in flagged
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    proj = emb.get("projection") or {}
    title = "PCA" if proj.get("method") == "pca" else "t-SNE"
    fig.update_layout(
        title=f"{title} · {emb.get('backbone', '')}",
        xaxis={"showticklabels": False, "title": ""},
        yaxis={"showticklabels": False, "title": ""},
        **{**_LAYOUT, "height": 480},
    )
    return fig


def quadrant_figure(q: dict[str, Any], names: dict[str, str], tr: Tr) -> go.Figure:
    """The 2×2 of data amount × similarity, with this engagement's point on it.

    The amount axis is log10 of the effective images, split at the "a lot" line; the
    similarity axis is the measured score, split where the engine calls "similar".
    Without a measured score, the point sits mid-cell on the side the advice assumes,
    drawn hollow and labelled "assumed" (no invented number).
    """
    large_at = math.log10(max(q.get("large_at") or 10_000, 10))
    split_y = float(q.get("similar_at") or 0.5)
    x_max = large_at + 2
    fig = go.Figure()
    cells = (
        ("small_similar", 0, large_at, split_y, 1),
        ("large_similar", large_at, x_max, split_y, 1),
        ("small_different", 0, large_at, 0, split_y),
        ("large_different", large_at, x_max, 0, split_y),
    )
    for key, x0, x1, y0, y1 in cells:
        mine = key == q.get("quadrant")
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x1,
            y0=y0,
            y1=y1,
            line={"color": "#a0aec0"},
            fillcolor="rgba(43,108,176,0.12)" if mine else "rgba(0,0,0,0)",
        )
        fig.add_annotation(
            x=(x0 + x1) / 2,
            y=y1 - 0.06,
            showarrow=False,
            text=f"<b>{names.get(key, key)}</b>",
            font={"size": 12},
        )
    n = q.get("n_images")
    score = number(q.get("similarity_score"))
    if n:
        x = math.log10(max(n, 1))
        if score is not None:
            y, hollow = score, False
            label = tr("app.advice.point_measured", n=n, score=score)
        else:
            y = split_y + (1 - split_y) / 2 if q.get("similarity") == "similar" else split_y / 2
            hollow = True
            label = tr("app.advice.point_assumed", n=n)
        fig.add_trace(
            go.Scatter(
                x=[min(x, x_max - 0.05)],
                y=[y],
                mode="markers+text",
                text=[label],
                textposition="bottom center",
                showlegend=False,
                marker={
                    "size": 18,
                    "symbol": "circle-open" if hollow else "circle",
                    "color": "#e53e3e",
                    "line": {"width": 3},
                },
                hovertemplate=label + "<extra></extra>",
            )
        )
    ticks = list(range(0, int(x_max) + 1))
    fig.update_layout(
        title=tr("app.advice.quadrant"),
        xaxis={
            "range": [0, x_max],
            "tickvals": ticks,
            "ticktext": [f"{10**t:,}" for t in ticks],
            "title": tr("app.advice.axis_amount"),
        },
        yaxis={
            "range": [0, 1],
            "tickvals": [0, split_y, 1],
            "ticktext": [tr("app.advice.different"), f"{split_y:g}", tr("app.advice.similar")],
            "title": tr("app.advice.axis_similarity"),
        },
        **{**_LAYOUT, "height": 420},
    )
    return fig
