import numpy as np
import pytest

from engines.linear_probe import (
    choose_C,
    fit_linear_probe,
    kfold_predict,
    knn_accuracy,
    repeated_holdout,
)
from engines.metrics import classification_metrics


def test_matches_sklearn_logistic_regression(planted):
    from sklearn.linear_model import LogisticRegression

    x, y = planted
    probe = fit_linear_probe(x, y, C=0.1, tol=1e-8, max_iter=2000)
    xs = (x - x.mean(0)) / x.std(0)
    ref = LogisticRegression(C=0.1, tol=1e-10, max_iter=5000).fit(xs, y)
    assert np.abs(probe.predict_proba(x) - ref.predict_proba(xs)).max() < 1e-3


def test_row_space_fit_is_exact_when_d_exceeds_n():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 300))
    y = np.arange(40) % 3
    x[:, :3] += 2 * np.eye(3)[y]
    probe = fit_linear_probe(x, y, C=0.5, tol=1e-9, max_iter=3000)
    xs = (x - x.mean(0)) / x.std(0)
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit(xs, y)
    assert np.abs(probe.predict_proba(x) - ref.predict_proba(xs)).max() < 1e-3


def test_planted_signal_is_learned(planted):
    x, y = planted
    out = repeated_holdout(x, y, n_repeats=3, seed=0)
    assert out["accuracy"]["value"] > 0.8
    assert out["accuracy"]["ci_low"] > 0.25  # chance is 1/4


def test_random_labels_do_not_look_learnable(noise):
    x, y = noise
    oof = kfold_predict(x, y, n_splits=5, seed=0)
    m = classification_metrics(y, oof.pred, oof.proba, n_boot=300)
    assert m["accuracy"]["ci_low"] <= 0.25 + 0.02
    assert m["better_than_chance"] is False


def test_same_seed_same_numbers(planted):
    x, y = planted
    a = repeated_holdout(x, y, n_repeats=2, seed=4)
    b = repeated_holdout(x, y, n_repeats=2, seed=4)
    assert a == b
    assert np.array_equal(
        fit_linear_probe(x, y).predict_proba(x), fit_linear_probe(x, y).predict_proba(x)
    )


def test_classes_argument_keeps_columns_for_missing_class(planted):
    x, y = planted
    keep = y != 2
    probe = fit_linear_probe(x[keep], y[keep], classes=[0, 1, 2, 3])
    p = probe.predict_proba(x)
    assert p.shape == (x.shape[0], 4)
    assert np.all(p[:, 2] == 0) and np.allclose(p.sum(1), 1)
    assert set(np.unique(probe.predict(x))) <= {0, 1, 3}


def test_string_labels(planted):
    x, y = planted
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    probe = fit_linear_probe(x, names)
    assert list(probe.classes_) == ["ant", "bee", "cat", "dog"]
    assert probe.predict(x[:3]).dtype.kind == "U"


def test_knn_accuracy(planted, noise):
    x, y = planted
    assert knn_accuracy(x[:160], y[:160], x[160:], y[160:], k=5) > 0.7
    xn, yn = noise
    assert knn_accuracy(xn[:160], yn[:160], xn[160:], yn[160:], k=5) < 0.5


def test_choose_c_returns_a_candidate(planted):
    x, y = planted
    out = choose_C(x[:120], y[:120], Cs=(0.01, 1.0), n_splits=3)
    assert out["C"] in (0.01, 1.0) and set(out["scores"]) == {"0.01", "1.0"}


def test_errors_are_clear():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="single class"):
        fit_linear_probe(x, np.zeros(4))
    with pytest.raises(ValueError, match="1-D"):
        fit_linear_probe(x, np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_probe(np.full((4, 3), np.nan), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="single sample"):
        repeated_holdout(np.zeros((3, 2)), np.array([0, 0, 1]))
