"""The typed result document: its schema, its version rule and its one meaning of each read."""

import json
import math
from pathlib import Path

import jsonschema
import pytest

from engines.results import (
    ConfigError,
    Result,
    ResultError,
    RunConfig,
    Strategy,
    Validation,
    dump_json,
    load_result,
    parse_result,
)
from engines.results.schema import SCHEMA_PATH, result_schema, schema_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLE = FIXTURES / "result_example.json"


def _example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "schema/result.schema.json is stale: run `python -m engines.results.schema --write`"
    )


def test_the_example_fixture_validates_against_the_schema():
    jsonschema.validate(_example(), result_schema())


def test_a_written_result_validates_against_the_schema_and_reads_back(tmp_path):
    result = load_result(EXAMPLE)
    path = tmp_path / "result.json"
    path.write_text(dump_json(result.to_json_dict()), encoding="utf-8")
    jsonschema.validate(json.loads(path.read_text()), result_schema())
    assert load_result(path).to_json_dict() == result.to_json_dict()


def test_a_later_minor_version_with_new_fields_is_read_and_keeps_them():
    data = _example()
    data["schema_version"] = "1.7"
    data["a_field_from_the_future"] = {"x": 1}
    data["validation"]["experiments"][0]["new_metric"] = 0.5
    result = parse_result(data)
    again = result.to_json_dict()
    assert again["a_field_from_the_future"] == {"x": 1}
    assert again["validation"]["experiments"][0]["new_metric"] == 0.5


@pytest.mark.parametrize("version", ["2.0", "0.9", None])
def test_another_major_version_is_refused_with_what_to_do(version):
    data = _example()
    data["schema_version"] = version
    with pytest.raises(ResultError, match="re-run the validation|no schema_version"):
        parse_result(data)


@pytest.mark.parametrize("data", [[1, 2], "text", 3])
def test_a_document_that_is_not_an_object_is_refused(data):
    with pytest.raises(ResultError, match="not a result document"):
        parse_result(data)


def test_a_wrongly_typed_field_names_its_place():
    data = _example()
    data["validation"]["experiments"][0]["n_train"] = "many"
    with pytest.raises(ResultError, match="/validation/experiments/0/n_train"):
        parse_result(data)


def _validation(**extra) -> Validation:
    base = {
        "task": "classification",
        "experiments": [
            {
                "id": "linear_probe@b",
                "strategy": "linear_probe",
                "backbone": "b",
                "n_train": 8,
                "n_val": 4,
                "metrics": {"accuracy": {"value": 0.7}},
            },
            {
                "id": "partial_finetune@b",
                "strategy": "partial_finetune",
                "backbone": "b",
                "n_train": 8,
                "n_val": 4,
                "metrics": {"accuracy": {"value": 0.9}},
            },
        ],
    }
    return Validation.model_validate({**base, **extra})


def test_best_is_the_named_experiment_else_the_most_accurate():
    assert _validation().best().strategy == Strategy.PARTIAL_FINETUNE
    named = _validation(best_experiment="linear_probe@b")
    assert named.best().strategy == Strategy.LINEAR_PROBE
    assert _validation(experiments=[]).best() is None


def test_images_needed_is_the_entry_for_exactly_the_target():
    curve = {
        "fit": {
            "model": "power_law",
            "images_needed": [
                {"target": 0.8, "status": "reachable", "n": 50},
                {"target": 0.95, "status": "not_reachable"},
            ],
        }
    }
    validation = _validation(learning_curve=curve)
    assert validation.images_needed(0.95).status == "not_reachable"
    assert not validation.images_needed(0.95).reachable
    assert validation.images_needed(0.8).n == 50
    assert validation.images_needed(0.9) is None  # never the first entry for another target
    assert validation.images_needed(None) is None


def test_the_target_is_the_clients_answer_else_the_runs_setting():
    result = load_result(EXAMPLE)
    data = result.to_json_dict()
    data["intake"]["target_value"] = 0.93
    data["intake"]["target_metric"] = "accuracy"
    assert parse_result(data).target() == 0.93
    data["intake"]["target_value"] = None
    data["config"]["target_accuracy"] = 0.8
    assert parse_result(data).target() == 0.8


def test_non_finite_numbers_are_written_as_null_never_as_nan():
    text = dump_json({"a": math.nan, "b": [math.inf, 1.0]})
    assert json.loads(text) == {"a": None, "b": [None, 1.0]}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"budget_seconds": math.nan}, "positive number of seconds"),
        ({"budget_seconds": math.inf}, "positive number of seconds"),
        ({"budget_seconds": -1}, "positive number of seconds"),
        ({"device": "tpu"}, "Unknown device"),
        ({"batch_size": 0}, "batch size"),
        ({"colour": "red"}, "Unknown setting 'colour'"),
    ],
)
def test_a_bad_run_setting_is_one_clear_line(settings, message):
    with pytest.raises(ConfigError, match=message) as caught:
        RunConfig.create(**settings)
    assert "\n" not in str(caught.value)


def test_the_run_config_round_trips_verbatim_through_the_result():
    config = RunConfig.create(budget_seconds=42, strategies=("linear_probe",), seed=3)
    data = load_result(EXAMPLE).to_json_dict()
    data["config"] = config.model_dump(mode="json")
    assert parse_result(data).config == config
    assert isinstance(parse_result(data), Result)
