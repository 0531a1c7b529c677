"""Section 5: the evidence: similarity, backbone ranking, strategies, errors."""

from __future__ import annotations

from typing import Any

from advisor.report.access import is_number
from advisor.report.charts import GREY, RED, Bar, BarChart, HeatmapChart, RefLine
from advisor.report.context import BuildContext
from advisor.report.decision import best_experiment, strategy_name, target
from advisor.report.images import embed
from advisor.report.model import (
    Block,
    Cell,
    ChartBlock,
    Gallery,
    Heading,
    KeyValues,
    Paragraph,
    Table,
    Thumbnail,
)
from advisor.report.numbers import Estimate, Num, join
from advisor.report.sections.common import not_measured

SCORES = ("logme", "h_score", "nleep")


def build(ctx: BuildContext) -> list[Block]:
    """Similarity, ranking, strategy comparison, confusion matrix, misclassified."""
    blocks: list[Block] = []
    blocks += _similarity(ctx)
    blocks += _task_specific(ctx)
    blocks += _ranking(ctx)
    blocks += _strategies(ctx)
    blocks += _bought(ctx)
    blocks += _confusion(ctx)
    blocks += _misclassified(ctx)
    return blocks


def _similarity(ctx: BuildContext) -> list[Block]:
    sim, ref = ctx.reader.section("similarity")
    if (
        isinstance(sim, dict)
        and sim
        and all(isinstance(v, dict) for v in sim.values())
        and "score" not in sim
    ):
        # Unpaired data: one similarity per collection.
        blocks: list[Block] = []
        for name in sim:
            blocks += _one_similarity(
                ctx, join(ref or "", name), ctx.phrase("ev.similarity_of", collection=str(name))
            )
        return blocks
    return _one_similarity(ctx, ref, ctx.text("ev.similarity"))


def _one_similarity(ctx: BuildContext, ref: str | None, title: Any) -> list[Block]:
    reader, kb = ctx.reader, ctx.kb
    blocks: list[Block] = [Heading(title)]
    sim = reader.get(ref) if ref else None
    if not ref or not isinstance(sim, dict) or not is_number(sim.get("score")):
        reason = (
            ctx.engine(sim.get("reason_code"), sim.get("reason") or "")
            if isinstance(sim, dict)
            else ""
        )
        return blocks + [not_measured(ctx, "ev.similarity", reason)]
    call = sim.get("call")
    rows: list[tuple[str, Cell]] = [
        (
            ctx.text("ev.similarity_call"),
            kb.format_value("similarity_measured", call, ctx.language) if call else None,
        ),
        (ctx.text("ev.similarity_score"), reader.num(join(ref, "score"), "percent")),
    ]
    if sim.get("confidence"):
        rows.append(
            (
                ctx.text("ev.similarity_confidence"),
                kb.label(sim["confidence"], ctx.language)
                if sim["confidence"] in kb.ui
                else str(sim["confidence"]),
            )
        )
    if sim.get("backbone"):
        rows.append((ctx.text("ev.backbone"), str(sim["backbone"])))
    blocks.append(KeyValues(rows))
    signals = reader.items(join(ref, "evidence"))
    if signals:
        table_rows = []
        for sig, p in signals:
            if not isinstance(sig, dict):
                continue
            points = sig.get("points_to")
            table_rows.append(
                [
                    # a signal's name is its code: engine.signal_<name>
                    ctx.engine(
                        {"code": f"signal_{sig.get('name')}"},
                        sig.get("description") or sig.get("name", ""),
                    ),
                    reader.num(join(p, "value"), "float"),
                    reader.num(join(p, "threshold"), "float"),
                    kb.format_value("similarity_measured", points, ctx.language)
                    if points
                    else None,
                ]
            )
        blocks.append(
            Table(
                [
                    ctx.text("ev.signal"),
                    ctx.text("ev.value"),
                    ctx.text("ev.threshold"),
                    ctx.text("ev.points_to"),
                ],
                table_rows,
            )
        )
    if sim.get("thresholds_note"):
        blocks.append(
            Paragraph(ctx.engine(sim.get("thresholds_note_code"), sim["thresholds_note"]), "note")
        )
    return blocks


def _task_specific(ctx: BuildContext) -> list[Block]:
    """What the run measured where labels did not allow accuracy: groups, domain gap."""
    blocks: list[Block] = []
    blocks += _clusters(ctx)
    blocks += _domain_gap(ctx)
    blocks += _site_gap(ctx)
    for name in ("segmentation", "detection"):
        blocks += _generic(ctx, name)
    from advisor.report.sections import detection

    blocks += detection.build(ctx)
    return blocks


def _clusters(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    clusters, ref = reader.section("clusters")
    if not isinstance(clusters, dict) or ref is None:
        return []
    rows: list[tuple[str, Cell]] = [
        (ctx.text("ev.groups"), reader.num(join(ref, "k"), "count")),
        (ctx.text("ev.silhouette"), reader.num(join(ref, "silhouette"), "float")),
        (ctx.text("ev.silhouette_null"), reader.num(join(ref, "silhouette_null"), "float")),
        (ctx.text("ev.separability"), str(clusters.get("separability", "–"))),
    ]
    blocks: list[Block] = [Heading(ctx.text("ev.clusters")), KeyValues(rows)]
    table = []
    for c, p in reader.items(join(ref, "clusters")):
        if isinstance(c, dict):
            reps = c.get("representatives") or []
            table.append(
                [
                    reader.num(join(p, "cluster"), "count"),
                    reader.num(join(p, "size"), "count"),
                    ", ".join(str(r) for r in reps[:3]),
                ]
            )
    if table:
        blocks.append(
            Table(
                [ctx.text("ev.group"), ctx.text("ev.size"), ctx.text("ev.representatives")], table
            )
        )
    lab = join(ref, "labeling")
    if isinstance(reader.get(lab), dict):
        blocks.append(
            KeyValues(
                [
                    (ctx.text("ev.labels_total"), reader.num(join(lab, "labels_total"), "count")),
                    (
                        ctx.text("ev.minutes_verify"),
                        reader.num(join(lab, "minutes_verify"), "float"),
                    ),
                    (
                        ctx.text("ev.minutes_label_all"),
                        reader.num(join(lab, "minutes_label_all"), "float"),
                    ),
                ]
            )
        )
        if reader.get(join(lab, "note")):
            blocks.append(
                Paragraph(
                    ctx.engine(reader.get(join(lab, "note_code")), reader.get(join(lab, "note"))),
                    "note",
                )
            )
    return blocks


def _domain_gap(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    gap, ref = reader.section("domain_gap")
    if not isinstance(gap, dict) or ref is None:
        return []
    value = reader.num(join(ref, "pad"), "float")
    est = (
        Estimate(
            value,
            reader.num(join(ref, "ci_low"), "float"),
            reader.num(join(ref, "ci_high"), "float"),
            str(gap.get("method", "")),
        )
        if value is not None
        else None
    )
    names = gap.get("collections") or []
    rows: list[tuple[str, Cell]] = [
        (ctx.text("ev.collections"), " ↔ ".join(str(n) for n in names) or None),
        (ctx.text("ev.pad"), est),
        (ctx.text("ev.gap_level"), str(gap.get("level", "–"))),
        (ctx.text("ev.n_a"), reader.num(join(ref, "n_a"), "count")),
        (ctx.text("ev.n_b"), reader.num(join(ref, "n_b"), "count")),
    ]
    return [
        Heading(ctx.text("ev.domain_gap")),
        KeyValues(rows),
        Paragraph(ctx.text("ev.pad_note"), "note"),
    ]


def _site_gap(ctx: BuildContext) -> list[Block]:
    """The deployment-site images against the sample (the decks' domain adaptation)."""
    reader = ctx.reader
    gap, ref = reader.section("site_gap")
    if not isinstance(gap, dict) or ref is None:
        return []
    value = reader.num(join(ref, "gap"), "float")
    est = (
        Estimate(
            value,
            reader.num(join(ref, "ci_low"), "float"),
            reader.num(join(ref, "ci_high"), "float"),
            "proxy A-distance",
        )
        if value is not None
        else None
    )
    reading = str(gap.get("interpretation", ""))
    rows: list[tuple[str, Cell]] = [
        (ctx.text("ev.site_reference"), str(gap.get("reference") or "–")),
        (ctx.text("ev.pad"), est),
        (ctx.text("ev.site_reading"), reading or None),
        (ctx.text("ev.n_a"), reader.num(join(ref, "n_train"), "count")),
        (ctx.text("ev.n_b"), reader.num(join(ref, "n_site"), "count")),
    ]
    blocks: list[Block] = [Heading(ctx.text("ev.site_gap")), KeyValues(rows)]
    if reading in ("same", "shifted", "different"):
        blocks.append(Paragraph(ctx.text(f"ev.site_readings.{reading}")))
    if gap.get("interval_spans_readings"):
        blocks.append(Paragraph(ctx.text("ev.site_wide"), "note"))
    blocks.append(Paragraph(ctx.text("ev.pad_note"), "note"))
    return blocks


def _generic(ctx: BuildContext, name: str) -> list[Block]:
    """A task-specific section of unknown layout: its numbers and intervals, as stored."""
    reader = ctx.reader
    data, ref = reader.section(name)
    if not isinstance(data, dict) or ref is None:
        return []
    rows: list[tuple[str, Cell]] = []
    for key, value in data.items():
        p = join(ref, key)
        if isinstance(value, dict) and is_number(value.get("value")):
            rows.append((str(key), reader.estimate(p, "float")))
        elif is_number(value):
            rows.append((str(key), reader.num(p, "float")))
        elif isinstance(value, str):
            rows.append((str(key), value))
    return [Heading(ctx.text(f"ev.{name}")), KeyValues(rows)] if rows else []


def _ranking(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    blocks: list[Block] = [Heading(ctx.text("ev.ranking"))]
    _, ref = reader.section("backbone_ranking")
    rows_in = [(r, p) for r, p in reader.items(ref) if isinstance(r, dict)]
    if not rows_in:
        return blocks + [not_measured(ctx, "ev.ranking")]
    chosen, _ = reader.section("finetuned_backbone")
    rows, bars = [], []
    for row, p in rows_in:
        acc = reader.estimate(join(p, "linear_probe_accuracy"))
        name = str(row.get("backbone", ""))
        rows.append(
            [
                reader.num(join(p, "rank"), "count"),
                name,
                *[reader.num(join(p, "scores", s), "float") for s in SCORES],
                acc,
                reader.num(join(p, "flops_per_image"), "flops"),
                reader.num(join(p, "images_per_second"), "float"),
            ]
        )
        if acc is not None:
            bars.append(
                Bar(
                    name,
                    acc.value,
                    acc.low,
                    acc.high,
                    highlight=name == (chosen or rows_in[0][0].get("backbone")),
                )
            )
    blocks.append(
        Table(
            [
                ctx.text("ev.rank"),
                ctx.text("ev.backbone"),
                "LogME",
                "H-score",
                "N-LEEP",
                ctx.text("ev.probe_accuracy"),
                ctx.text("ev.flops"),
                ctx.text("ev.images_per_second"),
            ],
            rows,
        )
    )
    if len(bars) > 1:
        blocks.append(
            ChartBlock(
                BarChart("backbones", ctx.text("ev.ranking"), ctx.text("ev.probe_accuracy"), bars)
            )
        )
    blocks.append(Paragraph(ctx.text("ev.ranking_note"), "note"))
    return blocks


def _metric(reader: Any, p: str, name: str) -> Any:
    return reader.estimate(join(p, "metrics", name))


def _strategies(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    blocks: list[Block] = [Heading(ctx.text("ev.strategies"))]
    _, ref = reader.section("experiments")
    exps = [(e, p) for e, p in reader.items(ref) if isinstance(e, dict)]
    if not exps:
        return blocks + [not_measured(ctx, "ev.strategies")]
    best = best_experiment(reader)
    best_ref = best[1] if best else None
    rows, bars = [], []
    for exp, p in exps:
        label = f"{strategy_name(ctx, str(exp.get('strategy', '')))} · {exp.get('backbone', '')}"
        acc = _metric(reader, p, "accuracy")
        rows.append(
            [
                strategy_name(ctx, str(exp.get("strategy", ""))),
                str(exp.get("backbone", "")),
                reader.num(join(p, "n_train"), "count"),
                reader.num(join(p, "n_val"), "count"),
                acc,
                _metric(reader, p, "balanced_accuracy"),
                _metric(reader, p, "macro_f1"),
                reader.num(join(p, "seconds"), "seconds"),
            ]
        )
        if acc is not None:
            bars.append(Bar(label, acc.value, acc.low, acc.high, highlight=p == best_ref))
    lines = []
    goal = target(reader)
    if goal is not None:
        lines.append(RefLine(ctx.text("ev.target_line"), goal, RED))
    if best_ref is not None:
        chance = reader.num(join(best_ref, "metrics", "chance", "uniform"), "percent")
        if chance is not None:
            lines.append(RefLine(ctx.text("ev.chance_line"), chance, GREY))
    blocks.append(
        ChartBlock(
            BarChart("strategies", ctx.text("ev.strategies"), ctx.text("ev.accuracy"), bars, lines)
        )
    )
    blocks.append(
        Table(
            [
                ctx.text("ev.strategy"),
                ctx.text("ev.backbone"),
                ctx.text("ev.n_train"),
                ctx.text("ev.n_val"),
                ctx.text("ev.accuracy"),
                ctx.text("ev.balanced_accuracy"),
                ctx.text("ev.macro_f1"),
                ctx.text("ev.seconds"),
            ],
            rows,
            caption=ctx.text("ev.interval_note"),
        )
    )
    for skip, _ in reader.items(reader.section("skipped")[1]):
        if isinstance(skip, dict):
            blocks.append(
                Paragraph(
                    ctx.phrase(
                        "ev.skipped",
                        strategy=strategy_name(ctx, str(skip.get("strategy", ""))),
                        reason=ctx.engine(skip.get("reason_code"), skip.get("reason", "")),
                    ),
                    "note",
                )
            )
    for exp, _ in exps:
        if exp.get("final_model") == "linear_probe":
            name = strategy_name(ctx, str(exp.get("strategy", "")))
            blocks.append(Paragraph(ctx.phrase("ev.ended_as_probe", strategy=name), "note"))
    for exp, p in exps:
        # warning_ko: results written before the codes carried the Korean beside it
        stored = (
            reader.get(join(p, "metrics", "warning_ko")) if ctx.language == "ko" else None
        ) or reader.get(join(p, "metrics", "warning"))
        text = ctx.engine(reader.get(join(p, "metrics", "warning_code")), stored)
        if text:
            blocks.append(
                Paragraph(f"{strategy_name(ctx, str(exp.get('strategy', '')))}: {text}", "warning")
            )
    return blocks


def _bought(ctx: BuildContext) -> list[Block]:
    """What the time budget bought: each backbone, strategy and skip, with its seconds."""
    reader = ctx.reader
    _, budget = reader.section("budget")
    _, ref = reader.section("experiments")
    exps = [(e, p) for e, p in reader.items(ref) if isinstance(e, dict)]
    if budget is None or not exps:
        return []
    rows: list[list[Cell]] = []
    ranked, _ = reader.section("backbone_ranking")
    if isinstance(ranked, list) and ranked:
        n = Num(
            len(ranked),
            "count",
            inputs=("/validation/backbone_ranking",),
            formula="backbones in the ranking",
        )
        rows.append([ctx.text("ev.backbone"), ctx.phrase("ev.bought_backbones", n=n), None])
    for exp, p in exps:
        strategy = str(exp.get("strategy", ""))
        name = f"{strategy_name(ctx, strategy)} · {exp.get('backbone', '')}"
        epochs = reader.num(join(p, "epochs"), "count")
        px = reader.num(join(p, "image_size"), "count")
        what: Cell = None
        if strategy == "linear_probe":
            what = ctx.text("ev.bought_frozen")
        elif epochs is not None and px is not None:
            ended = exp.get("final_model") == "linear_probe"
            key = "ev.bought_ended_probe" if ended else "ev.bought_epochs"
            what = ctx.phrase(key, epochs=epochs, px=px)
        rows.append([name, what, reader.num(join(p, "seconds"), "seconds")])
    for skip, p in reader.items(reader.section("skipped")[1]):
        if isinstance(skip, dict):
            needed = reader.num(join(p, "estimated_seconds"), "seconds")
            said: Cell = (
                ctx.phrase("ev.bought_not_run", needed=needed)
                if needed is not None
                else ctx.text("ev.bought_not_run_plain")
            )
            rows.append([strategy_name(ctx, str(skip.get("strategy", ""))), said, None])
    blocks: list[Block] = [Heading(ctx.text("ev.bought_title"))]
    used = reader.num(join(budget, "used_seconds"), "seconds")
    given = reader.num(join(budget, "seconds"), "seconds")
    if used is not None and given is not None:
        blocks.append(Paragraph(ctx.phrase("ev.bought_lead", used=used, budget=given), "note"))
    headers = [ctx.text("ev.bought_item"), ctx.text("ev.bought_what"), ctx.text("ev.seconds")]
    blocks.append(Table(headers, rows))
    return blocks


def _confusion(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    blocks: list[Block] = [Heading(ctx.text("ev.confusion"))]
    best = best_experiment(reader)
    if best is None:
        return blocks + [not_measured(ctx, "ev.confusion")]
    exp, p = best
    classes = reader.get(join(p, "metrics", "classes"))
    matrix = reader.get(join(p, "metrics", "confusion_matrix"))
    if not isinstance(classes, list) or not isinstance(matrix, list) or not matrix:
        return blocks + [not_measured(ctx, "ev.confusion")]
    cells: list[list[Num]] = []
    for i, row in enumerate(matrix):
        cells.append(
            [
                reader.num(join(p, "metrics", "confusion_matrix", i, j), "count")
                or Num(0, "count", source=join(p, "metrics", "confusion_matrix", i, j))
                for j in range(len(row))
            ]
        )
    name = strategy_name(ctx, str(exp.get("strategy", "")))
    blocks.append(
        Paragraph(
            ctx.phrase("ev.confusion_of", strategy=name, backbone=str(exp.get("backbone", ""))),
            "note",
        )
    )
    blocks.append(
        ChartBlock(
            HeatmapChart(
                "confusion",
                ctx.text("ev.confusion"),
                ctx.text("ev.predicted"),
                ctx.text("ev.true_class"),
                [str(c) for c in classes],
                cells,
            )
        )
    )
    per_class = []
    for row, q in reader.items(join(p, "metrics", "per_class")):
        if not isinstance(row, dict):
            continue
        per_class.append(
            [
                str(row.get("name", "")),
                reader.num(join(q, "support"), "count"),
                _ci(reader, q, "precision"),
                _ci(reader, q, "recall"),
                reader.num(join(q, "f1"), "percent"),
            ]
        )
    if per_class:
        blocks.append(
            Table(
                [
                    ctx.text("ev.class"),
                    ctx.text("ev.support"),
                    ctx.text("ev.precision"),
                    ctx.text("ev.recall"),
                    "F1",
                ],
                per_class,
            )
        )
    binary: list[tuple[str, Cell]] = []
    for key in ("sensitivity", "specificity", "roc_auc"):
        est = _metric(reader, p, key)
        if est is not None:
            binary.append((ctx.text(f"ev.{key}"), est))
    if binary:
        positive = reader.get(join(p, "metrics", "positive_class"))
        if positive:
            binary.insert(0, (ctx.text("ev.positive_class"), str(positive)))
        blocks.append(KeyValues(binary))
    return blocks


def _ci(reader: Any, ref: str, name: str) -> Any:
    """A per-class score with its interval stored as ``name`` and ``name_ci`` [low, high]."""
    value = reader.num(join(ref, name), "percent")
    if value is None:
        return None
    return Estimate(
        value,
        reader.num(join(ref, f"{name}_ci", 0), "percent"),
        reader.num(join(ref, f"{name}_ci", 1), "percent"),
        "wilson",
    )


def _misclassified(ctx: BuildContext) -> list[Block]:
    reader, opts = ctx.reader, ctx.options
    blocks: list[Block] = [Heading(ctx.text("ev.misclassified"))]
    _, ref = reader.section("misclassified")
    items = [(m, p) for m, p in reader.items(ref) if isinstance(m, dict)]
    if ref is None:
        return blocks + [not_measured(ctx, "ev.misclassified")]
    if not items:
        return blocks + [Paragraph(ctx.text("ev.no_errors"))]
    thumbs: list[Thumbnail] = []
    rows, missing = [], 0
    for m, p in items:
        caption = ctx.phrase(
            "ev.error_caption",
            true=str(m.get("true", "")),
            predicted=str(m.get("predicted", "")),
            confidence=reader.num(join(p, "confidence"), "percent") or ctx.text("unknown"),
        )
        uri = (
            embed(opts.image_root, str(m.get("path", "")), opts.thumbnail_px)
            if len(thumbs) < opts.max_thumbnails
            else None
        )
        if uri is not None:
            thumbs.append(Thumbnail(str(m.get("path", "")), caption, uri))
        else:
            missing += 1
        rows.append(
            [
                str(m.get("path", "")),
                str(m.get("true", "")),
                str(m.get("predicted", "")),
                reader.num(join(p, "confidence"), "percent"),
            ]
        )
    if thumbs:
        blocks.append(Gallery(thumbs, missing=missing))
    elif opts.image_root is None:
        blocks.append(Paragraph(ctx.text("images.no_root"), "note"))
    else:
        blocks.append(Paragraph(ctx.text("images.not_found"), "note"))
    blocks.append(
        Table(
            [
                ctx.text("ev.file"),
                ctx.text("ev.true_class"),
                ctx.text("ev.predicted"),
                ctx.text("ev.confidence"),
            ],
            rows,
        )
    )
    return blocks
