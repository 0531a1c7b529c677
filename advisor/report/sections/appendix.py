"""Section 10: the appendix: configuration, versions, seeds and rules, to reproduce the run."""

from __future__ import annotations

from typing import Any

from advisor.report.context import BuildContext
from advisor.report.decision import HIGH_CONFIDENCE_HALF_WIDTH, MEDIUM_CONFIDENCE_HALF_WIDTH
from advisor.report.model import Block, Cell, Heading, KeyValues, Paragraph, Table
from advisor.report.numbers import Num, pointer
from advisor.report.sections.common import cell


def build(ctx: BuildContext) -> list[Block]:
    """Run identity, configuration, environment, timings, rule trail, report inputs."""
    reader = ctx.reader
    blocks: list[Block] = [Heading(ctx.text("appendix.run"))]
    run: list[tuple[str, Cell]] = []
    for label, ref in (
        ("schema", "/schema_version"),
        ("created", "/created_at"),
        ("created", "/created"),
        ("source", "/source"),
        ("knowledge", "/recommendation/knowledge_version"),
    ):
        value = reader.get(ref)
        if value is not None:
            run.append((ctx.text(f"appendix.{label}"), str(value)))
    seed = reader.num(reader.find("/config/seed")[1], "count")
    run.append((ctx.text("appendix.seed"), seed or ctx.text("not_measured")))
    _, split = reader.section("split")
    if split:
        for key in ("method", "n_train", "n_val", "seed"):
            value = reader.get(f"{split}/{key}")
            if value is not None:
                run.append((ctx.text(f"appendix.split_{key}"), cell(value, f"{split}/{key}")))
    blocks.append(KeyValues(run))
    blocks += _mapping(ctx, "appendix.config", "/config")
    blocks += _environment(ctx)
    blocks += _mapping(ctx, "appendix.timings", "/timings", kind="seconds")
    blocks += _trail(ctx)
    blocks += _inputs(ctx)
    return blocks


def _mapping(ctx: BuildContext, title: str, ref: str, kind: str | None = None) -> list[Block]:
    data = ctx.reader.get(ref)
    if not isinstance(data, dict) or not data:
        return []
    rows = []
    for key, value in data.items():
        p = ref + pointer(key)
        shown: Cell = (ctx.reader.num(p, kind) if kind else None) or cell(value, p)
        rows.append((str(key), "–" if shown is None else shown))
    return [Heading(ctx.text(title)), KeyValues(rows)]


def _environment(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    rows: list[tuple[str, Cell]] = []
    device, ref = reader.find("/validation/device", "/environment/device")
    if isinstance(device, dict):
        for key, value in device.items():
            rows.append((ctx.text("appendix.device") + f" · {key}", cell(value, f"{ref}/{key}")))
    platform = reader.get("/environment/platform")
    if platform:
        rows.append((ctx.text("appendix.platform"), str(platform)))
    versions, vref = reader.find("/versions", "/environment/versions")
    if isinstance(versions, dict):
        rows += [(str(k), str(v) if v is not None else "–") for k, v in versions.items()]
    if not rows:
        return []
    return [Heading(ctx.text("appendix.environment")), KeyValues(rows)]


def _trail(ctx: BuildContext) -> list[Block]:
    presented = ctx.presented
    trail: list[dict[str, Any]] = (presented or {}).get("trail") or []
    if not trail:
        ids = ctx.reader.get("/recommendation/fired_rule_ids") or []
        if not ids:
            return []
        return [Heading(ctx.text("appendix.rules")), Paragraph(", ".join(map(str, ids)))]
    rows = [[t["rule_id"], t["title"], t["matched"], "; ".join(t["sources"])] for t in trail]
    return [
        Heading(ctx.text("appendix.rules")),
        Table(
            [
                ctx.text("appendix.rule"),
                ctx.text("appendix.rule_title"),
                ctx.text("appendix.matched"),
                ctx.text("appendix.rule_source"),
            ],
            rows,
        ),
    ]


def _inputs(ctx: BuildContext) -> list[Block]:
    rows: list[tuple[str, Cell]] = []
    for key, value in ctx.options.to_dict().items():
        if key in ("image_root",):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            kind = "count" if isinstance(value, int) else "float"
            rows.append((key, Num(value, kind, source=f"options/{key}")))
        else:
            rows.append((key, "–" if value is None else str(value)))
    rows.append(
        (
            ctx.text("appendix.confidence_bands"),
            ctx.phrase(
                "appendix.confidence_bands_value",
                high=Num(HIGH_CONFIDENCE_HALF_WIDTH, "points", formula="report decision threshold"),
                medium=Num(
                    MEDIUM_CONFIDENCE_HALF_WIDTH, "points", formula="report decision threshold"
                ),
            ),
        )
    )
    return [
        Heading(ctx.text("appendix.inputs")),
        KeyValues(rows),
        Paragraph(ctx.text("appendix.inputs_note"), "note"),
    ]
