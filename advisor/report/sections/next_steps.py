"""Section 9: next steps and what the client must provide."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.model import Block, Decision, Heading, Item, ItemList, Paragraph
from advisor.report.sections.common import advice_items


def build(ctx: BuildContext, decision: Decision) -> list[Block]:
    """Conditions of the decision, open questions, and the client's deliverables."""
    blocks: list[Block] = [Heading(ctx.text("next.steps"))]
    steps = [Item(c) for c in decision.conditions]
    blocks.append(
        ItemList(steps, show_sources=False) if steps else Paragraph(ctx.text("next.no_conditions"))
    )
    questions = advice_items(ctx, "questions")
    if questions:
        blocks += [Heading(ctx.text("next.questions")), ItemList(questions)]
    provide = _client_provides(ctx)
    blocks.append(Heading(ctx.text("next.provide")))
    blocks.append(
        ItemList(provide, show_sources=True)
        if provide
        else Paragraph(ctx.text("next.provide_unknown"), "note")
    )
    return blocks


def _client_provides(ctx: BuildContext) -> list[Item]:
    """Labels in the task's format, and what the nearest case needed from its client."""
    items = []
    presented = ctx.presented or {}
    arch = presented.get("architecture")
    if arch and arch.get("label_format"):
        items.append(
            Item(
                ctx.phrase("next.labels", format=arch["label_format"]),
                rule_id=arch.get("rule_id", ""),
            )
        )
    cases = presented.get("cases") or []
    if cases:
        case = cases[0]
        for need in case.get("client_provides", []):
            items.append(
                Item(
                    need,
                    why=ctx.phrase("next.from_case", case=case["title"]),
                    sources=list(case.get("sources", [])),
                )
            )
    if ctx.reader.get("/intake/target_value") is None:
        items.append(Item(ctx.text("next.target")))
    return items
