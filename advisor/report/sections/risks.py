"""Section 8: risks and limitations chosen by the knowledge rules for this engagement."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.model import Block, Heading, Item, ItemList, Paragraph
from advisor.report.sections.common import advice_items, not_measured


def build(ctx: BuildContext) -> list[Block]:
    """Red flags, then the disclosed limitations, each with its rule, reason and source."""
    if ctx.recommendation is None:
        return [not_measured(ctx, "risks.title", ctx.text("advice.none"))]
    blocks: list[Block] = []
    flags = advice_items(ctx, "red_flags", tag=ctx.text("risks.red_flag"))
    if flags:
        blocks += [Heading(ctx.text("risks.red_flags")), ItemList(flags)]
    risks = advice_items(ctx, "risks")
    for item in risks:
        item.action = _limits(ctx, item.rule_id)
    blocks.append(Heading(ctx.text("risks.limitations")))
    blocks.append(ItemList(risks) if risks else Paragraph(ctx.text("risks.none"), "note"))
    measured = _measured(ctx)
    if measured:
        blocks += [Heading(ctx.text("risks.measured")), ItemList(measured, show_sources=False)]
    return blocks


def _limits(ctx: BuildContext, rule_id: str) -> str:
    """The known limits of a rule's advice (what would reduce the risk, and how far)."""
    try:
        return ctx.kb.rule(rule_id).limits.get(ctx.language)
    except KeyError:
        return ""


def _measured(ctx: BuildContext) -> list[Item]:
    """Risks the run itself measured: a domain far from ImageNet, suspected label errors."""
    reader = ctx.reader
    items = []
    sim, ref = reader.section("similarity")
    if isinstance(sim, dict) and sim.get("call") == "different":
        score = reader.num(f"{ref}/score", "percent")
        items.append(Item(ctx.phrase("risks.domain_shift", score=score or ctx.text("unknown"))))
    for f in reader.get("/profile/health/findings", []) or []:
        if (
            isinstance(f, dict)
            and "label" in str(f.get("id", ""))
            and f.get("severity") in ("warning", "critical")
        ):
            items.append(
                Item(
                    f"{ctx.finding(f, 'title')}: {ctx.finding(f, 'meaning')}",
                    action=ctx.finding(f, "action"),
                )
            )
    return items
