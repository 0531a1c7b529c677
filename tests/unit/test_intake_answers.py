"""The consultant's answers from a JSON file, and `recommend` / `validate --intake`."""

from __future__ import annotations

import json

import pytest

from advisor.cli import build_parser, main
from advisor.intake import Intake
from advisor.pipeline import NotValidatable, check_task_validatable


def test_answers_round_trip_through_result_json_keys():
    answers = Intake(
        task="super_resolution",
        data_type="input_only",
        claimed_n_images=800,
        pairs_can_be_synthesised="yes",
        wants_reinforcement_learning=True,
        target_value=1.0,
        language="ko",
        domain_tags=["video"],
    )
    assert Intake.from_mapping(answers.to_dict()) == answers


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tsak": "classification"}, "Unknown intake key 'tsak'"),
        ({"realtime": "yes"}, "'realtime' must be true or false"),
        ({"pairs_can_be_synthesised": True}, "'pairs_can_be_synthesised' must be one of"),
        ({"claimed_n_images": 12.5}, "'claimed_n_images' must be a whole number"),
        ({"target_value": "90%"}, "'target_value' must be a number"),
        ({"target_value": 90}, "not a fraction"),
        ({"task": "teleportation"}, "Unknown task 'teleportation'"),
        ({"deployment": "phone"}, "'deployment' must be one of"),
        ({"can_relabel": "no"}, "'can_relabel' must be true, false or null"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_answers_are_refused_with_what_to_write(data, message):
    with pytest.raises(ValueError, match=message):
        Intake.from_mapping(data)


def test_a_perfect_target_is_an_answer_not_an_input_error():
    assert Intake(target_value=1.0).target_value == 1.0
    args = build_parser().parse_args(["validate", ".", "--out", "x", "--target-accuracy", "100"])
    assert args.target_accuracy == 1.0


@pytest.mark.parametrize(
    "task", ["super_resolution", "lip_sync", "image_to_image", "generation", "landmarks_3d"]
)
def test_quick_validation_says_plainly_it_cannot_validate_generative_or_3d_tasks(task):
    with pytest.raises(NotValidatable, match="cannot validate .* yet"):
        check_task_validatable(task)


@pytest.mark.parametrize("task", [None, "classification", "segmentation", "detection"])
def test_quick_validation_accepts_the_tasks_it_measures(task):
    check_task_validatable(task)


def test_cli_recommend_reads_the_answers(tmp_path, two_class_folder, capsys):
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {
                "task": "classification",
                "data_type": "paired",
                "wants_reinforcement_learning": True,
                "domain_similarity": "similar",
                "target_value": 1.0,
            }
        )
    )
    assert main(["recommend", str(two_class_folder), "--intake", str(answers)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"UL-005", "LM-006", "TL-006"} <= set(out["fired_rule_ids"])
    assert out["strategy_id"] == "linear_probe" and out["path"] == "recognition"


def test_cli_recommend_without_answers_uses_the_defaults(two_class_folder, capsys):
    assert main(["recommend", str(two_class_folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "UL-005" not in out["fired_rule_ids"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"tsak": "ocr"}', "error: answers.json: Unknown intake key 'tsak'"),
        ('{"realtime": "yes"}', "error: answers.json: Intake key 'realtime' must be true"),
        ("{not json", "error: answers.json is not valid JSON"),
    ],
)
def test_cli_bad_answers_exit_2_with_one_line(
    tmp_path, two_class_folder, capsys, content, expected
):
    answers = tmp_path / "answers.json"
    answers.write_text(content)
    for command in (
        ["recommend", str(two_class_folder)],
        ["validate", str(two_class_folder), "--out", str(tmp_path / "o")],
    ):
        assert main([*command, "--intake", str(answers)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(expected) and "\n" not in err


def test_cli_missing_answers_file_is_an_argument_error(two_class_folder, capsys):
    assert main(["recommend", str(two_class_folder), "--intake", "nowhere.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere.json is not a file" in err and "\n" not in err
