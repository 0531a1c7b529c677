"""Section 6: how much data: learning curve, predictions, images needed, and the cost."""

from __future__ import annotations

from typing import cast

from advisor.report.charts import RED, CurveChart, CurvePoint, RefLine
from advisor.report.context import BuildContext
from advisor.report.costs import TRAINING_FLOPS_SOURCE, Rates, Scenario, rates, scenarios
from advisor.report.decision import images_needed, target
from advisor.report.model import (
    Block,
    Cell,
    ChartBlock,
    Heading,
    KeyValues,
    Paragraph,
    Table,
)
from advisor.report.numbers import Estimate, Num, join
from advisor.report.sections.common import not_measured


def build(ctx: BuildContext) -> list[Block]:
    """Learning curve, its predictions and what the data and training would cost."""
    reader = ctx.reader
    curve, ref = reader.section("learning_curve")
    if not isinstance(curve, dict) or ref is None:
        codes = reader.section("warning_codes")[0]
        texts = reader.section("warnings")[0]
        said = list(
            zip(
                ctx.engine_list(codes, texts),
                texts if isinstance(texts, list) else [],
                strict=False,
            )
        )
        reason = next(
            (shown for shown, w in said if isinstance(w, str) and "learning curve" in w), ""
        )
        return [not_measured(ctx, "more.curve", reason)]
    blocks: list[Block] = []
    fit = curve.get("fit") if isinstance(curve.get("fit"), dict) else None
    blocks.append(ChartBlock(_chart(ctx, ref, fit is not None)))
    if curve.get("note"):
        blocks.append(Paragraph(ctx.engine(curve.get("note_code"), curve["note"]), "note"))
    if fit is None:
        blocks.append(
            not_measured(
                ctx, "more.fit", ctx.engine(curve.get("reason_code"), curve.get("reason") or "")
            )
        )
        return blocks
    fit_ref = join(ref, "fit")
    blocks.append(
        KeyValues(
            [
                (ctx.text("more.model"), str(fit.get("model", ""))),
                (ctx.text("more.ceiling"), reader.estimate(join(fit_ref, "a"))),
                (ctx.text("more.rmse"), reader.num(join(fit_ref, "rmse"), "points")),
                (ctx.text("more.n_max"), reader.num(join(fit_ref, "n_max"), "count")),
                (ctx.text("more.n_points"), reader.num(join(fit_ref, "n_points"), "count")),
            ]
        )
    )
    for note in ctx.engine_list(fit.get("note_codes"), fit.get("notes")):
        blocks.append(Paragraph(note, "warning"))
    blocks += _predictions(ctx, fit_ref)
    blocks += _target(ctx)
    r = rates(ctx)
    blocks += _costs(ctx, r, scenarios(ctx, r))
    return blocks


def _chart(ctx: BuildContext, ref: str, with_fit: bool) -> CurveChart:
    reader = ctx.reader
    observed = []
    for _, p in reader.items(join(ref, "points")):
        x = reader.num(join(p, "n"), "count")
        y = reader.num(join(p, "mean"), "percent")
        if x is not None and y is not None:
            observed.append(CurvePoint(x, y, reader.num(join(p, "std"), "points")))
    predictions: list[tuple[Num, Estimate]] = []
    fit = None
    if with_fit:
        fit_ref = join(ref, "fit")
        for _, p in reader.items(join(fit_ref, "predictions")):
            x = reader.num(join(p, "n"), "count")
            est = reader.estimate(p)
            if x is not None and est is not None:
                predictions.append((x, est))
        params = [reader.num(join(fit_ref, k, "value"), "float") for k in ("a", "b", "c")]
        if all(v is not None for v in params):
            fit = cast("tuple[Num, Num, Num]", (params[0], params[1], params[2]))
    lines = []
    goal = target(reader)
    if goal is not None:
        lines.append(RefLine(ctx.text("ev.target_line"), goal, RED))
    metric = str(reader.get(join(ref, "metric"), "accuracy"))
    return CurveChart(
        "learning-curve",
        ctx.text("more.curve"),
        ctx.text("more.x_axis"),
        ctx.text(f"ev.{metric}") if metric in ("accuracy", "balanced_accuracy") else metric,
        observed,
        predictions,
        fit,
        legend={
            "observed": ctx.text("more.observed"),
            "fit": ctx.text("more.fitted"),
            "predicted": ctx.text("more.predicted"),
        },
        lines=lines,
    )


def _predictions(ctx: BuildContext, fit_ref: str) -> list[Block]:
    reader = ctx.reader
    rows = []
    for _, p in reader.items(join(fit_ref, "predictions")):
        rows.append(
            [
                reader.num(join(p, "extrapolation"), "multiple"),
                reader.num(join(p, "n"), "count"),
                reader.estimate(p),
            ]
        )
    if not rows:
        return []
    return [
        Heading(ctx.text("more.predictions")),
        Table(
            [
                ctx.text("more.multiple"),
                ctx.text("more.train_images"),
                ctx.text("more.predicted_accuracy"),
            ],
            rows,
        ),
        Paragraph(ctx.text("more.extrapolation_note"), "note"),
    ]


def _target(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    goal = target(reader)
    heading = Heading(ctx.text("more.target"))
    if goal is None:
        return [heading, Paragraph(ctx.text("more.no_target"), "note")]
    found = images_needed(reader, goal)
    if found is None:
        return [heading, not_measured(ctx, "more.target", ctx.text("more.target_not_run"))]
    entry, ref = found
    status = str(entry.get("status", ""))
    n = reader.num(join(ref, "n"), "count")
    low = reader.num(join(ref, "ci_low"), "count")
    high = reader.num(join(ref, "ci_high"), "count")
    if status in ("reachable", "already_reached") and n is not None:
        key = "more.target_reached" if status == "already_reached" else "more.target_reachable"
        text = ctx.phrase(key, target=goal, n=Estimate(n, low, high))
    elif status == "uncertain":
        text = ctx.phrase("more.target_uncertain", target=goal, low=low or ctx.text("unknown"))
    else:
        text = ctx.phrase(
            "more.target_unreachable",
            target=goal,
            ceiling=reader.num(join(ref, "a_ci_high"), "percent") or ctx.text("unknown"),
        )
    return [heading, Paragraph(text, "lead")]


def _costs(ctx: BuildContext, r: Rates, rows_in: list[Scenario]) -> list[Block]:
    blocks: list[Block] = [Heading(ctx.text("more.costs"))]
    if not rows_in:
        return blocks + [not_measured(ctx, "more.costs", ctx.text("more.no_scenarios"))]
    rows = []
    for s in rows_in:
        label = (
            ctx.text("more.scenario_target")
            if s.key == "target"
            else ctx.phrase("more.scenario_multiple", multiple=s.multiple or s.key)
        )
        rows.append(
            [
                label,
                s.n_train,
                s.predicted,
                s.additional,
                s.label_hours,
                s.label_cost,
                s.gpu_hours,
                s.gpu_cost,
            ]
        )
    blocks.append(
        Table(
            [
                ctx.text("more.scenario"),
                ctx.text("more.train_images"),
                ctx.text("more.predicted_accuracy"),
                ctx.text("more.additional"),
                ctx.text("more.label_hours"),
                ctx.text("more.label_cost"),
                ctx.text("more.gpu_hours"),
                ctx.text("more.gpu_cost"),
            ],
            rows,
            caption=ctx.text("more.costs_caption"),
        )
    )
    inputs: list[tuple[str, Cell]] = [
        (ctx.text("more.seconds_per_label"), r.seconds_per_label or ctx.text("not_set")),
        (ctx.text("more.seconds_basis"), r.seconds_basis),
        (ctx.text("more.unit_cost"), r.unit_cost or ctx.text("not_set")),
        (ctx.text("more.epochs"), r.epochs),
        (ctx.text("more.gpu_rate"), r.gpu_rate),
        (ctx.text("more.gpu_seconds"), r.gpu_seconds_per_image_epoch or ctx.text("not_measured")),
        (
            ctx.text("more.gpu_basis"),
            ctx.text("more.gpu_measured")
            if r.gpu_basis == "measured"
            else f"{ctx.text('more.gpu_flops')} {TRAINING_FLOPS_SOURCE}",
        ),
    ]
    blocks += [
        Heading(ctx.text("more.inputs")),
        KeyValues(inputs),
        Paragraph(ctx.text("more.inputs_note"), "note"),
    ]
    return blocks
