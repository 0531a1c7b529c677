import json

import numpy as np
import pytest

from engines.learning_curve import fit_learning_curve, fit_power_law, learning_curve_points

SIZES = np.repeat([25, 50, 100, 200, 400, 800], 3).astype(float)


def synthetic(a, b, c, noise, seed):
    rng = np.random.default_rng(seed)
    return a - b * SIZES**-c + rng.normal(0, noise, SIZES.size)


@pytest.mark.parametrize(("a", "b", "c"), [(0.9, 1.5, 0.5), (0.75, 0.8, 0.35), (0.97, 3.0, 0.8)])
def test_recovers_known_parameters_without_noise(a, b, c):
    fit = fit_power_law(SIZES, a - b * SIZES**-c, n_boot=50)
    assert fit.a == pytest.approx(a, abs=2e-3)
    assert fit.b == pytest.approx(b, rel=0.02)
    assert fit.c == pytest.approx(c, rel=0.02)


def test_recovers_known_parameters_with_noise_and_covers_them():
    a, b, c = 0.9, 1.5, 0.5
    covered = {"a": 0, "pred": 0}
    trials = 20
    for s in range(trials):
        fit = fit_power_law(SIZES, synthetic(a, b, c, 0.01, s), n_boot=200, seed=s)
        d = fit.to_dict()
        assert abs(d["a"]["value"] - a) < 0.06
        covered["a"] += d["a"]["ci_low"] <= a <= d["a"]["ci_high"]
        p10 = d["predictions"][1]
        covered["pred"] += p10["ci_low"] <= a - b * p10["n"] ** -c <= p10["ci_high"]
    assert covered["a"] / trials >= 0.75
    assert covered["pred"] / trials >= 0.75


def test_predictions_and_images_needed():
    a, b, c = 0.9, 1.5, 0.5
    fit = fit_power_law(SIZES, synthetic(a, b, c, 0.005, 1), n_boot=300, seed=1)
    d = fit.to_dict(targets=[0.8, 0.88, 0.999])
    json.dumps(d)
    assert [p["n"] for p in d["predictions"]] == [1600, 8000]
    assert d["predictions"][0]["value"] < d["predictions"][1]["value"] <= 1.0
    done, reach, never = d["images_needed"]
    assert done["status"] == "already_reached"
    true_n = (b / (a - 0.88)) ** (1 / c)  # 5625
    assert reach["status"] == "reachable"
    assert reach["ci_low"] <= true_n and (reach["ci_high"] is None or true_n <= reach["ci_high"])
    assert 0.5 * true_n < reach["n"] < 2 * true_n
    assert never["status"] == "not_reachable" and never["n"] is None


def test_flat_curve_is_flagged_and_not_reachable():
    rng = np.random.default_rng(0)
    acc = 0.5 + rng.normal(0, 0.01, SIZES.size)
    fit = fit_power_law(SIZES, acc, n_boot=100)
    assert fit.predict(8000)["value"] < 0.56
    assert fit.images_needed(0.8)["status"] == "not_reachable"


def test_reproducible():
    acc = synthetic(0.9, 1.5, 0.5, 0.01, 3)
    d1 = fit_power_law(SIZES, acc, n_boot=100, seed=2, n_val=100).to_dict(targets=[0.85])
    d2 = fit_power_law(SIZES, acc, n_boot=100, seed=2, n_val=100).to_dict(targets=[0.85])
    assert d1 == d2


def test_bad_inputs():
    with pytest.raises(ValueError, match="three distinct"):
        fit_power_law([10, 10, 20, 20], [0.5, 0.5, 0.6, 0.6])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit_power_law([10, 20, 40], [0.5, 0.6, 1.2])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([0, 20, 40], [0.5, 0.6, 0.7])
    fit = fit_power_law([10, 20, 40], [0.5, 0.6, 0.65], n_boot=20)
    with pytest.raises(ValueError):
        fit.images_needed(1.5)


def test_points_on_planted_signal_grow_and_fit(planted):
    x, y = planted
    curve = learning_curve_points(x[:160], y[:160], x[160:], y[160:], repeats=2, seed=0)
    assert [p["fraction"] for p in curve["points"]] == [0.125] * 2 + [0.25] * 2 + [0.5] * 2 + [1]
    ns = [p["n"] for p in curve["points"]]
    assert ns[-1] == 160 and ns[0] >= 8
    first = np.mean([p["accuracy"] for p in curve["points"][:2]])
    assert curve["points"][-1]["accuracy"] > first
    assert curve["points"][-1]["accuracy"] > 0.7
    report = fit_learning_curve(curve, targets=[0.95], n_boot=100)
    json.dumps(report)
    assert report["fit"]["n_max"] == 160
    again = learning_curve_points(x[:160], y[:160], x[160:], y[160:], repeats=2, seed=0)
    assert again == curve


def test_points_on_noise_stay_near_chance(noise):
    x, y = noise
    curve = learning_curve_points(x[:160], y[:160], x[160:], y[160:], repeats=2, seed=0)
    assert max(p["accuracy"] for p in curve["points"]) < 0.45
    report = fit_learning_curve(curve, targets=[0.9], n_boot=100)
    assert report["fit"]["images_needed"][0]["status"] in ("not_reachable", "uncertain")


def test_fewer_than_three_sizes_gives_no_fit(planted):
    x, y = planted
    curve = learning_curve_points(x[:80], y[:80], x[80:], y[80:], fractions=(0.5, 1.0))
    report = fit_learning_curve(curve)
    assert report["fit"] is None and "three" in report["reason"]
