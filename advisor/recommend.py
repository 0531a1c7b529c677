"""The advisor: apply the knowledge base to an engagement and explain the result.

``recommend`` derives facts from the intake and the dataset profile, fires the rules
of ``knowledge/`` in dependency order and assembles what fired into a
:class:`~advisor.recommendation.Recommendation`. With measured evidence it first
recomputes the advice as it stood before the evidence, then fires the rules again
with the measurements, so the evidence rules can say where they confirmed or
overturned that advice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from advisor import rules as rule_engine
from advisor.evidence import Evidence
from advisor.facts import derive_evidence_facts, derive_facts, has_evidence
from advisor.intake import Intake
from advisor.knowledge_base import Case, KnowledgeBase, Rule, Text, knowledge_base
from advisor.recommendation import Recommendation, RuleFiring
from engines.profile import DatasetProfile

GENERATIVE_STRATEGY = "full_finetune"
"""Generative tasks fine-tune all of a pretrained model of the same family."""

# Where each kind of rule output goes in the recommendation.
_TEXT_FIELDS: dict[str, str] = {
    "diagnosis": "diagnosis",
    "strategy_note": "strategy_notes",
    "data_strategy": "data_strategy",
    "red_flag": "red_flags",
    "risk": "risks",
    "question": "questions",
    "assumption": "assumptions",
}


def recommend(
    intake: Intake, profile: DatasetProfile, evidence: Evidence | None = None
) -> Recommendation:
    """Recommend an architecture, a transfer strategy and a data strategy, with reasons.

    Args:
        intake: The consultant's answers.
        profile: The uploaded sample's profile.
        evidence: Measurements from a validation run (similarity, strategy A/B,
            learning curve), or None before validation.

    Returns:
        The recommendation. With evidence, ``verdict`` says whether the evidence
        validated or revised the advice given without it (``prior_strategy_id``), and
        ``evidence_findings`` say where it confirmed or overturned it.

    Raises:
        TypeError: If an argument is not of the expected type.
        ValueError: If the profile or the evidence holds values out of range.

    """
    for value, kind, name in ((intake, Intake, "intake"), (profile, DatasetProfile, "profile")):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be of type {kind.__name__}, got {type(value).__name__}.")
    if evidence is not None and not isinstance(evidence, Evidence):
        raise TypeError(
            f"evidence must be of type Evidence or None, got {type(evidence).__name__}."
        )
    kb = knowledge_base()
    prior = _assemble(kb, _fire(kb, derive_facts(intake, profile, kb=kb)))
    if not has_evidence(evidence):
        return prior
    facts = derive_facts(intake, profile, evidence, kb=kb)
    facts.update(derive_evidence_facts(evidence, prior.strategy_id))
    return _assemble(kb, _fire(kb, facts), prior=prior)


def _fire(kb: KnowledgeBase, facts: Mapping[str, Any]) -> rule_engine.Firing:
    return rule_engine.fire(kb.rules, facts, kb.constant_values)


def _localized(
    kb: KnowledgeBase, rule: Rule, text: Text, facts: Mapping[str, Any]
) -> dict[str, str]:
    return {
        "rule_id": rule.id,
        "en": kb.render(text.en, facts, "en"),
        "ko": kb.render(text.ko, facts, "ko"),
    }


def _both(make: Callable[[str], str]) -> dict[str, str]:
    return {"en": make("en"), "ko": make("ko")}


def _assemble(
    kb: KnowledgeBase, firing: rule_engine.Firing, prior: Recommendation | None = None
) -> Recommendation:
    facts = firing.facts
    fired = [kb.rule(rule_id) for rule_id in firing.fired]
    basis = facts.get("strategy_basis")
    if basis == "measured":
        strategy_id = facts["best_strategy"]
    elif basis == "advised":
        strategy_id = facts["advised_strategy"]
    elif "strategy_2x2" in facts:
        strategy_id = facts["strategy_2x2"]
    elif facts.get("transfer_path") == "generative":
        strategy_id = GENERATIVE_STRATEGY
    else:
        raise rule_engine.RuleConflictError(
            "No transfer strategy was derived: the data-size and similarity rules must "
            "cover every case."
        )
    generative = facts.get("transfer_path") == "generative"
    if generative:
        freeze = None  # no freeze table for generators
    elif strategy_id == facts.get("strategy_2x2"):
        freeze = facts["freeze_stages_2x2"]
    elif basis == "advised" and prior is not None:
        freeze = prior.freeze_stages
    else:
        freeze = kb.strategies[strategy_id].freeze_stages
    strategy = kb.strategies[strategy_id]
    path = kb.generative if generative and kb.generative is not None else strategy

    rec = Recommendation(
        task=facts.get("task", "unknown"),
        strategy_id=strategy_id,
        freeze_stages=freeze,
        total_stages=kb.total_stages,
        strategy_name=path.name.as_dict(),
        lr_plan=path.lr_plan.as_dict(),
        lr_schedule={} if generative else dict(strategy.lr_schedule),
        path="generative" if generative else "recognition",
        verdict=facts.get("verdict"),
        prior_strategy_id=prior.strategy_id if prior is not None else None,
        knowledge_version=kb.version,
    )
    for rule in fired:
        for kind, text in rule.then.texts.items():
            item = _localized(kb, rule, text, facts)
            target = getattr(rec, _TEXT_FIELDS[kind])
            if all(i["en"] != item["en"] for i in target):
                target.append(item)
        if rule.then.finding is not None:
            finding = _localized(kb, rule, rule.then.finding.text, facts)
            finding["outcome"] = rule.then.finding.outcome
            rec.evidence_findings.append(finding)
            if firing.setters.get("verdict") == rule.id:
                rec.verdict_reason = {"en": finding["en"], "ko": finding["ko"]}
        if rule.then.architecture:
            rec.architecture = _architecture(kb, rule, facts)
        rec.trail.append(_firing(kb, rule))
    rec.case_matches = match_cases(kb, facts)
    rec.cases = [m["id"] for m in rec.case_matches]
    rec.facts = {k: list(v) if isinstance(v, tuple) else v for k, v in facts.items()}
    return rec


def _firing(kb: KnowledgeBase, rule: Rule) -> RuleFiring:
    return RuleFiring(
        rule_id=rule.id,
        slug=rule.slug,
        reason=rule.why.as_dict(),
        source=rule.sources[0].key,
        topic=rule.topic,
        title=rule.title.as_dict(),
        matched=_both(lambda lang: rule_engine.describe(rule.when, kb.vocabulary(lang))),
        confidence=rule.confidence,
        citations=[_both(partial(kb.cite, s)) for s in rule.sources],
    )


def _architecture(kb: KnowledgeBase, rule: Rule, facts: Mapping[str, Any]) -> dict[str, Any]:
    task = kb.tasks[cast(str, rule.then.architecture)]  # the caller checked it is set
    deployment = facts.get("deployment", "server_gpu")
    return {
        "id": task.id,
        "rule_id": rule.id,
        "name": task.name.as_dict(),
        "framing": task.framing,
        "shape": task.shape,
        "shape_name": kb.shapes[task.shape].as_dict(),
        "needs_decoder": task.needs_decoder,
        "description": task.architecture.as_dict(),
        "label_format": task.label_format.as_dict(),
        "labeling_effort": task.labeling_effort,
        "losses": list(task.losses),
        "metrics": list(task.metrics),
        "deployment": deployment,
        "backbones": list(task.backbones[deployment]),
        "backbones_by_target": {k: list(v) for k, v in task.backbones.items()},
        "modality": task.modality,
        "pretrained_family": (
            task.pretrained_family.as_dict() if task.pretrained_family is not None else None
        ),
    }


def match_cases(kb: KnowledgeBase, facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rank the case library by closeness to an engagement.

    Weights, the minimum score and how many to return live in ``cases.yaml``.

    Args:
        kb: The knowledge base.
        facts: The engagement's facts (task, data type, domain tags, goal...).

    Returns:
        The nearest cases, best first: id, score, localized title, and the localized
        reasons they match.

    """
    ranked = []
    for order, case in enumerate(kb.cases):
        score, reasons = _case_score(kb, case, facts)
        if score >= kb.matching["min_score"]:
            ranked.append((-score, order, case, score, reasons))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [
        {"id": case.id, "score": round(score, 2), "title": case.title.as_dict(), "reasons": reasons}
        for _, _, case, score, reasons in ranked[: kb.matching["top_k"]]
    ]


def _mentions(goal: str, keyword: str) -> bool:
    """Whether a lower-cased goal mentions a keyword.

    Latin keywords must start a word ("ct" is not in "defects"; "defect" is in
    "defects"); Korean ones may carry particles, so any occurrence counts.
    """
    word = keyword.lower()
    if word.isascii():
        return re.search(rf"(?<![a-z0-9]){re.escape(word)}", goal) is not None
    return word in goal


def _case_score(
    kb: KnowledgeBase, case: Case, facts: Mapping[str, Any]
) -> tuple[float, list[dict[str, str]]]:
    """Score one case against the facts; return the score and the localized reasons."""
    weights = kb.matching["weights"]
    goal = str(facts.get("goal", "")).lower()
    task = facts.get("task")
    parts: list[tuple[float, str, dict[str, str]]] = []
    if task is not None and task == case.task:
        parts.append((weights["task"], "match_task", kb.tasks[task].name.as_dict()))
    elif task is not None and task in case.related_tasks:
        parts.append((weights["related_task"], "match_related_task", kb.tasks[task].name.as_dict()))
    if facts.get("data_type") == case.data_type:
        parts.append(
            (
                weights["data_type"],
                "match_data_type",
                _both(lambda lang: kb.format_value("data_type", case.data_type, lang)),
            )
        )
    shared = [t for t in case.tags if t in set(facts.get("domain_tags", ()))]
    if shared:
        parts.append(
            (
                weights["tag"] * len(shared),
                "match_tags",
                _both(lambda lang: ", ".join(kb.tags[t].get(lang) for t in shared)),
            )
        )
    words = [w for w in (*case.keywords["en"], *case.keywords["ko"]) if _mentions(goal, w)]
    hits = words[: kb.matching["max_keyword_hits"]]
    if hits:
        parts.append(
            (
                weights["keyword"] * len(hits),
                "match_keywords",
                {"en": ", ".join(hits), "ko": ", ".join(hits)},
            )
        )
    signals = [s for s in case.signals if facts.get(s) is True]
    if signals:
        parts.append(
            (
                weights["signal"] * len(signals),
                "match_signals",
                _both(lambda lang: ", ".join(kb.facts[s].label.get(lang) for s in signals)),
            )
        )
    if facts.get("deployment") in case.deployments:
        parts.append(
            (
                weights["deployment"],
                "match_deployment",
                _both(lambda lang: kb.format_value("deployment", facts["deployment"], lang)),
            )
        )
    reasons = [
        {lang: f"{kb.label(key, lang)}: {detail[lang]}" for lang in detail}
        for _, key, detail in parts
    ]
    return sum(points for points, _, _ in parts), reasons
