"""Re-evaluation with measured evidence, questions back, and the localized view."""

from __future__ import annotations

import json

import pytest

from advisor.evidence import Evidence, StrategyResult
from advisor.intake import Intake
from advisor.recommend import recommend
from advisor.recommendation import Recommendation
from advisor.views import present
from engines.profile import DatasetProfile

SMALL_SIMILAR = Intake(task="classification", domain_similarity="similar", target_value=0.9)


def sample(n: int = 2_000, **kwargs) -> DatasetProfile:
    kwargs.setdefault("n_classes", 2)
    kwargs.setdefault("class_counts", {"a": n // 2, "b": n - n // 2})
    return DatasetProfile(n_images=n, **kwargs)


def result(strategy: str, accuracy: float, half_width: float = 0.02) -> StrategyResult:
    return StrategyResult(
        strategy, "efficientnet_lite0", accuracy, accuracy - half_width, accuracy + half_width, 12.0
    )


def test_prior_advice_has_no_verdict():
    rec = recommend(SMALL_SIMILAR, sample())
    assert rec.strategy_id == "linear_probe"
    assert rec.verdict is None and rec.prior_strategy_id is None
    assert recommend(SMALL_SIMILAR, sample(), Evidence()).verdict is None


def test_a_clearly_better_full_finetune_revises_the_linear_probe_with_numbers():
    evidence = Evidence(strategies=[result("linear_probe", 0.80), result("full_finetune", 0.86)])
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "revised"
    assert rec.prior_strategy_id == "linear_probe"
    assert rec.strategy_id == "full_finetune" and rec.freeze_stages == 0
    assert rec.verdict_reason["en"] == (
        "Revised: the full fine-tune beat the linear probe on the same held-out images, 86% "
        "(95% CI from 84%) against 80% (up to 82%); the intervals do not overlap."
    )
    assert "구간이 겹치지 않아" in rec.verdict_reason["ko"]
    assert rec.evidence_findings[-1]["outcome"] == "overturned"
    assert "EV-004" in rec.fired_rule_ids


def test_the_advice_is_validated_when_it_measured_best():
    evidence = Evidence(strategies=[result("linear_probe", 0.85), result("full_finetune", 0.80)])
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "validated"
    assert rec.strategy_id == "linear_probe" and rec.freeze_stages == 5
    assert "EV-005" in rec.fired_rule_ids
    assert rec.verdict_reason["en"].startswith("Validated")


@pytest.mark.parametrize("better", [0.81, 0.83, 0.839])
def test_a_better_score_inside_overlapping_intervals_is_inconclusive(better):
    # full fine-tune [better - 0.02, better + 0.02] against probe [0.78, 0.82]: they overlap
    evidence = Evidence(strategies=[result("linear_probe", 0.80), result("full_finetune", better)])
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "inconclusive" and rec.strategy_id == "linear_probe"
    assert "EV-006" in rec.fired_rule_ids
    assert "the intervals overlap" in rec.verdict_reason["en"]
    assert "구간이 겹쳐" in rec.verdict_reason["ko"]


def test_a_planted_near_chance_probe_against_a_fine_tune_that_learns_is_revised():
    probe = StrategyResult("linear_probe", "m", 0.52, 0.40, 0.64, 1.0)
    tuned = StrategyResult("partial_finetune", "m", 0.95, 0.87, 0.98, 30.0)
    rec = recommend(SMALL_SIMILAR, sample(), Evidence(strategies=[probe, tuned]))
    assert rec.verdict == "revised" and rec.strategy_id == "partial_finetune"


@pytest.mark.parametrize("tuned_accuracy", [0.97, 0.99, 1.0])
def test_a_probe_at_ceiling_is_never_revised_toward_a_worse_strategy(tuned_accuracy):
    probe = StrategyResult("linear_probe", "m", 0.99, 0.95, 1.0, 1.0)
    tuned = StrategyResult(
        "full_finetune", "m", tuned_accuracy, max(tuned_accuracy - 0.05, 0), 1.0, 30.0
    )
    rec = recommend(SMALL_SIMILAR, sample(), Evidence(strategies=[probe, tuned]))
    assert rec.verdict in ("validated", "inconclusive")
    assert rec.strategy_id == "linear_probe"


def test_a_strategy_that_did_not_fit_makes_the_verdict_inconclusive_with_the_time():
    from advisor.evidence import SkippedStrategy

    evidence = Evidence(
        strategies=[result("linear_probe", 0.85)], skipped=[SkippedStrategy("full_finetune", 412.4)]
    )
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "inconclusive" and "EV-013" in rec.fired_rule_ids
    assert "needs about 412 s" in rec.verdict_reason["en"]
    assert "412초" in rec.verdict_reason["ko"]
    used_up = Evidence(
        strategies=[result("linear_probe", 0.85)], skipped=[SkippedStrategy("full_finetune", None)]
    )
    rec = recommend(SMALL_SIMILAR, sample(), used_up)
    assert rec.verdict == "inconclusive" and "EV-014" in rec.fired_rule_ids
    # a measured strategy that clears the advice revises it even when another was skipped
    clear = Evidence(
        strategies=[result("linear_probe", 0.70), result("partial_finetune", 0.9)],
        skipped=[SkippedStrategy("full_finetune", 400.0)],
    )
    assert recommend(SMALL_SIMILAR, sample(), clear).verdict == "revised"


def test_an_ab_without_the_advised_strategy_asks_for_it():
    evidence = Evidence(strategies=[result("full_finetune", 0.9)])
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "inconclusive"
    assert "EV-007" in rec.fired_rule_ids
    assert "did not include the advised strategy" in questions(rec)


def test_measured_similarity_overrides_the_guess_in_the_2x2():
    evidence = Evidence(measured_similarity="different", similarity_score=0.31)
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.strategy_id == "partial_finetune" and rec.freeze_stages == 2
    assert rec.verdict == "revised"
    assert {"EV-001", "EV-008", "TL-005"} <= set(rec.fired_rule_ids)
    assert "'different' (score 31%), not 'similar'" in rec.evidence_findings[0]["en"]


def test_measured_similarity_that_agrees_validates_without_an_ab():
    evidence = Evidence(measured_similarity="similar", similarity_score=0.8)
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "validated" and rec.strategy_id == "linear_probe"
    assert {"EV-002", "EV-009"} <= set(rec.fired_rule_ids)


def test_measured_similarity_replaces_the_cautious_assumption():
    intake = Intake(task="classification")
    prior = recommend(intake, sample())
    assert prior.assumptions and prior.strategy_id == "partial_finetune"
    rec = recommend(intake, sample(), Evidence(measured_similarity="similar", similarity_score=0.7))
    assert rec.assumptions == []
    assert rec.strategy_id == "linear_probe" and rec.verdict == "revised"
    assert "EV-003" in rec.fired_rule_ids


def test_the_ab_outranks_the_similarity_proxy():
    evidence = Evidence(
        measured_similarity="different",
        similarity_score=0.3,
        strategies=[result("linear_probe", 0.82), result("partial_finetune", 0.83)],
    )
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert rec.verdict == "inconclusive" and rec.strategy_id == "linear_probe"
    assert "EV-008" not in rec.fired_rule_ids


def test_learning_curve_out_of_reach_and_images_needed():
    evidence = Evidence(predicted_accuracy_10x=0.84, images_for_target=40_000)
    rec = recommend(SMALL_SIMILAR, sample(), evidence)
    assert {"EV-010", "EV-011"} <= set(rec.fired_rule_ids)
    assert "predicts 84%, below the target of 90%" in " ".join(f["en"] for f in rec.red_flags)
    assert "about 40,000 labeled images" in " ".join(d["en"] for d in rec.data_strategy)
    reachable = recommend(SMALL_SIMILAR, sample(), Evidence(images_for_target=1_500))
    assert "EV-012" in reachable.fired_rule_ids


@pytest.mark.parametrize(
    "evidence",
    [
        Evidence(measured_similarity="close"),
        Evidence(similarity_score=1.5, measured_similarity="similar"),
        Evidence(strategies=[result("train_harder", 0.8)]),
        Evidence(strategies=[StrategyResult("linear_probe", "b", 0.8, 0.9, 0.7, 1.0)]),
        Evidence(predicted_accuracy_10x=87.0),
    ],
)
def test_bad_evidence_is_refused_with_a_clear_message(evidence):
    with pytest.raises(ValueError, match="similar|between 0 and 1|Unknown strategy|reversed"):
        recommend(SMALL_SIMILAR, sample(), evidence)


# --- questions instead of guesses ----------------------------------------------------------


def questions(rec: Recommendation) -> str:
    return " | ".join(q["en"] for q in rec.questions)


def test_unknown_task_is_a_question_not_a_guess():
    rec = recommend(Intake(), sample(task_hint=None))
    assert rec.task == "unknown" and rec.architecture == {}
    assert "QA-001" in rec.fired_rule_ids
    assert "What must the model give back" in questions(rec)


def test_paired_answer_but_no_labels_in_the_data():
    rec = recommend(
        Intake(task="classification", data_type="paired"),
        sample(n_classes=0, class_counts={}, data_type="input_only", task_hint=None),
    )
    assert "QA-002" in rec.fired_rule_ids
    assert "data_type" not in rec.facts  # not picked: asked
    assert "Where are the labels" in questions(rec)
    assert not any(r.startswith(("SI-", "UL-")) for r in rec.fired_rule_ids)


def test_no_pairs_answer_but_labels_in_the_data():
    rec = recommend(Intake(task="classification", data_type="input_only"), sample())
    assert "QA-003" in rec.fired_rule_ids


def test_labels_that_do_not_fit_the_task():
    rec = recommend(Intake(task="detection"), sample(task_hint="classification"))
    assert "QA-005" in rec.fired_rule_ids
    assert "Object detection" in questions(rec)


def test_claimed_count_below_the_sample_and_unknown_label_quality():
    rec = recommend(Intake(task="classification", claimed_n_images=100), sample(2_000))
    assert {"QA-008", "QA-006"} <= set(rec.fired_rule_ids)
    assert rec.facts["n_images"] == 2_000  # the sample itself is a fact


def test_wrong_argument_types_are_refused():
    with pytest.raises(TypeError, match="intake must be of type Intake"):
        recommend({"task": "classification"}, sample())
    with pytest.raises(TypeError, match="evidence must be of type Evidence"):
        recommend(SMALL_SIMILAR, sample(), {"strategies": []})
    with pytest.raises(ValueError, match="Domain tags"):
        Intake(domain_tags="face")


# --- the localized view --------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ko"])
def test_present_renders_every_section_in_one_language(language):
    evidence = Evidence(
        measured_similarity="similar",
        similarity_score=0.8,
        strategies=[result("linear_probe", 0.80), result("full_finetune", 0.86)],
    )
    rec = recommend(
        Intake(
            task="ocr", domain_tags=["document"], goal="read invoices", domain_similarity="similar"
        ),
        sample(task_hint="detection"),
        evidence,
    )
    view = present(rec, language)
    assert view["language"] == language
    assert view["architecture"]["name"] == (
        "Text detection and recognition (OCR)" if language == "en" else "문자 검출 및 인식 (OCR)"
    )
    assert view["verdict"]["status"] == "revised" and view["verdict"]["reason"]
    assert view["strategy"]["prior_id"] == "linear_probe"
    assert view["cases"][0]["id"] == "document_ocr_classification"
    assert view["cases"][0]["client_provides"]
    for section in ("diagnosis", "data_strategy", "risks", "questions"):
        assert view[section], section
        for entry in view[section]:
            assert entry["text"] and entry["rule_id"] and entry["sources"]
    for step in view["trail"]:
        assert step["why"] and step["matched"] and step["sources"]
    if language == "ko":
        assert view["labels"]["trail"] == "적용된 규칙"
        assert view["labels"]["strategy"] == "전이 학습 전략"


def test_a_stored_recommendation_round_trips_and_presents():
    rec = recommend(SMALL_SIMILAR, sample())
    stored = json.loads(json.dumps(rec.to_dict()))
    again = Recommendation.from_dict(stored)
    assert again.fired_rule_ids == rec.fired_rule_ids
    assert present(again, "ko") == present(rec, "ko")
    with pytest.raises(ValueError, match="language"):
        present(rec, "fr")
    with pytest.raises(ValueError, match="Unknown strategy"):
        Recommendation(task="classification", strategy_id="magic")
