"""The ``validation`` part of result.json: what the run measured on the sample."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engines.results.base import Message, MetricEstimate, Record
from engines.results.vocab import Strategy

# Tolerance when matching a client's target to a fitted "images needed" entry.
_TARGET_TOLERANCE = 1e-9


class ClassificationMetrics(Record):
    """Held-out metrics of one classifier, each with its 95 % interval."""

    n: int | None = None
    n_classes: int | None = None
    classes: list[str] = Field(default_factory=list)
    confidence: float | None = None
    accuracy: MetricEstimate
    balanced_accuracy: MetricEstimate | None = None
    macro_f1: MetricEstimate | None = None
    chance: dict[str, float] = Field(default_factory=dict)
    better_than_chance: bool | None = None
    per_class: list[dict[str, Any]] = Field(default_factory=list)
    confusion_matrix: list[list[int]] = Field(default_factory=list)
    max_half_width: float | None = None
    interval_too_wide: bool | None = None
    images_for_max_half_width: int | None = None
    warning: str | None = None
    warning_code: Message | None = None


class Experiment(Record):
    """One strategy on one backbone, trained and scored on the shared split."""

    id: str
    strategy: Strategy
    backbone: str
    n_train: int | None = None
    n_val: int | None = None
    metrics: ClassificationMetrics
    seconds: float | None = None

    @property
    def accuracy(self) -> MetricEstimate:
        """Held-out accuracy with its interval."""
        return self.metrics.accuracy


class Skipped(Record):
    """A strategy that was asked for but not run, and why."""

    strategy: Strategy
    reason: str
    reason_code: Message | None = None
    estimated_seconds: float | None = None


class CurvePoint(Record):
    """Mean probe accuracy at one training-set size."""

    n: int
    mean: float
    std: float | None = None
    count: int | None = None


class CurvePrediction(Record):
    """The fitted curve's prediction at a multiple of the sample."""

    n: int
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    extrapolation: float


class ImagesNeeded(Record):
    """Labeled training images needed to reach a target accuracy."""

    target: float
    status: Literal["reachable", "already_reached", "uncertain", "not_reachable"]
    n: int | None = None
    ci_low: int | None = None
    ci_high: int | None = None
    p_reachable: float | None = None
    a_ci_high: float | None = None

    @property
    def reachable(self) -> bool:
        """Whether the fit gives a number of images for the target."""
        return self.status in ("reachable", "already_reached") and self.n is not None


class CurveFit(Record):
    """A saturating power law fitted to the learning curve, with predictions."""

    model: str
    a: MetricEstimate | None = None
    b: MetricEstimate | None = None
    c: MetricEstimate | None = None
    predictions: list[CurvePrediction] = Field(default_factory=list)
    images_needed: list[ImagesNeeded] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    note_codes: list[Message] = Field(default_factory=list)


class LearningCurve(Record):
    """Probe accuracy against training-set size, and its extrapolation."""

    metric: str = "accuracy"
    points: list[CurvePoint] = Field(default_factory=list)
    fit: CurveFit | None = None
    reason: str | None = None
    reason_code: Message | None = None
    strategy: str | None = None
    note: str | None = None
    note_code: Message | None = None

    def images_needed(self, target: float | None) -> ImagesNeeded | None:
        """The "images needed" entry for exactly this target (None when not fitted)."""
        if self.fit is None or target is None:
            return None
        return next(
            (
                e
                for e in self.fit.images_needed
                if abs(e.target - float(target)) < _TARGET_TOLERANCE
            ),
            None,
        )

    def prediction_at(self, multiple: float) -> CurvePrediction | None:
        """The prediction at ``multiple`` times the sample, where fitted."""
        if self.fit is None:
            return None
        return next(
            (p for p in self.fit.predictions if abs(p.extrapolation - multiple) < 0.01), None
        )


class SimilaritySignal(Record):
    """One signal behind the similarity call, against its threshold."""

    name: str
    value: float | None = None
    threshold: float | None = None
    points_to: str | None = None


class Similarity(Record):
    """How close the sample is to what the backbone learned (ImageNet)."""

    call: str | None = None
    score: float | None = None
    confidence: str | None = None
    evidence: list[SimilaritySignal] = Field(default_factory=list)
    backbone: str | None = None
    reason: str | None = None
    reason_code: Message | None = None

    @property
    def measured(self) -> bool:
        """Whether a call was made."""
        return self.call is not None


class RankingRow(Record):
    """One backbone's transferability scores and, where run, its probe accuracy."""

    backbone: str
    rank: int | None = None
    mean_rank: float | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    linear_probe_accuracy: MetricEstimate | None = None
    flops_per_image: float | None = None
    confirmed: bool | None = None


class Budget(Record):
    """The time budget and what was used of it."""

    seconds: float
    used_seconds: float | None = None


class Validation(Record):
    """Everything one validation run measured.

    Classification fills the experiments; segmentation, detection, unlabeled and
    unpaired samples put their own section under the key named by ``task``.
    """

    task: str
    device: dict[str, Any] = Field(default_factory=dict)
    backbone: dict[str, Any] = Field(default_factory=dict)
    experiments: list[Experiment] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    best_experiment: str | None = None
    misclassified: list[dict[str, Any]] = Field(default_factory=list)
    similarity: Similarity | None = None
    learning_curve: LearningCurve | None = None
    backbone_ranking: list[RankingRow] = Field(default_factory=list)
    deployment: dict[str, Any] | None = None
    budget: Budget | None = None
    warnings: list[str] = Field(default_factory=list)
    warning_codes: list[Message] = Field(default_factory=list)
    segmentation: dict[str, Any] | None = None
    detection: dict[str, Any] | None = None
    clusters: dict[str, Any] | None = None
    domain_gap: dict[str, Any] | None = None
    site_gap: dict[str, Any] | None = None

    def best(self) -> Experiment | None:
        """The best experiment: the one the run named, else the most accurate.

        This is the one meaning of "best" everywhere (page, report, history).
        """
        named = next((e for e in self.experiments if e.id == self.best_experiment), None)
        if named is not None:
            return named
        return max(self.experiments, key=lambda e: e.accuracy.value, default=None)

    def experiment(self, strategy: Strategy | str) -> Experiment | None:
        """The first experiment of a strategy on the fine-tuned backbone, if run."""
        wanted = Strategy(strategy)
        return next((e for e in self.experiments if e.strategy == wanted), None)

    def images_needed(self, target: float | None) -> ImagesNeeded | None:
        """Images needed for the client's target, from the learning curve."""
        return self.learning_curve.images_needed(target) if self.learning_curve else None
