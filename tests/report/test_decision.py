"""Go / go with conditions / no-go on crafted results."""

from __future__ import annotations

import pytest

from advisor.report import build_report_model
from advisor.report.decision import confidence_of, half_width
from advisor.report.numbers import Estimate, Num
from tests.report.report_helpers import make_result


def verdict(result, language="en"):
    return build_report_model(result, language).decision


def test_whole_interval_above_target_without_red_flags_is_go():
    result = make_result(
        accuracies={"linear_probe": 0.976}, target=0.8, red_flags=False, similarity="similar"
    )
    result["recommendation"]["red_flags"] = []
    d = verdict(result)
    assert d.verdict == "go"
    assert d.headline.low.value >= 0.8
    assert "0.8" not in str(d.conditions)  # nothing left to do about the target


def test_a_red_flag_turns_go_into_go_with_conditions():
    result = make_result(accuracies={"linear_probe": 0.976}, target=0.8, red_flags=True)
    assert result["recommendation"]["red_flags"], "the crafted sample must raise a red flag"
    d = verdict(result)
    assert d.verdict == "go_with_conditions"
    flag = result["recommendation"]["red_flags"][0]["en"]
    assert flag in d.conditions


def test_target_inside_the_interval_needs_more_held_out_images():
    result = make_result(accuracies={"linear_probe": 0.83}, target=0.8)
    d = verdict(result)
    assert d.verdict == "go_with_conditions"
    grow = [c for c in d.conditions if "held-out set" in getattr(c, "template", "")]
    n_val = result["validation"]["experiments"][0]["n_val"]
    p = result["validation"]["experiments"][0]["metrics"]["accuracy"]["value"]
    needed = grow[0].params["n"]
    # The interval's half-width must shrink to the gap between estimate and target.
    assert needed.value > n_val
    assert needed.value == pytest.approx(1.96**2 * p * (1 - p) / (p - 0.8) ** 2, rel=0.01)
    assert set(needed.inputs) == {
        "/validation/experiments/0/metrics/accuracy/value",
        "/intake/target_value",
    }


def test_chance_level_is_no_go():
    d = verdict(make_result(accuracies={"linear_probe": 0.34}, target=0.8))
    assert d.verdict == "no_go"
    assert "guessing" in d.reasons[1].template


def test_target_above_interval_and_reachable_with_more_data():
    result = make_result(accuracies={"linear_probe": 0.62}, target=0.95)
    fit = result["validation"]["learning_curve"]["fit"]
    fit["images_needed"] = [
        {
            "target": 0.95,
            "status": "reachable",
            "n": 900,
            "ci_low": 420,
            "ci_high": 2600,
            "p_reachable": 0.9,
            "a_ci_high": 0.99,
        }
    ]
    d = verdict(result)
    assert d.verdict == "go_with_conditions"
    more = [c for c in d.conditions if getattr(c, "template", "").startswith("Collect")]
    assert more and more[0].params["n"].value == 900 - fit["n_max"]


def test_target_above_interval_and_unreachable_is_no_go():
    result = make_result(accuracies={"linear_probe": 0.62}, target=0.95)
    result["validation"]["learning_curve"]["fit"]["images_needed"] = [
        {
            "target": 0.95,
            "status": "not_reachable",
            "n": None,
            "ci_low": None,
            "ci_high": None,
            "p_reachable": 0.0,
            "a_ci_high": 0.9,
        }
    ]
    d = verdict(result)
    assert d.verdict == "no_go"
    assert any("unlimited data" in getattr(r, "template", "") for r in d.reasons)


def test_target_above_interval_without_a_curve_is_no_go():
    result = make_result(accuracies={"linear_probe": 0.62}, target=0.95)
    result["validation"]["learning_curve"] = None
    assert verdict(result).verdict == "no_go"


def test_no_target_asks_for_one():
    d = verdict(make_result(target=None))
    assert d.verdict == "go_with_conditions"
    assert any("Agree" in getattr(c, "template", "") for c in d.conditions)


def test_nothing_measured_decides_nothing():
    result = make_result()
    result["validation"]["experiments"] = []
    d = verdict(result)
    assert d.verdict == "not_measured"
    assert d.confidence is None and d.headline is None


def test_at_most_three_reasons_and_localized_labels():
    d_en = verdict(make_result())
    d_ko = verdict(make_result(language="ko"), "ko")
    assert 1 <= len(d_en.reasons) <= 3
    assert d_en.verdict == d_ko.verdict
    assert d_en.label != d_ko.label and "조건부" in d_ko.label


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(0.90, 0.98, "high"), (0.80, 0.98, "medium"), (0.6, 0.95, "low")]
)
def test_confidence_follows_the_interval_width(low, high, expected):
    est = Estimate(
        Num(0.94, "percent", "/v"), Num(low, "percent", "/l"), Num(high, "percent", "/h")
    )
    assert confidence_of(est) == expected
    assert half_width(est).inputs == ("/h", "/l")
