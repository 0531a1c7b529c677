"""Provisional recommender for the first slice; replaced by the knowledge-driven one."""

from __future__ import annotations

from advisor.evidence import Evidence
from advisor.intake import Intake
from advisor.recommendation import Recommendation, RuleFiring
from engines.profile import DatasetProfile


def recommend(
    intake: Intake, profile: DatasetProfile, evidence: Evidence | None = None
) -> Recommendation:
    """Recommend a transfer strategy from the amount of data (provisional)."""
    n = profile.n_images
    if n >= 10_000:
        rule = RuleFiring("DA-001", "a-lot-of-data", {"en": "≥10⁴ images", "ko": "10⁴장 이상"},
                          "001_20731d4aa5739c62.txt")
        strategy = "full_finetune"
    else:
        rule = RuleFiring("DA-003", "very-few", {"en": "<10⁴ images", "ko": "10⁴장 미만"},
                          "001_20731d4aa5739c62.txt")
        strategy = "linear_probe"
    return Recommendation(task=intake.task or profile.task_hint or "classification",
                          strategy_id=strategy, trail=[rule])
