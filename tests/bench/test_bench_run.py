"""The benchmark harness end to end on a tiny generated sample (no timing thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.dataset import generate_dataset
from bench.levers import verdict
from bench.run import figure, main
from bench.timing import compare

FIGURES = {
    "upload_profile_seconds",
    "upload_profile_peak_rss_mb",
    "upload_profile_work_mb",
    "decode_images_per_second",
    "forward_images_per_second",
    "forward_flop_fraction",
    "feature_images_per_second",
    "feature_flop_fraction",
    "first_linear_probe_seconds",
    "linear_probe_accuracy",
    "validation_seconds",
}


@pytest.mark.slow
def test_harness_writes_every_figure_with_sane_values(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = main(
        [
            "--generate",
            "24",
            "--classes",
            "2",
            "--sides",
            "64",
            "112",
            "--device",
            "cpu",
            "--budget",
            "3",
            "--rounds",
            "1",
            "--rate-images",
            "8",
            "--batch",
            "4",
            "--matmul-sizes",
            "1024",
            "--levers-only",
            "draft_decode",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text())

    assert set(doc["figures"]) >= FIGURES
    for name, fig in doc["figures"].items():
        assert fig["engine"] is not None and fig["engine"] > 0, name
        assert fig["reference"] is not None and fig["reference"] > 0, name
        assert fig["ratio"] is not None and fig["ratio"] > 0, name
        assert fig["better"] in {"lower", "higher"}, name
    for name in ("forward_flop_fraction", "feature_flop_fraction"):
        for side in ("engine", "reference"):
            assert 0 < doc["figures"][name][side] <= 1, (name, side)
    probe = doc["figures"]["first_linear_probe_seconds"]
    for side in ("engine_interval", "reference_interval"):
        low, high = probe[side]
        assert 0 <= low <= high <= 1
    details = doc["details"]
    assert details["pipeline"]["first_linear_probe_seconds"] <= details["pipeline"]["seconds"]
    assert details["upload"]["engine"]["n_images"] == 24

    assert doc["dataset"] == {**doc["dataset"], "generated": True, "n_images": 24, "n_classes": 2}
    assert doc["model"]["flops_per_image"] > 1e8  # efficientnet_lite0: about 0.8 GFLOP
    assert doc["ceiling"]["float32"]["flops_per_second"] > 0
    assert doc["machine"]["cpu_count"] >= 1
    assert doc["machine"]["device"]["type"] == "cpu"
    assert doc["versions"]["torch"] and doc["versions"]["timm"]
    assert doc["settings"]["budget_seconds"] == 3
    assert len(doc["load_average"]["start"]) == 3

    (lever,) = doc["levers"]
    assert lever["lever"] == "draft_decode"
    assert set(lever["variants"]) == {"full_decode", "draft_decode"}
    assert lever["verdict"] in {"pays", "costs", "no clear gain", "changes the features"}
    assert 0.9 < lever["quality"]["draft_decode"]["cosine"]["mean"] <= 1.0 + 1e-6


def test_ratio_says_how_many_times_better_the_engine_is() -> None:
    assert figure(2.0, 6.0, "s", "lower")["ratio"] == 3.0
    assert figure(30.0, 10.0, "images/s", "higher")["ratio"] == 3.0
    assert figure(None, 10.0, "s", "lower")["ratio"] is None


def test_verdict_needs_a_margin_and_a_majority_of_rounds() -> None:
    assert verdict(1.5, 5, 5) == "pays"
    assert verdict(1.5, 2, 5) == "no clear gain"  # faster on median, but not consistently
    assert verdict(1.02, 5, 5) == "no clear gain"
    assert verdict(0.5, 0, 5) == "costs"
    assert verdict(2.0, 5, 5, cosine=0.9) == "changes the features"


def test_compare_times_every_variant_in_every_round() -> None:
    calls: list[str] = []
    result = compare(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=1
    )
    assert calls.count("a") == calls.count("b") == 4
    assert result["a"]["repeats"] == 3 and result["a"]["speedup_vs_first"] == 1.0
    with pytest.raises(ValueError, match="at least one variant"):
        compare({})


def test_generated_photos_have_the_asked_sizes(tmp_path: Path) -> None:
    from PIL import Image

    zpath = generate_dataset(tmp_path, 6, n_classes=3, min_side=80, max_side=120)
    assert zpath.is_file()
    images = sorted((tmp_path / "sample").rglob("*.jpg"))
    assert len(images) == 6
    assert {p.parent.name for p in images} == {"cat", "coffee", "astronaut"}
    for p in images:
        assert 80 <= max(Image.open(p).size) <= 120
    with pytest.raises(ValueError, match="at least 4"):
        generate_dataset(tmp_path / "x", 3, n_classes=2)
