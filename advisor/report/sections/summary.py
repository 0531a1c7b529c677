"""Section 1: the executive summary around the decision."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.decision import headline, metric_name, strategy_name, target
from advisor.report.model import Block, Cell, Decision, KeyValues, Paragraph


def build(ctx: BuildContext, decision: Decision) -> list[Block]:
    """The summary's key figures (the decision itself is drawn by the template)."""
    reader = ctx.reader
    rows: list[tuple[str, Cell]] = []
    head = headline(reader)
    if head is not None:
        rows.append((ctx.text("summary.best"), strategy_name(ctx, head.strategy)))
        rows.append((metric_name(ctx, head.metric), head.estimate))
        rows.append((ctx.text("summary.held_out"), head.n_val))
    goal = target(reader)
    rows.append((ctx.text("summary.target"), goal or ctx.text("summary.no_target")))
    rows.append((ctx.text("summary.images"), reader.num("/profile/n_images", "count")))
    effective, ref = reader.find(
        "/profile/effective_n_images", "/profile/health/effective_n_images"
    )
    if ref is not None:
        rows.append((ctx.text("summary.effective"), reader.num(ref, "count")))
    sim = reader.section("similarity")[1]
    call = reader.get(f"{sim}/call") if sim else None
    if call:
        rows.append(
            (
                ctx.text("summary.similarity"),
                ctx.kb.format_value("similarity_measured", call, ctx.language),
            )
        )
    _, budget = reader.section("budget")
    if budget:
        rows.append(
            (ctx.text("summary.run_seconds"), reader.num(f"{budget}/used_seconds", "seconds"))
        )
    else:
        rows.append((ctx.text("summary.run_seconds"), reader.num("/timings/validation", "seconds")))
    blocks: list[Block] = [KeyValues(rows)]
    goal_text = reader.get("/intake/goal")
    if goal_text:
        blocks.insert(0, Paragraph(ctx.phrase("summary.goal", goal=str(goal_text)), "lead"))
    return blocks
