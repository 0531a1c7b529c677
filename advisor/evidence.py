"""Measured evidence handed back to the advisor after a validation run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StrategyResult:
    """One experiment's headline: a strategy and its measured score with 95% interval."""

    strategy_id: str
    backbone: str
    accuracy: float
    ci_low: float
    ci_high: float
    seconds: float


@dataclass
class SkippedStrategy:
    """A strategy the validation wanted but could not run, and the time it would need."""

    strategy_id: str
    seconds_needed: float | None = None
    reason: str = ""


@dataclass
class Evidence:
    """What the validation measured, in the terms the advisor reasons with.

    Attributes:
        measured_similarity: "similar", "different" or "borderline" (the 2x2 then takes
            the cautious side, "different"), or None where not measured.
        similarity_score: The score behind that call (0-1, higher is more similar).
        strategies: Strategy results on the same split.
        predicted_accuracy_10x: Learning-curve prediction at 10x the sample.
        images_for_target: Labeled images needed to reach the client's target, or None
            where not reachable or not measured.
        skipped: Strategies that did not fit in the time budget (a verdict without
            them is inconclusive unless a measured one clears the advice).

    """

    measured_similarity: str | None = None
    similarity_score: float | None = None
    strategies: list[StrategyResult] = field(default_factory=list)
    predicted_accuracy_10x: float | None = None
    images_for_target: int | None = None
    skipped: list[SkippedStrategy] = field(default_factory=list)

    def best(self) -> StrategyResult | None:
        """Return the strategy with the highest accuracy, if any was run."""
        return max(self.strategies, key=lambda s: s.accuracy, default=None)

    def to_dict(self) -> dict[str, Any]:
        """Return the evidence as JSON-ready data."""
        return asdict(self)
