"""Build the report model from a result document (the "structure" stage)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.i18n import check_language
from advisor.report.access import ResultReader
from advisor.report.client_summary import build_client_summary
from advisor.report.context import BuildContext
from advisor.report.costs import TRAINING_FLOPS_SOURCE, task_of
from advisor.report.decision import decide
from advisor.report.model import Cell, Reference, ReportModel, Section
from advisor.report.options import LABEL_TIME_SOURCES, ReportOptions
from advisor.report.sections import (
    advice,
    appendix,
    data,
    deployment,
    evidence,
    goal,
    more_data,
    next_steps,
    risks,
    summary,
)

SECTION_IDS: tuple[str, ...] = (
    "summary",
    "goal",
    "data",
    "advice",
    "evidence",
    "more_data",
    "deployment",
    "risks",
    "next_steps",
    "appendix",
)


def build_report_model(
    result: Mapping[str, Any], language: str = "en", options: ReportOptions | None = None
) -> ReportModel:
    """Turn a result document into the report's sections, in one language.

    Pure data: every number is taken from the result (or the options) with its source
    pointer; a section the run did not measure says so instead of showing a number.

    Args:
        result: A parsed result.json (see README "result.json").
        language: "ko" or "en".
        options: Costs, rates, image root and rendering choices (defaults documented in
            :class:`ReportOptions`).

    Returns:
        The report model.

    Raises:
        ValueError: For an unsupported language.
        TypeError: If the result is not a mapping or options are of the wrong type.

    """
    check_language(language)
    options = options or ReportOptions()
    if not isinstance(options, ReportOptions):
        raise TypeError(f"options must be a ReportOptions, got {type(options).__name__}.")
    ctx = BuildContext(ResultReader(result), language, options)
    decision = decide(ctx)
    bodies = {
        "summary": summary.build(ctx, decision),
        "goal": goal.build(ctx),
        "data": data.build(ctx),
        "advice": advice.build(ctx),
        "evidence": evidence.build(ctx),
        "more_data": more_data.build(ctx),
        "deployment": deployment.build(ctx),
        "risks": risks.build(ctx),
        "next_steps": next_steps.build(ctx, decision),
        "appendix": appendix.build(ctx),
    }
    sections = [
        Section(id=sid, number=i, title=ctx.text(f"section.{sid}"), blocks=bodies[sid])
        for i, sid in enumerate(SECTION_IDS, start=1)
    ]
    meta: list[tuple[str, Cell]] = [
        (ctx.text("meta.source"), str(ctx.reader.get("/source", "–"))),
        (ctx.text("meta.created"), str(ctx.reader.find("/created_at", "/created")[0] or "–")),
    ]
    client = ctx.reader.get("/intake/client") or ctx.reader.get("/engagement/client")
    if client:
        meta.insert(0, (ctx.text("meta.client"), str(client)))
    return ReportModel(
        language=language,
        title=ctx.text("title"),
        meta=meta,
        decision=decision,
        sections=sections,
        references=_references(ctx),
        labels={key: ctx.text(key) for key in LABEL_KEYS},
        client=build_client_summary(ctx, decision),
    )


# Words the templates draw around the blocks.
LABEL_KEYS: tuple[str, ...] = (
    "not_measured",
    "verdict_heading",
    "confidence_heading",
    "reasons_heading",
    "conditions_heading",
    "why",
    "source_label",
    "action",
    "contents",
    "references",
    "images_missing",
    "footer",
)


def _references(ctx: BuildContext) -> list[Reference]:
    """Papers behind the fired rules and the report's own methods."""
    kb = ctx.kb
    refs: list[Reference] = []
    seen: set[str] = set()
    for rule_id in ctx.reader.get("/recommendation/fired_rule_ids", []) or []:
        try:
            rule = kb.rule(str(rule_id))
        except KeyError:
            continue
        for source in rule.sources:
            if source.paper and source.paper not in seen and source.paper in kb.papers:
                seen.add(source.paper)
                paper = kb.papers[source.paper]
                refs.append(Reference(kb.cite(source, ctx.language), paper.url or ""))
    _, curve = ctx.reader.section("learning_curve")
    for text in ctx.reader.get(f"{curve}/fit/citations", []) if curve else []:
        if isinstance(text, str) and text not in seen:
            seen.add(text)
            refs.append(Reference(text))
    task = task_of(ctx)
    for text in (LABEL_TIME_SOURCES.get(task), TRAINING_FLOPS_SOURCE):
        if text and text not in seen:
            seen.add(text)
            refs.append(Reference(text))
    return refs
