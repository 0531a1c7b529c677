"""A borderline similarity measurement takes the cautious side of the 2x2."""

from __future__ import annotations

from advisor.evidence import Evidence
from advisor.facts import derive_facts
from advisor.intake import Intake
from advisor.recommend import recommend
from engines.profile import DatasetProfile


def sample(n: int = 2_000) -> DatasetProfile:
    return DatasetProfile(n_images=n, n_classes=2, class_counts={"a": n // 2, "b": n - n // 2})


def test_borderline_is_read_as_different_in_the_2x2():
    intake = Intake(task="classification", domain_similarity="similar", target_value=0.9)
    evidence = Evidence(measured_similarity="borderline", similarity_score=0.48)
    facts = derive_facts(intake, sample(), evidence)
    assert facts["similarity"] == "different" and facts["similarity_source"] == "measured"
    assert facts["similarity_measured"] == "borderline" and facts["similarity_score"] == 0.48
    rec = recommend(intake, sample(), evidence)
    different = recommend(
        intake, sample(), Evidence(measured_similarity="different", similarity_score=0.3)
    )
    similar = recommend(
        intake, sample(), Evidence(measured_similarity="similar", similarity_score=0.8)
    )
    assert rec.facts["similarity_2x2"] == "different"
    assert rec.strategy_id == different.strategy_id != similar.strategy_id
