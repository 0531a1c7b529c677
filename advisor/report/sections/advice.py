"""Section 4: the recommendation: transfer and data strategy, each with why and source."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.decision import strategy_name
from advisor.report.model import Block, Cell, Heading, Item, ItemList, KeyValues, Paragraph
from advisor.report.sections.common import advice_items, not_measured


def build(ctx: BuildContext) -> list[Block]:
    """Transfer strategy, what the validation did to it, data strategy, cases."""
    reader = ctx.reader
    if ctx.recommendation is None:
        return [not_measured(ctx, "advice.recommendation", ctx.text("advice.none"))]
    presented = ctx.presented or {}
    strategy = presented.get("strategy") or {}
    final_id = str(reader.get("/recommendation/strategy_id"))
    rows: list[tuple[str, Cell]] = [
        (ctx.text("advice.strategy"), strategy.get("name") or strategy_name(ctx, final_id)),
    ]
    if strategy.get("summary"):
        rows.append((ctx.text("advice.summary"), strategy["summary"]))
    frozen = reader.num("/recommendation/freeze_stages", "count")
    total = reader.num("/recommendation/total_stages", "count")
    if frozen is not None and total is not None:
        rows.append(
            (
                ctx.text("advice.frozen"),
                ctx.phrase("advice.frozen_value", frozen=frozen, total=total),
            )
        )
    lr_plan = ctx.pick(reader.get("/recommendation/lr_plan"))
    if lr_plan:
        rows.append((ctx.text("advice.lr_plan"), lr_plan))
    blocks: list[Block] = [Heading(ctx.text("advice.transfer")), KeyValues(rows)]
    blocks.append(_verdict(ctx, final_id))
    notes = advice_items(ctx, "strategy_notes")
    if notes:
        blocks.append(ItemList(notes))
    findings = advice_items(ctx, "evidence", stored_name="evidence_findings")
    if findings:
        blocks += [Heading(ctx.text("advice.evidence")), ItemList(findings)]
    data = advice_items(ctx, "data_strategy")
    blocks.append(Heading(ctx.text("advice.data")))
    blocks.append(ItemList(data) if data else Paragraph(ctx.text("advice.no_data_strategy")))
    assumptions = advice_items(ctx, "assumptions")
    if assumptions:
        blocks += [Heading(ctx.text("advice.assumptions")), ItemList(assumptions)]
    cases = presented.get("cases") or []
    if cases:
        blocks.append(Heading(ctx.text("advice.cases")))
        blocks.append(
            ItemList(
                [
                    Item(
                        text=f"{c['title']} — {c['goal']}",
                        why="; ".join(c.get("reasons", [])),
                        sources=list(c.get("sources", [])),
                        action=c.get("ultimately_needed", ""),
                    )
                    for c in cases
                ]
            )
        )
    return blocks


def _verdict(ctx: BuildContext, final_id: str) -> Paragraph:
    """What the validation did to the advice: confirmed it, revised it, or nothing yet."""
    reader = ctx.reader
    verdict = reader.get("/recommendation/verdict")
    reason = ctx.pick(reader.get("/recommendation/verdict_reason"))
    prior_id = reader.get("/recommendation/prior_strategy_id") or reader.get(
        "/recommendation/prior/strategy_id"
    )
    if verdict == "revised" or (prior_id and prior_id != final_id):
        return Paragraph(
            ctx.phrase(
                "advice.revised",
                prior=strategy_name(ctx, str(prior_id)) if prior_id else ctx.text("unknown"),
                final=strategy_name(ctx, final_id),
                reason=reason,
            ),
            "warning",
        )
    if verdict == "validated":
        return Paragraph(ctx.phrase("advice.validated", reason=reason), "lead")
    if verdict == "inconclusive":
        return Paragraph(ctx.phrase("advice.inconclusive", reason=reason), "note")
    return Paragraph(ctx.text("advice.not_validated"), "note")
