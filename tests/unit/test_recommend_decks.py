"""The advisor resolves every quadrant, situation, task family and case as the decks say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.intake import TASKS, Intake
from advisor.knowledge_base import knowledge_base, thaw
from advisor.recommend import recommend
from engines.profile import DatasetProfile

KB = knowledge_base()
ROOT = Path(__file__).resolve().parents[2]
LOTS, FEW, VERY_FEW = 20_000, 3_000, 400


def profile(
    n: int = FEW,
    *,
    data_type: str = "paired",
    hint: str | None = "classification",
    classes: int = 4,
    **kwargs,
) -> DatasetProfile:
    """A sample profile; labeled samples spread evenly over ``classes``."""
    counts = {f"c{i}": n // classes for i in range(classes)} if data_type == "paired" else {}
    return DatasetProfile(
        n_images=n,
        n_classes=len(counts),
        class_counts=counts,
        data_type=data_type,
        task_hint=hint,
        **kwargs,
    )


def texts(items) -> str:
    return " | ".join(i["en"] for i in items)


# --- the 2x2 of data size x domain similarity (deck 003) ------------------------------


@pytest.mark.parametrize(
    ("n", "similarity", "strategy", "freeze", "rule"),
    [
        (LOTS, "similar", "partial_finetune", 4, "TL-003"),
        (LOTS, "different", "full_finetune", 0, "TL-004"),
        (FEW, "different", "partial_finetune", 2, "TL-005"),
        (FEW, "similar", "linear_probe", 5, "TL-006"),
        (VERY_FEW, "similar", "linear_probe", 5, "TL-006"),
    ],
)
def test_every_quadrant_resolves_as_the_deck_answers(n, similarity, strategy, freeze, rule):
    rec = recommend(Intake(task="classification", domain_similarity=similarity), profile(n))
    assert (rec.strategy_id, rec.freeze_stages) == (strategy, freeze)
    assert rule in rec.fired_rule_ids
    assert rec.total_stages == 5
    assert rec.lr_plan["en"] and rec.lr_plan["ko"]
    quadrant_rules = {"TL-003", "TL-004", "TL-005", "TL-006"}
    assert quadrant_rules & set(rec.fired_rule_ids) == {rule}


def test_hardest_corner_asks_for_augmentation_and_fine_tuning_gets_per_layer_rates():
    rec = recommend(Intake(task="classification", domain_similarity="different"), profile(FEW))
    assert "augmentation" in texts(rec.data_strategy)
    assert "per-layer learning rates" in texts(rec.strategy_notes)
    assert rec.lr_schedule["layer_decay"] == 2.6
    assert "TL-008" in rec.fired_rule_ids  # freeze from the bottom (Yosinski et al.)


def test_linear_probe_has_no_per_layer_rates():
    rec = recommend(Intake(task="classification", domain_similarity="similar"), profile(FEW))
    assert "TL-007" not in rec.fired_rule_ids
    assert rec.lr_schedule["layer_decay"] == 1.0


def test_unknown_similarity_is_an_assumption_and_a_question_not_a_fact():
    rec = recommend(Intake(task="classification"), profile(FEW))
    assert "TL-002" in rec.fired_rule_ids
    assert rec.strategy_id == "partial_finetune"  # the cautious corner
    assert "assumes" in texts(rec.assumptions)
    assert "Validate" in texts(rec.questions)


# --- data type x amount (deck 001) ------------------------------------------------------


@pytest.mark.parametrize("data_type", ["paired", "unpaired", "input_only"])
@pytest.mark.parametrize(("n", "amount"), [(LOTS, "a_lot"), (FEW, "few"), (VERY_FEW, "very_few")])
def test_every_data_type_and_amount_situation(data_type, n, amount):
    hint = "classification" if data_type == "paired" else None
    rec = recommend(
        Intake(task="classification", domain_similarity="similar"),
        profile(n, data_type=data_type, hint=hint),
    )
    fired = set(rec.fired_rule_ids)
    assert rec.facts["amount"] == amount
    assert {"DA-001": "a_lot", "DA-002": "few", "DA-003": "very_few"}[
        next(r for r in fired if r in ("DA-001", "DA-002", "DA-003"))
    ] == amount
    assert ("DA-004" in fired) is (amount == "very_few")  # no synthesis: not from this alone
    expected_situation = {
        ("paired", True): "SI-001",
        ("paired", False): "SI-003",
        ("unpaired", True): "SI-002",
        ("unpaired", False): "SI-004",
        ("input_only", True): "SI-002",
        ("input_only", False): "SI-004",
    }[(data_type, amount == "a_lot")]
    assert {r for r in fired if r.startswith("SI-")} == {expected_situation}
    ladder = {"UL-001", "UL-002", "UL-003", "UL-004"}
    if data_type == "paired":
        assert not ladder & fired
    else:
        assert ladder <= fired
        steps = texts(rec.data_strategy)
        assert steps.index("Step 1") < steps.index("Step 2")
        assert "reinforcement learning" in texts(rec.red_flags)
    if amount == "few":
        assert "hard to guarantee" in texts(rec.risks)
    if amount == "very_few":
        assert "cannot be built from this data alone" in texts(rec.red_flags)


def test_few_paired_looks_for_public_data_and_synthesis():
    rec = recommend(Intake(task="classification", label_quality="clean"), profile(FEW))
    assert "public datasets" in texts(rec.data_strategy)
    assert "synthesis" in texts(rec.data_strategy)


def test_few_unpaired_client_who_wants_everything_is_a_red_flag():
    rec = recommend(
        Intake(task="image_to_image", client_expects_everything=True),
        profile(VERY_FEW, data_type="unpaired", hint=None),
    )
    flags = texts(rec.red_flags)
    assert "wants everything done" in flags
    assert "without providing labels or pairs" in flags
    assert "Never promise reinforcement learning" in flags


def test_is_it_really_a_lot_duplicates_and_broken_labels():
    sample = profile(2_000, health={"near_duplicate_fraction": 0.6, "label_issue_fraction": 0.3})
    rec = recommend(
        Intake(
            task="classification",
            claimed_n_images=LOTS,
            can_relabel=False,
            domain_similarity="similar",
        ),
        sample,
    )
    assert rec.facts["effective_n_images"] == 8_000
    assert rec.facts["amount"] == "few"  # 20,000 files, 8,000 distinct: not a lot
    fired = set(rec.fired_rule_ids)
    assert {"DQ-001", "DQ-002", "DQ-003", "DQ-006"} <= fired
    assert "changed backgrounds" in texts(rec.red_flags)
    assert "no rule to relabel" in texts(rec.red_flags)


def test_a_lot_without_a_health_check_asks_to_check():
    rec = recommend(Intake(task="classification", claimed_n_images=50_000), profile(300))
    assert "DQ-005" in rec.fired_rule_ids
    assert "health check" in texts(rec.questions)


def test_imbalanced_classes_call_for_sensitivity_specificity_auc():
    counts = {"ok": 950, "defect": 50}
    sample = DatasetProfile(n_images=1000, n_classes=2, class_counts=counts)
    rec = recommend(Intake(task="classification"), sample)
    assert "sensitivity, specificity and AUC" in texts(rec.data_strategy)


# --- task families (decks 001, 002, 003) ------------------------------------------------

DECODER_TASKS = {
    "segmentation",
    "pose",
    "generation",
    "image_to_image",
    "super_resolution",
    "lip_sync",
    "landmarks_3d",
}


@pytest.mark.parametrize("task", TASKS)
def test_every_task_family_gets_its_architecture(task):
    rec = recommend(Intake(task=task), profile(FEW, hint=None))
    arch = rec.architecture
    assert arch["id"] == task
    assert arch["needs_decoder"] is (task in DECODER_TASKS)
    assert arch["label_format"]["en"] and arch["label_format"]["ko"]
    assert arch["losses"] and arch["metrics"] and arch["backbones"]
    framing = KB.tasks[task].framing
    assert ("DT-004" if framing == "many_to_one" else "DT-005") in rec.fired_rule_ids


@pytest.mark.parametrize(
    ("task", "shape", "words"),
    [
        ("classification", "encoder_head", "classifier head"),
        ("detection", "encoder_head", "box"),
        ("segmentation", "encoder_decoder", "decoder"),
        ("pose", "encoder_decoder", "heatmap"),
        ("generation", "generator", "discriminator"),
        ("image_to_image", "encoder_decoder", "CycleGAN"),
        ("ocr", "two_stage", "Two separate networks"),
        ("video", "temporal", "3D convolutions"),
        ("tracking", "temporal", "association"),
        ("action_recognition", "temporal", "clip classifier"),
        ("similarity", "embedding", "embedding"),
        ("super_resolution", "encoder_decoder", "EDVR"),
    ],
)
def test_task_architectures_say_what_the_decks_say(task, shape, words):
    arch = recommend(Intake(task=task), profile(FEW, hint=None)).architecture
    assert arch["shape"] == shape
    assert words in arch["description"]["en"]


def test_segmentation_and_pose_are_butterflies_that_generate_nothing():
    for task in ("segmentation", "pose"):
        assert "AR-015" in recommend(Intake(task=task), profile(FEW, hint=None)).fired_rule_ids
    assert (
        "AR-015" not in recommend(Intake(task="generation"), profile(FEW, hint=None)).fired_rule_ids
    )


def test_metrics_fit_their_tasks():
    assert {"dice", "iou"} <= set(KB.tasks["segmentation"].metrics)
    assert {"accuracy", "sensitivity", "specificity", "auc"} <= set(
        KB.tasks["classification"].metrics
    )
    rec = recommend(
        Intake(task="segmentation", target_metric="accuracy"), profile(FEW, hint="segmentation")
    )
    assert "QA-007" in rec.fired_rule_ids


@pytest.mark.parametrize(
    ("deployment", "backbone", "rule"),
    [
        ("server_gpu", "convnext_small", None),
        ("cpu", "efficientnet_lite0", "DP-002"),
        ("mobile", "mobilenetv3_large_100", "DP-001"),
    ],
)
def test_backbones_follow_the_deployment_target(deployment, backbone, rule):
    rec = recommend(Intake(task="classification", deployment=deployment), profile(FEW))
    assert rec.architecture["backbones"][0] == backbone
    if rule:
        assert rule in rec.fired_rule_ids


def test_small_objects_in_4k_keep_the_resolution():
    rec = recommend(Intake(task="detection", min_object_px=30), profile(FEW, hint="detection"))
    assert "tile" in texts(rec.data_strategy)


def test_domain_adaptation_when_labeled_source_and_unlabeled_target():
    rec = recommend(
        Intake(task="classification", labeled_source_available=True),
        profile(LOTS, data_type="input_only", hint=None),
    )
    assert "DS-002" in rec.fired_rule_ids
    assert "DANN" in texts(rec.data_strategy)
    sim = recommend(Intake(task="classification", source_is_simulation=True), profile(FEW))
    assert "DS-004" in sim.fired_rule_ids
    assert "do not generalise" in texts(sim.data_strategy)


def test_limitations_are_disclosed_as_risks():
    rec = recommend(
        Intake(task="classification", high_stakes=True, deployment="mobile"), profile(FEW)
    )
    risks = texts(rec.risks)
    assert {"LM-001", "LM-002", "LM-003", "LM-004", "LM-005"} <= set(rec.fired_rule_ids)
    assert "fooled" in risks and "cannot explain" in risks and "energy" in risks


# --- the case library (decks 000 and 001) ------------------------------------------------


@pytest.mark.parametrize("case", KB.cases, ids=lambda c: c.id)
def test_each_case_is_the_nearest_for_its_own_engagement(case):
    example = thaw(case.example)
    rec = recommend(Intake(**example["intake"]), DatasetProfile(**example["profile"]))
    assert rec.cases[0] == case.id
    assert rec.architecture["id"] == case.task
    assert set(case.rules) <= set(rec.fired_rule_ids), case.id


def test_video_super_resolution_makes_pairs_by_degrading_high_quality_video():
    case = KB.case("video_super_resolution")
    assert "degrade" in case.preprocessing[1].en
    example = thaw(case.example)
    rec = recommend(Intake(**example["intake"]), DatasetProfile(**example["profile"]))
    assert "Noise" in " ".join(i["ko"] for i in rec.data_strategy)


def test_document_ocr_separates_detection_and_recognition():
    case = KB.case("document_ocr_classification")
    assert "separate networks" in case.preprocessing[0].en
    assert KB.tasks["ocr"].shape == "two_stage"


def test_cases_say_what_the_client_must_provide():
    for case in KB.cases:
        assert case.ultimately_needed.en and case.client_provides, case.id


def test_recommendation_is_json_ready():
    rec = recommend(Intake(task="classification"), profile(FEW))
    data = json.loads(json.dumps(rec.to_dict(), ensure_ascii=False))
    assert data["strategy_id"] == rec.strategy_id
    assert data["fired_rule_ids"] == rec.fired_rule_ids


def test_recommending_loads_no_torch_timm_or_streamlit():
    code = (
        "import sys\n"
        "from advisor.intake import Intake\n"
        "from advisor.recommend import recommend\n"
        "from engines.profile import DatasetProfile\n"
        "recommend(Intake(task='detection'), DatasetProfile(n_images=10, n_classes=1,"
        " class_counts={'a': 10}))\n"
        "print(sorted({'torch', 'timm', 'streamlit'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_case_keywords_match_words_not_fragments():
    rec = recommend(
        Intake(task="segmentation", goal="Find surface defects on magnetic tiles"),
        profile(FEW, hint="segmentation"),
    )
    reasons = " ".join(r["en"] for m in rec.case_matches for r in m["reasons"])
    assert "goal mentions: defect" in reasons
    assert "ct" not in [w.strip() for w in reasons.replace(":", ",").split(",")]


@pytest.mark.parametrize("task", TASKS)
def test_every_combination_gives_one_strategy_without_conflicting_rules(task):
    """No two rules ever derive different values for one fact (RuleConflictError)."""
    for data_type in ("paired", "unpaired", "input_only"):
        for n in (LOTS, FEW, VERY_FEW):
            for similarity in ("similar", "different", "unknown"):
                rec = recommend(
                    Intake(
                        task=task,
                        domain_similarity=similarity,
                        deployment="mobile",
                        client_expects_everything=data_type != "paired",
                    ),
                    profile(n, data_type=data_type, hint=None),
                )
                assert rec.strategy_id in ("linear_probe", "partial_finetune", "full_finetune")
                quadrants = {"TL-003", "TL-004", "TL-005", "TL-006"} & set(rec.fired_rule_ids)
                if knowledge_base().tasks[task].framing == "one_to_many":
                    # generative path: no freeze table at all
                    assert not quadrants and rec.path == "generative"
                    assert rec.freeze_stages is None
                else:
                    assert len(quadrants) == 1 and rec.path == "recognition"


def test_the_health_check_report_feeds_is_it_really_a_lot():
    """The health check's own report (effective count, label check) is read as well."""
    sample = profile(
        2_000,
        effective_n_images=1_200,
        health={"label_issues": {"n_evaluated": 2_000, "issues": [{}] * 400}},
    )
    rec = recommend(Intake(task="classification", claimed_n_images=LOTS), sample)
    assert rec.facts["duplicate_fraction"] == pytest.approx(0.4)
    assert rec.facts["label_issue_fraction"] == pytest.approx(0.2)
    assert rec.facts["effective_n_images"] == 12_000 and rec.facts["health_checked"]
    assert {"DQ-001", "DQ-002"} <= set(rec.fired_rule_ids)
