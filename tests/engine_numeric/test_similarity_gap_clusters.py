import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from engines.clustering import cluster_report
from engines.domain_gap import proxy_a_distance


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


def test_calibration_suite_loader_stratifies(tmp_path):
    import zipfile

    path = Path(__file__).resolve().parents[2] / "bench" / "calibrate_similarity.py"
    spec = importlib.util.spec_from_file_location("calibrate_similarity", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    root = tmp_path / "datasets"
    (root / "calibration").mkdir(parents=True)
    with zipfile.ZipFile(root / "calibration" / "face_mask.zip", "w") as zf:
        for cls, n in (("a", 9), ("b", 2)):
            for i in range(n):
                zf.writestr(f"face_mask/{cls}/{i}.png", b"x")
        zf.writestr("face_mask/README.txt", b"not an image")
    sets = mod.load_suite(tmp_path / "x", per_set=6, root=root, names=["face_mask"])
    assert sets[0]["label"] == "similar" and len(sets[0]["paths"]) == 6
    assert sets[0]["classes"].count("b") == 2 and all(p.is_file() for p in sets[0]["paths"])
    again = mod.load_suite(tmp_path / "y", per_set=6, root=root, names=["face_mask"])
    assert [p.name for p in again[0]["paths"]] == [p.name for p in sets[0]["paths"]]


def test_site_gap_reads_same_shifted_and_different():
    from engines.domain_gap import SITE_MIN_IMAGES, site_gap

    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 32))
    same = site_gap(train, rng.normal(size=(60, 32)), seed=0)
    assert same["interpretation"] == "same" and same["n_site"] == 60
    shifted = site_gap(train, rng.normal(size=(60, 32)) + 0.25, seed=0)
    assert shifted["interpretation"] == "shifted", shifted["gap"]
    far = site_gap(train, rng.normal(size=(60, 32)) + 2.0, seed=0)
    assert far["interpretation"] == "different" and far["gap"] > 1.5
    assert same["gap"] < shifted["gap"] < far["gap"]
    assert far["ci_low"] <= far["gap"] <= far["ci_high"]
    json.dumps(far)
    few = site_gap(train, rng.normal(size=(5, 32)) + 2.0, seed=0)
    assert few["n_site"] == 5 and f"at least {SITE_MIN_IMAGES}" in few["note"]
    with pytest.raises(ValueError, match="two images"):
        site_gap(train, train[:1])


def test_site_gap_from_paths_refuses_too_few_images(tmp_path):
    from engines.domain_gap import site_gap_from_paths

    with pytest.raises(ValueError, match="two site images"):
        site_gap_from_paths([tmp_path / "a.jpg"] * 3, [tmp_path / "b.jpg"])
    with pytest.raises(ValueError, match="max_images"):
        site_gap_from_paths([], [], max_images=1)
