"""Go / go with conditions / no-go, from what the run measured.

The verdict reads only measurements and the client's target:

* nothing measured -> ``not_measured`` (the report does not guess);
* the best model's balanced accuracy is not above chance -> ``no_go``;
* a target was agreed and the whole 95 % interval of the headline metric is at or
  above it -> ``go``, unless a red flag of the method, a critical data finding or an
  interval too wide to decide remains (-> ``go_with_conditions``);
* the target lies inside the interval -> ``go_with_conditions`` (more held-out images
  decide it);
* the target lies above the interval -> ``go_with_conditions`` where the learning
  curve predicts it is reachable with more data, else ``no_go``;
* no target was agreed -> ``go_with_conditions`` (agree one: without a target "will it
  work?" has no answer, rule QA-009 of the method).

Confidence is the width of the deciding interval: half-width at most
:data:`HIGH_CONFIDENCE_HALF_WIDTH` is high, at most :data:`MEDIUM_CONFIDENCE_HALF_WIDTH`
medium, else low (the second is the width above which the metrics module calls an
interval too wide to decide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor.report.access import ResultReader
from advisor.report.context import BuildContext
from advisor.report.model import Decision, Item, Phrase
from advisor.report.numbers import Estimate, Num, derive, join

VERDICTS: tuple[str, ...] = ("go", "go_with_conditions", "no_go", "not_measured")
HIGH_CONFIDENCE_HALF_WIDTH = 0.05
MEDIUM_CONFIDENCE_HALF_WIDTH = 0.10
MAX_REASONS = 3
_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "sensitivity", "specificity", "roc_auc")


@dataclass(frozen=True)
class Headline:
    """The deciding measurement: the best experiment's headline metric.

    Attributes:
        ref: Pointer of the experiment.
        strategy: Its strategy id.
        metric: The metric's id ("accuracy", ...).
        estimate: The metric with its interval.
        n_val: Held-out images it was measured on.
        better_than_chance: The metrics module's verdict (balanced accuracy interval
            above the uniform rate); None where not recorded.
        chance: The uniform chance rate.

    """

    ref: str
    strategy: str
    metric: str
    estimate: Estimate
    n_val: Num | None
    better_than_chance: bool | None
    chance: Num | None


def best_experiment(reader: ResultReader) -> tuple[dict[str, Any], str] | None:
    """The best experiment (see ``Validation.best``), with its pointer."""
    validation = reader.validation
    best = validation.best() if validation is not None else None
    if validation is None or best is None:
        return None
    ref = join("/validation/experiments", validation.experiments.index(best))
    return reader.get(ref), ref


def headline(reader: ResultReader) -> Headline | None:
    """The deciding measurement, in the client's target metric where it was measured."""
    best = best_experiment(reader)
    if best is None:
        return None
    exp, ref = best
    wanted = reader.get("/intake/target_metric", "accuracy")
    metric = wanted if wanted in _METRICS else "accuracy"
    estimate = reader.estimate(join(ref, "metrics", metric))
    if estimate is None:
        metric, estimate = "accuracy", reader.estimate(join(ref, "metrics", "accuracy"))
    if estimate is None:
        return None
    btc = reader.get(join(ref, "metrics", "better_than_chance"))
    return Headline(
        ref=ref,
        strategy=str(exp.get("strategy", "")),
        metric=metric,
        estimate=estimate,
        n_val=reader.num(join(ref, "n_val"), "count")
        or reader.num(join(ref, "metrics", "n"), "count"),
        better_than_chance=btc if isinstance(btc, bool) else None,
        chance=reader.num(join(ref, "metrics", "chance", "uniform"), "percent"),
    )


def target(reader: ResultReader) -> Num | None:
    """The client's target for the headline metric (intake first, then the run config)."""
    for ref in ("/intake/target_value", "/config/target_accuracy"):
        num = reader.num(ref, "percent")
        if num is not None and 0 < num.value <= 1:
            return num
    return None


def images_needed(reader: ResultReader, goal: Num) -> tuple[dict[str, Any], str] | None:
    """The learning curve's "images needed" entry for a target, with its pointer."""
    validation = reader.validation
    needed = validation.images_needed(float(goal.value)) if validation is not None else None
    if needed is None or validation is None or validation.learning_curve is None:
        return None
    fit = validation.learning_curve.fit
    index = fit.images_needed.index(needed) if fit is not None else 0
    ref = join("/validation/learning_curve/fit/images_needed", index)
    return reader.get(ref), ref


def half_width(estimate: Estimate) -> Num | None:
    """Half the width of an interval, as a derived number (None when an end is open)."""
    if estimate.low is None or estimate.high is None:
        return None
    return derive(
        (estimate.high.value - estimate.low.value) / 2,
        "points",
        "(ci_high − ci_low) / 2",
        estimate.high,
        estimate.low,
    )


def held_out_to_decide(estimate: Estimate, goal: Num) -> Num | None:
    """Held-out images for an interval narrow enough to tell the estimate from the target.

    The interval's half-width must shrink to the gap between the estimate and the
    target: ``n = z² p (1 − p) / gap²`` (normal approximation, as
    :func:`engines.metrics.images_for_half_width`).
    """
    from engines.metrics import images_for_half_width

    gap = abs(float(estimate.value.value) - float(goal.value))
    if gap < 1e-6:
        return None
    n = images_for_half_width(float(estimate.value.value), gap)
    return derive(
        n, "count", "z² p (1 − p) / (p − target)², p kept in [0.05, 0.95]", estimate.value, goal
    )


def confidence_of(estimate: Estimate) -> str:
    """High, medium or low, from the half-width of the interval (see the module doc)."""
    width = half_width(estimate)
    if width is None:
        return "low"
    if width.value <= HIGH_CONFIDENCE_HALF_WIDTH:
        return "high"
    if width.value <= MEDIUM_CONFIDENCE_HALF_WIDTH:
        return "medium"
    return "low"


def strategy_name(ctx: BuildContext, strategy: str) -> str:
    """A strategy's name from the knowledge base (its id where unknown)."""
    known = ctx.kb.strategies.get(strategy)
    return known.name.get(ctx.language) if known is not None else strategy


def metric_name(ctx: BuildContext, metric: str) -> str:
    """A metric's name from the glossary (its id where unknown)."""
    known = ctx.kb.metrics.get(metric)
    return known.name.get(ctx.language) if known is not None else metric


def red_flags(ctx: BuildContext) -> list[Item]:
    """The method's red flags that fired for this engagement."""
    flags = ctx.reader.get("/recommendation/red_flags", [])
    return [
        Item(ctx.pick(f), rule_id=str(f.get("rule_id", ""))) for f in flags if isinstance(f, dict)
    ]


def critical_findings(ctx: BuildContext) -> list[str]:
    """Titles and actions of the data health findings marked critical."""
    findings, _ = ctx.reader.find("/profile/health/findings")
    out = []
    for f in findings or []:
        if isinstance(f, dict) and f.get("severity") == "critical":
            out.append(f"{ctx.finding(f, 'title')}: {ctx.finding(f, 'action')}".strip(": "))
    return out


def decide(ctx: BuildContext) -> Decision:
    """Decide go / go with conditions / no-go from the measured evidence.

    Args:
        ctx: The build context (result, language, options).

    Returns:
        The decision with its confidence, the reasons that matter most (at most
        :data:`MAX_REASONS`) and the conditions to meet.

    """
    reader = ctx.reader
    head = headline(reader)
    if head is None:
        # The run's own words on why nothing could be scored (no labels, unpaired...).
        said: list[Phrase | str] = list(
            ctx.engine_list(reader.section("warning_codes")[0], reader.section("warnings")[0])
        )
        ran = reader.get("/validation") is not None
        return Decision(
            verdict="not_measured",
            label=ctx.text("verdicts.not_measured"),
            confidence=None,
            confidence_label=ctx.text("confidence.none"),
            confidence_basis=ctx.text("decision.nothing_measured"),
            headline=None,
            reasons=([ctx.text("decision.nothing_measured")] + said)[:MAX_REASONS],
            conditions=[
                ctx.text("decision.cond_label_sample")
                if ran
                else ctx.text("decision.cond_run_validation")
            ],
        )

    reasons: list[Phrase | str] = []
    conditions: list[Phrase | str] = []
    est = head.estimate
    goal = target(reader)
    width = half_width(est)
    too_wide = reader.get(join(head.ref, "metrics", "interval_too_wide")) is True
    flags = red_flags(ctx)
    critical = critical_findings(ctx)

    reasons.append(
        ctx.phrase(
            "decision.reason_measured",
            strategy=strategy_name(ctx, head.strategy),
            metric=metric_name(ctx, head.metric),
            estimate=est,
            n_val=head.n_val if head.n_val is not None else ctx.text("unknown"),
        )
    )

    if head.better_than_chance is False:
        verdict = "no_go"
        reasons.append(
            ctx.phrase("decision.reason_chance", chance=head.chance or ctx.text("unknown"))
        )
        conditions.append(ctx.text("decision.cond_check_labels"))
    elif goal is None:
        verdict = "go_with_conditions"
        reasons.append(ctx.text("decision.reason_no_target"))
        conditions.append(
            ctx.phrase("decision.cond_agree_target", metric=metric_name(ctx, head.metric))
        )
    elif est.low is not None and est.low.value >= goal.value:
        verdict = "go"
        reasons.append(ctx.phrase("decision.reason_target_met", target=goal))
    elif est.high is not None and est.high.value < goal.value:
        verdict = _below_target(ctx, goal, reasons, conditions)
    else:
        verdict = "go_with_conditions"
        reasons.append(ctx.phrase("decision.reason_target_inside", target=goal))
        needed = held_out_to_decide(est, goal)
        if needed is not None and (head.n_val is None or needed.value > head.n_val.value):
            conditions.append(ctx.phrase("decision.cond_more_validation", n=needed))
        else:
            conditions.append(ctx.text("decision.cond_more_validation_plain"))

    # After the deciding reasons, in order of weight: what blocks a plain "go", then
    # what more data would bring, then what the evidence did to the advice.
    reasons.extend(critical)
    conditions.extend(critical)
    for flag in flags:
        reasons.append(flag.text)
        conditions.append(flag.text)
    if too_wide and width is not None:
        more = reader.num(join(head.ref, "metrics", "images_for_max_half_width"), "count")
        limit = reader.num(join(head.ref, "metrics", "max_half_width"), "points")
        reasons.append(
            ctx.phrase(
                "decision.reason_interval_wide",
                half=width,
                n=more or ctx.text("unknown"),
                limit=limit or ctx.text("unknown"),
            )
        )
        if more is not None and (head.n_val is None or more.value > head.n_val.value):
            conditions.append(ctx.phrase("decision.cond_more_validation", n=more))
    if goal is None or verdict != "go":
        _add_curve_outlook(ctx, reasons)
    verdict_reason = ctx.pick(reader.get("/recommendation/verdict_reason"))
    if verdict_reason:
        reasons.append(verdict_reason)

    if verdict == "go" and (flags or critical or too_wide):
        verdict = "go_with_conditions"
    confidence = confidence_of(est)
    basis: Phrase | str = (
        ctx.phrase(
            "decision.confidence_basis",
            half=width,
            n_val=head.n_val if head.n_val is not None else ctx.text("unknown"),
        )
        if width is not None
        else ctx.text("decision.confidence_open")
    )
    return Decision(
        verdict=verdict,
        label=ctx.text(f"verdicts.{verdict}"),
        confidence=confidence,
        confidence_label=ctx.text(f"confidence.{confidence}"),
        confidence_basis=basis,
        headline=est,
        reasons=reasons[:MAX_REASONS],
        conditions=_unique(conditions),
    )


def _below_target(
    ctx: BuildContext, goal: Num, reasons: list[Phrase | str], conditions: list[Phrase | str]
) -> str:
    """Verdict and reasons when the whole interval lies below the target."""
    reader = ctx.reader
    found = images_needed(reader, goal)
    if found is None:
        reasons.append(ctx.phrase("decision.reason_target_no_curve", target=goal))
        conditions.append(ctx.text("decision.cond_measure_curve"))
        return "no_go"
    entry, ref = found
    status = entry.get("status")
    n = reader.num(join(ref, "n"), "count")
    low = reader.num(join(ref, "ci_low"), "count")
    high = reader.num(join(ref, "ci_high"), "count")
    if status in ("reachable", "already_reached") and n is not None:
        reasons.append(
            ctx.phrase("decision.reason_target_reachable", target=goal, n=Estimate(n, low, high))
        )
        _, curve_ref = reader.section("learning_curve")
        n_max = reader.num(join(curve_ref or "", "fit", "n_max"), "count")
        if n_max is not None and n.value > n_max.value:
            more = derive(
                n.value - n_max.value, "count", "images needed − images trained on", n, n_max
            )
            conditions.append(ctx.phrase("decision.cond_more_data", n=more, target=goal))
        return "go_with_conditions"
    if status == "uncertain":
        reasons.append(
            ctx.phrase(
                "decision.reason_target_uncertain", target=goal, low=low or ctx.text("unknown")
            )
        )
        conditions.append(ctx.text("decision.cond_measure_curve"))
        return "go_with_conditions"
    ceiling = reader.num(join(ref, "a_ci_high"), "percent")
    reasons.append(
        ctx.phrase(
            "decision.reason_target_unreachable",
            target=goal,
            ceiling=ceiling or ctx.text("unknown"),
        )
    )
    conditions.append(ctx.text("decision.cond_rethink"))
    return "no_go"


def _add_curve_outlook(ctx: BuildContext, reasons: list[Phrase | str]) -> None:
    """Add the learning curve's prediction at the largest multiple, where measured."""
    reader = ctx.reader
    _, ref = reader.section("learning_curve")
    if ref is None:
        return
    predictions = reader.items(join(ref, "fit", "predictions"))
    if not predictions:
        return
    _, p = max(predictions, key=lambda ep: float(ep[0].get("extrapolation") or 0))
    est = reader.estimate(p)
    n = reader.num(join(p, "n"), "count")
    multiple = reader.num(join(p, "extrapolation"), "multiple")
    if est is not None and n is not None and multiple is not None:
        reasons.append(ctx.phrase("decision.reason_curve", multiple=multiple, n=n, estimate=est))


def _unique(items: list[Phrase | str]) -> list[Phrase | str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item if isinstance(item, str) else f"{item.template}|{item.params!r}"
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
