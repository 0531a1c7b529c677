"""The one-page client summary: the answer, one sentence, three numbers, a risk, a step.

Built from the same build context and decision as the full report (see
:func:`advisor.report.build.build_report_model`), so the two never disagree. Nothing is
invented: a number the run did not measure is None and is drawn as "not measured".
"""

from __future__ import annotations

from advisor.i18n import t
from advisor.report.context import BuildContext
from advisor.report.decision import (
    critical_findings,
    headline,
    images_needed,
    red_flags,
    strategy_name,
    target,
)
from advisor.report.model import ClientSummary, Decision, Phrase
from advisor.report.numbers import Estimate, join
from advisor.report.sections.common import advice_items

LABEL_KEYS: tuple[str, ...] = (
    "title",
    "answer",
    "recommendation",
    "numbers",
    "accuracy",
    "similarity",
    "images_needed",
    "risk",
    "next_step",
    "not_measured",
    "confidence",
    "footer",
)


def _text(ctx: BuildContext, key: str) -> str:
    return t(f"summary.{key}", ctx.language)


def _phrase(ctx: BuildContext, key: str, **params: object) -> Phrase:
    return Phrase(t(f"summary.{key}", ctx.language), dict(params))  # type: ignore[arg-type]


def build_client_summary(ctx: BuildContext, decision: Decision) -> ClientSummary:
    """The client's one page, from the report's build context and decision.

    Args:
        ctx: The build context of the report.
        decision: The report's go / go with conditions / no-go decision.

    Returns:
        The summary; absent measurements are None.

    """
    reader = ctx.reader
    head = headline(reader)
    accuracy = reader.estimate(join(head.ref, "metrics", "accuracy")) if head else None
    return ClientSummary(
        recommendation=_recommendation(ctx),
        accuracy=accuracy,
        similarity=_similarity(ctx),
        images_needed=_images_needed(ctx),
        risk=_main_risk(ctx),
        next_step=decision.conditions[0] if decision.conditions else ctx.text("next.no_conditions"),
        labels={key: _text(ctx, key) for key in LABEL_KEYS},
    )


def _recommendation(ctx: BuildContext) -> Phrase | str:
    """The recommended strategy and backbone, in one sentence."""
    strategy = ctx.reader.get("/recommendation/strategy_id")
    if not strategy:
        return _text(ctx, "no_recommendation")
    validation = ctx.reader.validation
    best = validation.best() if validation is not None else None
    backbone = best.backbone if best is not None else ctx.reader.get("/validation/backbone/name")
    if not backbone:
        return _phrase(ctx, "recommend_plain", strategy=strategy_name(ctx, str(strategy)))
    return _phrase(
        ctx, "recommend", strategy=strategy_name(ctx, str(strategy)), backbone=str(backbone)
    )


def _similarity(ctx: BuildContext) -> Phrase | str | None:
    """The measured similarity call, with its score."""
    sim, ref = ctx.reader.section("similarity")
    call = sim.get("call") if isinstance(sim, dict) else None
    if not call or ref is None:
        return None
    words = ctx.kb.format_value("similarity_measured", call, ctx.language)
    score = ctx.reader.num(f"{ref}/score", "float")
    if score is None:
        return words
    return _phrase(ctx, "similarity_value", call=words, score=score)


def _images_needed(ctx: BuildContext) -> Phrase | Estimate | str | None:
    """Labeled images for the client's target, as the learning curve says."""
    reader = ctx.reader
    goal = target(reader)
    if goal is None:
        return _text(ctx, "no_target")
    found = images_needed(reader, goal)
    if found is None:
        return None
    entry, ref = found
    n = reader.num(join(ref, "n"), "count")
    status = entry.get("status")
    if status == "reachable" and n is not None:
        low, high = (
            reader.num(join(ref, "ci_low"), "count"),
            reader.num(join(ref, "ci_high"), "count"),
        )
        return _phrase(ctx, "images_for_target", n=Estimate(n, low, high), target=goal)
    if status == "already_reached":
        return _phrase(ctx, "target_reached", target=goal)
    if status == "uncertain":
        return _phrase(ctx, "target_uncertain", target=goal)
    return _phrase(ctx, "target_unreachable", target=goal)


def _main_risk(ctx: BuildContext) -> Phrase | str | None:
    """The weightiest risk of the engagement.

    A red flag first, then a critical data finding, a measured domain gap, else the
    first limitation the knowledge rules disclose.
    """
    flags = red_flags(ctx)
    if flags:
        return flags[0].text
    critical = critical_findings(ctx)
    if critical:
        return critical[0]
    sim, ref = ctx.reader.section("similarity")
    if isinstance(sim, dict) and sim.get("call") == "different":
        score = ctx.reader.num(f"{ref}/score", "percent")
        return ctx.phrase("risks.domain_shift", score=score or ctx.text("unknown"))
    risks = advice_items(ctx, "risks") if ctx.recommendation is not None else []
    return risks[0].text if risks else None
