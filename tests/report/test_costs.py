"""Labeling effort and cost, and GPU hours, from the learning curve and the report inputs."""

from __future__ import annotations

import math

import pytest

from advisor.report import ReportOptions, build_report_model
from advisor.report.access import ResultReader
from advisor.report.context import BuildContext
from advisor.report.costs import TRAINING_FLOPS_PER_FORWARD, rates, scenarios
from tests.report.report_helpers import make_result


def context(result, **options):
    return BuildContext(ResultReader(result), "en", ReportOptions(**options))


def test_default_labeling_rate_scales_with_the_classes(result):
    r = rates(context(result))
    assert r.seconds_per_label.value == pytest.approx(1.0 * result["profile"]["n_classes"])
    assert r.seconds_per_label.inputs == ("/profile/n_classes",)
    # 15 per hour by default
    assert r.unit_cost.value == pytest.approx(r.seconds_per_label.value * 15.0 / 3600)
    assert "options/annotator_hourly_rate" in r.unit_cost.inputs


def test_scenarios_price_the_predictions_and_the_target():
    result = make_result(target=0.8)
    fit = result["validation"]["learning_curve"]["fit"]
    fit["images_needed"] = [
        {
            "target": 0.8,
            "status": "reachable",
            "n": 400,
            "ci_low": 250,
            "ci_high": None,
            "p_reachable": 0.9,
            "a_ci_high": 0.97,
        }
    ]
    ctx = context(result, label_unit_cost=0.5, currency="EUR")
    rows = {s.key: s for s in scenarios(ctx, rates(ctx))}
    assert set(rows) == {"2x", "10x", "target"}
    n_max = fit["n_max"]
    ten = rows["10x"]
    assert ten.n_train.value.value == fit["predictions"][1]["n"]
    assert ten.additional.value.value == fit["predictions"][1]["n"] - n_max
    assert ten.label_cost.value.value == pytest.approx(0.5 * ten.additional.value.value)
    assert ten.label_cost.value.unit == "EUR"
    assert ten.predicted.value.value == fit["predictions"][1]["value"]
    target = rows["target"]
    assert (target.additional.value.value, target.additional.low.value) == (
        400 - n_max,
        250 - n_max,
    )
    assert target.additional.high is None and target.label_cost.high is None


def test_gpu_hours_from_flops_when_no_gpu_training_was_measured(result):
    ctx = context(result, training_epochs=20, gpu_effective_flops=1e13, gpu_hourly_rate=4.0)
    r = rates(ctx)
    assert r.gpu_basis == "flops"
    flops = result["validation"]["deployment"]["flops_per_image"]
    per = TRAINING_FLOPS_PER_FORWARD * flops / 1e13
    assert r.gpu_seconds_per_image_epoch.value == pytest.approx(per)
    ten = {s.key: s for s in scenarios(ctx, r)}["10x"]
    hours = ten.n_train.value.value * 20 * per / 3600
    assert ten.gpu_hours.value == pytest.approx(hours)
    assert ten.gpu_cost.value == pytest.approx(4.0 * hours)


def test_gpu_hours_measured_when_the_full_fine_tune_ran_on_a_gpu():
    result = make_result(accuracies={"linear_probe": 0.8, "full_finetune": 0.9}, device="cuda")
    r = rates(context(result))
    assert r.gpu_basis == "measured"
    exp = result["validation"]["experiments"][1]
    expected = sum(h["seconds"] for h in exp["history"]) / len(exp["history"]) / exp["n_train"]
    assert r.gpu_seconds_per_image_epoch.value == pytest.approx(expected)


def test_unknown_task_has_no_labeling_rate_unless_given(result):
    result = dict(result, recommendation=dict(result["recommendation"], task="pose"))
    assert rates(context(result)).seconds_per_label is None
    given = rates(context(result, seconds_per_label=30.0))
    assert given.seconds_per_label.source == "options/seconds_per_label"


def test_cost_table_in_the_report_carries_intervals(result):
    model = build_report_model(result, "en", ReportOptions(label_unit_cost=1.0))
    tables = [b for b in model.section("more_data").blocks if b.kind == "table"]
    costs = tables[-1]
    assert len(costs.rows) >= 2
    for row in costs.rows:
        additional, cost = row[3], row[5]
        assert math.isclose(cost.value.value, additional.value.value * 1.0)
