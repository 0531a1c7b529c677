"""The advisor's answer, with the trail of rules that produced it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STRATEGIES: tuple[str, ...] = ("linear_probe", "partial_finetune", "full_finetune")


@dataclass
class RuleFiring:
    """A rule that fired: which, why (in ko and en) and where it comes from."""

    rule_id: str
    slug: str
    reason: dict[str, str]
    source: str


@dataclass
class Recommendation:
    """What to build and how, and why.

    Attributes:
        task: The task family the recommendation is for.
        architecture: The task architecture (id and localized description).
        strategy_id: Transfer strategy, one of :data:`STRATEGIES`.
        freeze_stages: Backbone stages to keep frozen in a partial fine-tune.
        lr_plan: Learning-rate plan, localized.
        data_strategy: Data actions (augmentation, public data, synthesis...), localized.
        red_flags: Things the consultant must not promise or must check, localized.
        risks: Limitations to disclose in the report, localized.
        cases: Ids of the nearest cases in the case library.
        questions: Questions back to the consultant where answers are missing or
            conflict, localized.
        trail: Every rule that fired, in order.
        verdict: After evidence: "validated", "revised" or None before validation.
        verdict_reason: Localized explanation of the verdict.
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

    @property
    def fired_rule_ids(self) -> list[str]:
        """Ids of the rules that fired, in order."""
        return [f.rule_id for f in self.trail]

    def to_dict(self) -> dict[str, Any]:
        """Return the recommendation as JSON-ready data."""
        data = asdict(self)
        data["fired_rule_ids"] = self.fired_rule_ids
        return data
