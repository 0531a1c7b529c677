import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from engines.clustering import cluster_report
from engines.domain_gap import proxy_a_distance
from engines.similarity import (
    THRESHOLDS,
    domain_similarity,
    effective_rank,
    feature_statistics,
    head_statistics,
)


def fake_sample(confident: bool, seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, size=(n, 1000))
    if confident:
        logits[np.arange(n), rng.integers(0, 1000, n)] += 12.0
    feats = np.maximum(rng.normal(size=(n, 256)) + (0.8 if confident else -0.6), 0)
    return logits, feats


def test_head_statistics_known_values():
    logits = np.zeros((3, 4))
    out = head_statistics(logits)
    assert out["msp_median"] == pytest.approx(0.25)
    assert out["energy_mean"] == pytest.approx(-np.log(4))


def test_effective_rank_known_values():
    assert effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert effective_rank(np.outer(np.arange(1, 6), np.ones(4))) == pytest.approx(1.0)


def test_confident_dense_sample_is_similar_and_flat_sparse_one_is_not():
    sim = domain_similarity(*fake_sample(True, 0))
    diff = domain_similarity(*fake_sample(False, 1))
    assert sim["call"] == "similar" and diff["call"] == "different"
    assert sim["score"] > diff["score"]
    json.dumps(sim)
    names = {e["name"] for e in sim["evidence"]}
    assert names == {"energy_mean", "msp_median", "near_zero_fraction", "erank_ratio"}
    for e in sim["evidence"]:
        assert e["points_to"] in ("similar", "different") and e["threshold"] is not None
    assert sim["calibrated"] is True and "efficientnet_lite0" in sim["thresholds_note"]


def test_probe_gap_evidence_and_uncalibrated_backbone():
    logits, feats = fake_sample(True, 0)
    out = domain_similarity(logits, feats, lp_accuracy=0.9, knn_accuracy=0.55, backbone="resnet50")
    gap = next(e for e in out["evidence"] if e["name"] == "lp_knn_gap")
    assert gap["value"] == pytest.approx(0.35) and gap["points_to"] == "different"
    assert out["calibrated"] is False
    only_gap = domain_similarity(None, None, lp_accuracy=0.8, knn_accuracy=0.79)
    assert only_gap["call"] == "similar"


def test_similarity_is_reproducible_and_validates():
    a = domain_similarity(*fake_sample(True, 3), seed=1)
    assert a == domain_similarity(*fake_sample(True, 3), seed=1)
    with pytest.raises(ValueError, match="No evidence"):
        domain_similarity(None, None)
    with pytest.raises(ValueError, match="both"):
        domain_similarity(None, None, lp_accuracy=0.5)
    logits, feats = fake_sample(True, 0)
    with pytest.raises(ValueError, match="same rows"):
        domain_similarity(logits, feats[:10])
    with pytest.raises(ValueError):
        feature_statistics(np.ones((2, 5)))


def test_threshold_table_is_complete():
    for table in THRESHOLDS.values():
        for spec in table.values():
            assert {"threshold", "scale", "weight", "higher_is_similar"} <= set(spec)
            assert spec["scale"] > 0 and spec["weight"] > 0


def test_proxy_a_distance_same_vs_shifted():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 32))
    b = rng.normal(size=(150, 32))
    same = proxy_a_distance(a, b, seed=0)
    far = proxy_a_distance(a, b + 1.5, seed=0)
    assert same["pad"] < 0.5 and same["ci_low"] < 0.3 and same["level"] == "small"
    assert far["pad"] > 1.8 and far["level"] == "large"
    assert far["ci_low"] <= far["pad"] <= far["ci_high"]
    assert proxy_a_distance(a, b + 1.5, seed=0) == far
    json.dumps(far)
    with pytest.raises(ValueError, match="feature sizes"):
        proxy_a_distance(a, rng.normal(size=(10, 8)))
    with pytest.raises(ValueError, match="two images"):
        proxy_a_distance(a, b[:1])


def test_clusters_found_when_planted_and_not_in_noise():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 40)) * 4
    x = np.vstack([rng.normal(size=(50, 40)) + c for c in centres])
    rep = cluster_report(x, max_k=6, seed=0)
    assert rep["k"] == 3 and rep["has_structure"] is True
    assert sorted(c["size"] for c in rep["clusters"]) == [50, 50, 50]
    assert rep["labeling"]["labels_total"] == 60
    assert rep == cluster_report(x, max_k=6, seed=0)
    json.dumps(rep)
    noise = cluster_report(rng.normal(size=(150, 40)), max_k=6, seed=0)
    assert noise["has_structure"] is False and noise["labeling"]["clusters"] == 1


def test_a_few_near_duplicates_are_not_called_classes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 30))
    x[:3] = 25 + rng.normal(scale=0.01, size=(3, 30))
    rep = cluster_report(x, max_k=5, seed=0)
    assert rep["has_structure"] is False
    with pytest.raises(ValueError, match="four"):
        cluster_report(x[:3])


def test_calibration_cut_helper_without_torch():
    path = Path(__file__).resolve().parents[2] / "bench" / "calibrate_similarity.py"
    spec = importlib.util.spec_from_file_location("calibrate_similarity", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cut = mod.best_cut(np.array([0.8, 0.9, 0.7]), np.array([0.1, 0.2, 0.75]), True)
    assert cut["youden_j"] == pytest.approx(2 / 3) and 0.2 < cut["threshold"] < 0.8
    img = mod._augment(np.zeros((64, 80, 3), np.uint8), np.random.default_rng(0))
    assert img.ndim == 3 and img.dtype == np.uint8
