import json

import numpy as np
import pytest
from scipy import stats

from engines.metrics import (
    classification_metrics,
    clopper_pearson_interval,
    delong_auc,
    repeated_split_interval,
    wilson_interval,
)


def test_point_values_match_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150)
    p = np.where(rng.random(150) < 0.7, y, rng.integers(0, 3, 150))
    m = classification_metrics(y, p, class_names=["a", "b", "c"], n_boot=200)
    assert m["accuracy"]["value"] == pytest.approx(accuracy_score(y, p))
    assert m["balanced_accuracy"]["value"] == pytest.approx(balanced_accuracy_score(y, p))
    assert m["macro_f1"]["value"] == pytest.approx(f1_score(y, p, average="macro"))
    assert m["confusion_matrix"][0][0] == int(np.sum((y == 0) & (p == 0)))
    assert [c["name"] for c in m["per_class"]] == ["a", "b", "c"]
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        iv = m[key]
        assert iv["ci_low"] <= iv["value"] <= iv["ci_high"]
        assert iv["method"]


def test_json_ready_and_reproducible():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    score = y + rng.normal(size=80)
    a = classification_metrics(y, (score > 0.5).astype(int), proba=score, n_boot=200, seed=3)
    b = classification_metrics(y, (score > 0.5).astype(int), proba=score, n_boot=200, seed=3)
    assert json.dumps(a) == json.dumps(b)
    assert a["roc_auc"]["method"] == "delong"
    assert a["sensitivity"]["method"] == "clopper-pearson"


def test_binary_sensitivity_specificity_and_auc():
    from sklearn.metrics import roc_auc_score

    y = np.array([0] * 40 + [1] * 20)
    pred = np.array([0] * 35 + [1] * 5 + [1] * 15 + [0] * 5)
    proba = np.column_stack([1 - pred * 0.8, pred * 0.8])
    m = classification_metrics(y, pred, proba=proba, class_names=["ok", "defect"], n_boot=100)
    assert m["positive_class"] == "defect"
    assert m["sensitivity"]["value"] == pytest.approx(15 / 20)
    assert m["specificity"]["value"] == pytest.approx(35 / 40)
    assert m["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, proba[:, 1]))


def test_delong_matches_known_variance():
    # Perfectly separated scores: AUC 1, variance 0.
    auc, var = delong_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert auc == 1.0 and var == 0.0
    # Ties count one half.
    auc, _ = delong_auc(np.array([0, 1]), np.array([0.5, 0.5]))
    assert auc == 0.5


def test_class_absent_from_predictions():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 1, 1, 1, 1])
    m = classification_metrics(y, p, class_names=["a", "b", "c"], n_boot=50)
    c = m["per_class"][2]
    assert c["n_predicted"] == 0 and c["precision"] == 0.0 and c["recall"] == 0.0
    assert m["confusion_matrix"][2] == [0, 2, 0]


def test_string_labels_and_predicted_only_class():
    y_true = ["cat", "dog", "cat", "dog"]
    m = classification_metrics(y_true, ["cat", "dog", "eel", "dog"], n_boot=20)
    assert m["classes"] == ["cat", "dog", "eel"]
    assert m["per_class"][2]["support"] == 0


def test_single_class_raises():
    with pytest.raises(ValueError, match="single class"):
        classification_metrics([1, 1, 1], [1, 0, 1])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="items"):
        classification_metrics([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="proba"):
        classification_metrics([0, 1, 0], [0, 1, 1], proba=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="class_names"):
        classification_metrics(["x", "y"], ["x", "z"], class_names=["x", "y"])


def test_tiny_set_is_flagged_too_wide_with_a_code():
    m = classification_metrics([0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1], n_boot=50)
    assert m["accuracy"]["value"] == 1.0
    assert m["accuracy"]["ci_low"] < 0.7  # Wilson does not collapse at 100 %
    assert m["interval_too_wide"] is True
    assert "too wide" in m["warning"] and "warning_ko" not in m
    assert m["warning_code"]["code"] == "interval_too_wide"
    assert m["warning_code"]["params"]["n_needed"] == m["images_for_max_half_width"]
    big = np.arange(2000) % 2
    m = classification_metrics(big, big, n_boot=50)
    assert m["interval_too_wide"] is False and m["warning"] is None


def test_wilson_and_clopper_pearson_known_values():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    lo, hi = clopper_pearson_interval(8, 10)
    assert lo == pytest.approx(0.4439, abs=1e-3) and hi == pytest.approx(0.9748, abs=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_wilson_coverage_sanity():
    rng = np.random.default_rng(0)
    for p in (0.1, 0.5, 0.9):
        k = rng.binomial(60, p, size=2000)
        covered = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(int(v), 60) for v in k)])
        assert covered > 0.92


def test_bootstrap_interval_coverage_sanity():
    # Balanced accuracy of a classifier with known per-class recall 0.8.
    rng = np.random.default_rng(5)
    hits = 0
    trials = 60
    for t in range(trials):
        y = np.repeat([0, 1], 50)
        correct = rng.random(100) < 0.8
        pred = np.where(correct, y, 1 - y)
        m = classification_metrics(y, pred, n_boot=300, seed=t)
        hits += m["balanced_accuracy"]["ci_low"] <= 0.8 <= m["balanced_accuracy"]["ci_high"]
    assert hits / trials > 0.85


def test_unlearnable_predictions_interval_contains_chance():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 90)
    pred = rng.integers(0, 3, 90)
    m = classification_metrics(y, pred, n_boot=300)
    assert m["balanced_accuracy"]["ci_low"] <= 1 / 3 <= m["balanced_accuracy"]["ci_high"]
    assert m["better_than_chance"] is False


def test_repeated_split_interval_is_wider_than_naive():
    vals = [0.8, 0.82, 0.78, 0.85, 0.79]
    out = repeated_split_interval(vals, n_train=80, n_val=20)
    naive = stats.t.ppf(0.975, 4) * np.std(vals, ddof=1) / np.sqrt(5)
    assert (out["ci_high"] - out["ci_low"]) / 2 > naive
    assert repeated_split_interval([0.7], 10, 5)["ci_low"] is None
