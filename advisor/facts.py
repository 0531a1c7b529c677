"""Turn the consultant's answers, the dataset profile and measured evidence into facts.

Rules read a flat dict of facts (names declared in ``knowledge/facts.yaml``). This
module only gathers and reconciles what is known; it decides nothing that a rule
could decide, and it never fills an unknown with a guess: unknown facts are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from advisor.evidence import Evidence, SkippedStrategy, StrategyResult
from advisor.intake import Intake
from advisor.knowledge_base import KnowledgeBase, knowledge_base
from advisor.recommendation import STRATEGIES
from engines.profile import DatasetProfile

HEALTH_DUPLICATE_KEYS: tuple[str, ...] = ("exact_duplicate_fraction", "near_duplicate_fraction")
HEALTH_LABEL_KEY = "label_issue_fraction"


def _fraction(health: Mapping[str, Any], key: str) -> float | None:
    value = health.get(key)
    return None if value is None else _checked_fraction(value, f"profile health {key!r}")


def _checked_fraction(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"The {what} must be between 0 and 1, got {value!r}.")
    return float(value)


def _label_issue_fraction(health: Mapping[str, Any]) -> float | None:
    """Share of suspicious labels: the summary key, else the label check's own report."""
    if health.get(HEALTH_LABEL_KEY) is not None:
        return _fraction(health, HEALTH_LABEL_KEY)
    check = health.get("label_issues")
    if isinstance(check, Mapping) and check.get("n_evaluated"):
        return _checked_fraction(
            len(check.get("issues") or ()) / check["n_evaluated"], "share of suspicious labels"
        )
    return None


def _duplicate_fraction(profile: DatasetProfile) -> float | None:
    """Share of the sample that duplicates other images, from the health check."""
    found = [f for k in HEALTH_DUPLICATE_KEYS if (f := _fraction(profile.health, k)) is not None]
    if profile.effective_n_images is not None and profile.n_images > 0:
        found.append(max(0.0, 1 - profile.effective_n_images / profile.n_images))
    return max(found) if found else None


LOSSY_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO"})
"""Pillow format names of lossy still-image files (the deck's "JPEG: Loss")."""


def _format_facts(image_stats: Mapping[str, Any]) -> dict[str, Any]:
    """Share of lossy files and the highest bit depth, from the profile's image summary."""
    found: dict[str, Any] = {}
    formats = image_stats.get("formats") or {}
    total = sum(int(n) for n in formats.values())
    if total:
        lossy = sum(int(n) for f, n in formats.items() if str(f).upper() in LOSSY_FORMATS)
        found["lossy_fraction"] = round(lossy / total, 3)
    depths = [int(d) for d in (image_stats.get("bit_depths") or {}) if str(d).isdigit()]
    if depths:
        found["max_bit_depth"] = max(depths)
    return found


def _put(facts: dict[str, Any], name: str, value: Any) -> None:
    """Record a fact only when it is known."""
    if value is not None:
        facts[name] = value


def derive_facts(
    intake: Intake,
    profile: DatasetProfile,
    evidence: Evidence | None = None,
    kb: KnowledgeBase | None = None,
) -> dict[str, Any]:
    """Derive the facts the rules reason with, before comparing strategies.

    Args:
        intake: The consultant's answers.
        profile: What the uploaded sample contains.
        evidence: Measured evidence; only its domain similarity is used here (see
            :func:`derive_evidence_facts` for the rest).
        kb: The knowledge base (the packaged one when None).

    Returns:
        Fact name to value; unknown facts are absent.

    Raises:
        ValueError: If the profile or the evidence holds values out of range.

    """
    kb = kb or knowledge_base()
    facts: dict[str, Any] = {}

    # Task: the consultant's answer wins; the layout's hint fills in.
    hint = profile.task_hint
    _put(facts, "intake_task", intake.task)
    _put(facts, "profile_task_hint", hint)
    task = intake.task or hint
    if task is not None:
        spec = kb.tasks[task]
        facts.update(
            task=task,
            task_source="intake" if intake.task else "profile",
            task_framing=spec.framing,
            task_needs_decoder=spec.needs_decoder,
            target_metric_fits=intake.target_metric in spec.metrics,
        )
        best = spec.best_reported
        if best is not None and best["metric"] == intake.target_metric:
            facts["best_reported_value"] = best["value"]
            facts["best_reported_benchmark"] = task  # shown as the benchmark's name
    if intake.task is not None and hint is not None:
        hints = kb.tasks[intake.task].label_hints
        facts["task_label_mismatch"] = hints is not None and hint not in hints

    # Data type: a disagreement is a question, not a choice.
    _put(facts, "intake_data_type", intake.data_type)
    facts["profile_data_type"] = profile.data_type
    conflict = intake.data_type is not None and intake.data_type != profile.data_type
    facts["data_type_conflict"] = conflict
    if not conflict:
        facts["data_type"] = intake.data_type or profile.data_type

    # Amount: what the client holds (never less than the sample), minus duplicates.
    sample = profile.n_images
    claimed = intake.claimed_n_images
    n_images = max(sample, claimed) if claimed is not None else sample
    duplicate = _duplicate_fraction(profile)
    label_issues = _label_issue_fraction(profile.health)
    facts.update(
        sample_n_images=sample,
        n_images=n_images,
        effective_n_images=round(n_images * (1 - (duplicate or 0.0))),
        health_checked=duplicate is not None or label_issues is not None,
        n_classes=profile.n_classes,
    )
    _put(facts, "claimed_n_images", claimed)
    _put(facts, "duplicate_fraction", duplicate)
    _put(facts, "label_issue_fraction", label_issues)
    if profile.class_counts:
        facts["min_class_count"] = profile.min_class_count
        facts["imbalance_ratio"] = round(profile.imbalance_ratio, 2)
        scale = n_images / sample if sample else 1.0
        facts["min_class_count_est"] = round(profile.min_class_count * scale)

    # Similarity: a measurement overrides the consultant's guess.
    measured = evidence.measured_similarity if evidence is not None else None
    if measured not in (None, "similar", "different", "borderline"):
        raise ValueError(
            f"Measured similarity must be 'similar', 'different' or 'borderline', got {measured!r}."
        )
    guess = intake.domain_similarity
    facts["similarity_guess"] = guess
    if measured is not None:
        # A borderline measurement takes the cautious side of the 2x2, as an unknown does.
        facts.update(
            similarity="different" if measured == "borderline" else measured,
            similarity_source="measured",
            similarity_measured=measured,
        )
        if evidence is not None and evidence.similarity_score is not None:
            facts["similarity_score"] = _checked_fraction(
                evidence.similarity_score, "similarity score"
            )
    elif guess != "unknown":
        facts.update(similarity=guess, similarity_source="consultant")
    else:
        facts.update(similarity="unknown", similarity_source="none")

    # Deployment, target and what the consultant knows about labels and domains.
    facts.update(
        deployment=intake.deployment,
        realtime=intake.realtime,
        target_metric=intake.target_metric,
        label_quality=intake.label_quality,
        client_expects_everything=intake.client_expects_everything,
        labeled_source_available=intake.labeled_source_available,
        source_is_simulation=intake.source_is_simulation,
        multi_site=intake.multi_site,
        high_stakes=intake.high_stakes,
        domain_tags=list(intake.domain_tags),
    )
    _put(facts, "min_object_px", intake.min_object_px)
    _put(facts, "target_value", intake.target_value)
    _put(facts, "can_relabel", intake.can_relabel)
    _put(facts, "deployment_domain_differs", intake.deployment_domain_differs)
    facts["wants_reinforcement_learning"] = intake.wants_reinforcement_learning
    facts["pairs_can_be_synthesised"] = intake.pairs_can_be_synthesised
    facts.update(_format_facts(profile.image_stats or {}))
    if intake.goal.strip():
        facts["goal"] = intake.goal.strip()
    return facts


def _check_result(result: StrategyResult) -> None:
    if result.strategy_id not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {result.strategy_id!r} in the evidence: use one of "
            f"{', '.join(STRATEGIES)}."
        )
    for name in ("accuracy", "ci_low", "ci_high"):
        _checked_fraction(getattr(result, name), f"{name} of {result.strategy_id}")
    if not result.ci_low <= result.ci_high:
        raise ValueError(
            f"The interval of {result.strategy_id} is reversed: {result.ci_low} > {result.ci_high}."
        )


def has_evidence(evidence: Evidence | None) -> TypeGuard[Evidence]:
    """Whether the evidence holds any measurement at all."""
    return evidence is not None and (
        evidence.measured_similarity is not None
        or bool(evidence.strategies)
        or evidence.predicted_accuracy_10x is not None
        or evidence.images_for_target is not None
        or bool(evidence.skipped)
    )


def derive_evidence_facts(evidence: Evidence, advised_strategy: str) -> dict[str, Any]:
    """Derive the facts that compare measurements with the advice given before them.

    Args:
        evidence: What the validation measured.
        advised_strategy: The strategy recommended before the evidence.

    Returns:
        Evidence facts: whether an A/B ran, the best and the advised strategy with
        their accuracies, the gap between them and the comparison's uncertainty (both
        in accuracy points), and the learning-curve figures.

    Raises:
        ValueError: If a result names an unknown strategy or holds values out of range.

    """
    facts: dict[str, Any] = {
        "evidence_present": has_evidence(evidence),
        "ab_run": bool(evidence.strategies),
        "advised_strategy": advised_strategy,
    }
    by_strategy: dict[str, StrategyResult] = {}
    for result in evidence.strategies:
        _check_result(result)
        kept = by_strategy.get(result.strategy_id)
        if kept is None or result.accuracy > kept.accuracy:
            by_strategy[result.strategy_id] = result
    skipped = [s for s in evidence.skipped if s.strategy_id not in by_strategy]
    for item in skipped:
        if item.strategy_id not in STRATEGIES:
            raise ValueError(
                f"Unknown strategy {item.strategy_id!r} among the skipped: use one of "
                f"{', '.join(STRATEGIES)}."
            )
    if skipped:
        facts.update(_skipped_facts(skipped, advised_strategy))
    if by_strategy:
        advised = by_strategy.get(advised_strategy)
        best = max(by_strategy.values(), key=lambda r: r.accuracy)
        if advised is not None and advised.accuracy >= best.accuracy:
            best = advised
        facts.update(
            best_strategy=best.strategy_id,
            best_accuracy=best.accuracy,
            best_ci_low=best.ci_low,
            best_ci_high=best.ci_high,
            advised_measured=advised is not None,
        )
        if advised is not None:
            margin = max(best.ci_high - best.ci_low, advised.ci_high - advised.ci_low) / 2
            facts.update(
                advised_accuracy=advised.accuracy,
                advised_ci_low=advised.ci_low,
                advised_ci_high=advised.ci_high,
                gap_points=round((best.accuracy - advised.accuracy) * 100, 1),
                margin_points=round(margin * 100, 1),
            )
        facts["ab_outcome"] = _ab_outcome(best, advised, skipped, advised_strategy)
    if evidence.predicted_accuracy_10x is not None:
        facts["predicted_accuracy_10x"] = _checked_fraction(
            evidence.predicted_accuracy_10x, "predicted accuracy at 10x"
        )
    if evidence.images_for_target is not None:
        if evidence.images_for_target < 0:
            raise ValueError("Images needed for the target cannot be negative.")
        facts["images_for_target"] = int(evidence.images_for_target)
    return facts


def _skipped_facts(skipped: list[SkippedStrategy], advised_strategy: str) -> dict[str, Any]:
    """The strategy that did not fit (the advised one first) and the time it would need."""
    first = next((s for s in skipped if s.strategy_id == advised_strategy), skipped[0])
    facts: dict[str, Any] = {
        "skipped_strategy": first.strategy_id,
        "n_strategies_skipped": len(skipped),
    }
    if first.seconds_needed is not None:
        if first.seconds_needed < 0:
            raise ValueError("The time a skipped strategy needs cannot be negative.")
        facts["skipped_seconds"] = int(round(first.seconds_needed))
    return facts


def _ab_outcome(
    best: StrategyResult,
    advised: StrategyResult | None,
    skipped: list[SkippedStrategy],
    advised_strategy: str,
) -> str:
    """How the strategy comparison came out, for the verdict rules.

    ``clears``: another strategy's 95% interval lies wholly above the advised one's
    (lower bound above its upper bound), the only case that revises the advice.
    ``advised_best``: the advised strategy measured best and every wanted strategy ran.
    ``overlap``: another strategy scored higher but the intervals overlap.
    ``not_run``: a wanted strategy (perhaps the advised one) did not fit in the budget.
    ``advised_missing``: the advised strategy was neither run nor planned.
    """
    if advised is None:
        if any(s.strategy_id == advised_strategy for s in skipped):
            return "not_run"
        return "advised_missing"
    if best is not advised and best.ci_low > advised.ci_high:
        return "clears"
    if best is not advised:
        return "overlap"
    return "not_run" if skipped else "advised_best"
