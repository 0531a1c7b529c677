"""Small helpers the section builders share."""

from __future__ import annotations

from typing import Any

from advisor.report.access import is_number
from advisor.report.context import BuildContext
from advisor.report.model import Cell, Item, NotMeasured
from advisor.report.numbers import Num


def count_of(ref: str, items: list[Any]) -> Num:
    """The number of entries of a list in the result, citing the list."""
    return Num(len(items), "count", inputs=(ref,), formula="number of entries")


def cell(value: Any, ref: str) -> Cell:
    """A table cell for a plain JSON value: a Num for a number, text otherwise."""
    if is_number(value):
        kind = "count" if isinstance(value, int) else "float"
        return Num(value, kind, source=ref)
    if value is None:
        return None
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def not_measured(ctx: BuildContext, what_key: str, reason: str = "") -> NotMeasured:
    """The 'not measured' block for a part of the report."""
    return NotMeasured(what=ctx.text(what_key), reason=reason)


def advice_items(
    ctx: BuildContext, name: str, tag: str = "", stored_name: str | None = None
) -> list[Item]:
    """A list of the recommendation (strategy notes, risks...) with reasons and sources.

    Takes the display form of :func:`advisor.recommend.present` where the knowledge
    base can present it, else the texts stored in the result.
    """
    presented = ctx.presented
    if presented is not None and isinstance(presented.get(name), list):
        return [
            Item(
                text=i["text"],
                rule_id=i.get("rule_id", ""),
                why=i.get("why", ""),
                sources=list(i.get("sources", [])),
                tag=i.get("outcome_label", tag),
            )
            for i in presented[name]
        ]
    stored = ctx.reader.get(f"/recommendation/{stored_name or name}", [])
    return [
        Item(text=ctx.pick(i), rule_id=str(i.get("rule_id", "")), tag=tag)
        for i in stored
        if isinstance(i, dict)
    ]
