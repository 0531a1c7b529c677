"""The advisor's answer, with the trail of rules that produced it.

Every text a client may see is stored in both languages (``{"en": ..., "ko": ...}``)
together with the id of the rule that produced it, so the same recommendation renders
in Korean or English and every sentence traces to a rule and its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engines.results.vocab import STRATEGY_ORDER, Verdict

STRATEGIES: tuple[str, ...] = tuple(s.value for s in STRATEGY_ORDER)
PATHS: tuple[str, ...] = ("recognition", "generative")
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)


@dataclass
class RuleFiring:
    """A rule that fired: which, why (in ko and en) and where it comes from.

    Attributes:
        rule_id: Stable id, e.g. "TL-006".
        slug: Readable id, e.g. "small-similar-linear-probe".
        reason: Why the rule says what it says, localized.
        source: The primary source: a seed file name or a paper id.
        topic: The rule's topic.
        title: The rule's title, localized.
        matched: The condition that held, in words, localized.
        confidence: "high", "medium" or "low".
        citations: Every source of the rule as one line each, localized.

    """

    rule_id: str
    slug: str
    reason: dict[str, str]
    source: str
    topic: str = ""
    title: dict[str, str] = field(default_factory=dict)
    matched: dict[str, str] = field(default_factory=dict)
    confidence: str = ""
    citations: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Recommendation:
    """What to build and how, and why.

    Localized items (data strategy, red flags, risks, questions...) are dicts with
    "en", "ko" and "rule_id" (the rule that produced them).

    Attributes:
        task: The task family the recommendation is for ("unknown" when nobody said;
            then ``questions`` asks).
        strategy_id: Transfer strategy, one of :data:`STRATEGIES`.
        architecture: The task architecture: id, localized name, description, label
            format, losses, metrics and backbones for the deployment target.
        freeze_stages: Backbone stages (of ``total_stages``) to keep frozen, counted
            from the input side.
        lr_plan: Learning-rate plan, localized.
        data_strategy: Data actions (augmentation, public data, synthesis...), localized.
        red_flags: Things the consultant must not promise or must check, localized.
        risks: Limitations to disclose in the report, localized.
        cases: Ids of the nearest cases in the case library, nearest first.
        questions: Questions back to the consultant where answers are missing or
            conflict, localized.
        trail: Every rule that fired, in evaluation order.
        verdict: After evidence: "validated", "revised" or "inconclusive" (with the
            reason in ``verdict_reason``); None before validation.
        verdict_reason: Localized explanation of the verdict, with the numbers.
        diagnosis: What kind of problem and data this is, localized.
        strategy_name: The strategy's name, localized.
        strategy_notes: How to apply the strategy (layers, rates, targets), localized.
        assumptions: What the advice assumes until it is measured, localized.
        evidence_findings: Where the evidence confirmed or overturned the advice, each
            with "outcome" ("confirmed", "overturned" or "measured").
        case_matches: The nearest cases with their score and why they match.
        prior_strategy_id: The strategy advised before the evidence, when evidence
            was given.
        total_stages: Stages of the backbone that ``freeze_stages`` counts in.
        lr_schedule: Numbers for the trainer: head_lr, layer_decay, warmup_epochs,
            schedule.
        facts: The facts the advice was derived from.
        knowledge_version: Fingerprint of the knowledge files used.
        path: "recognition" (the 2×2 freeze table applies) or "generative" (generative
            and image-to-image tasks: fine-tune a pretrained model of the same family;
            ``freeze_stages`` is None and ``strategy_id`` is "full_finetune").

    """

    task: str
    strategy_id: str
    architecture: dict[str, Any] = field(default_factory=dict)
    freeze_stages: int | None = None
    lr_plan: dict[str, str] = field(default_factory=dict)
    data_strategy: list[dict[str, str]] = field(default_factory=list)
    red_flags: list[dict[str, str]] = field(default_factory=list)
    risks: list[dict[str, str]] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    questions: list[dict[str, str]] = field(default_factory=list)
    trail: list[RuleFiring] = field(default_factory=list)
    verdict: str | None = None
    verdict_reason: dict[str, str] = field(default_factory=dict)
    diagnosis: list[dict[str, str]] = field(default_factory=list)
    strategy_name: dict[str, str] = field(default_factory=dict)
    strategy_notes: list[dict[str, str]] = field(default_factory=list)
    assumptions: list[dict[str, str]] = field(default_factory=list)
    evidence_findings: list[dict[str, str]] = field(default_factory=list)
    case_matches: list[dict[str, Any]] = field(default_factory=list)
    prior_strategy_id: str | None = None
    total_stages: int = 5
    lr_schedule: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    knowledge_version: str = ""
    path: str = "recognition"

    def __post_init__(self) -> None:
        if self.strategy_id not in STRATEGIES:
            raise ValueError(
                f"Unknown strategy {self.strategy_id!r}: use one of {', '.join(STRATEGIES)}."
            )
        if self.path not in PATHS:
            raise ValueError(f"Unknown path {self.path!r}: use one of {', '.join(PATHS)}.")
        if self.verdict not in (None, *VERDICTS):
            raise ValueError(
                f"Unknown verdict {self.verdict!r}: use validated, revised or inconclusive."
            )

    @property
    def fired_rule_ids(self) -> list[str]:
        """Ids of the rules that fired, in order."""
        return [f.rule_id for f in self.trail]

    def to_dict(self) -> dict[str, Any]:
        """Return the recommendation as JSON-ready data."""
        data = asdict(self)
        data["fired_rule_ids"] = self.fired_rule_ids
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        """Rebuild a recommendation from :meth:`to_dict` output (unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        firing_fields = {f.name for f in fields(RuleFiring)}
        kwargs["trail"] = [
            RuleFiring(**{k: v for k, v in f.items() if k in firing_fields})
            for f in data.get("trail", [])
        ]
        return cls(**kwargs)
