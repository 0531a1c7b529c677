"""Figures of a result (read defensively), the 2×2, and the embedding map's engine side."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from app_helpers import example_result

from advisor.embedding import choose_points
from advisor.i18n import t
from app_pages import charts
from engines.embedding import embedding_map, project_2d
from engines.results import ImagesNeeded
from tests.conftest import make_class_folders


def tr(key: str, **kwargs) -> str:
    return t(key, "en", **kwargs)


def spec(figure) -> dict:
    return json.loads(figure.to_json())


def test_result_figures_draw_only_measured_numbers():
    result = example_result()
    validation = result["validation"]
    exp = validation["experiments"][0]
    acc = exp["metrics"]["accuracy"]
    bars = spec(charts.strategy_figure(validation["experiments"], tr, target=0.9))["data"][0]
    assert bars["y"] == [acc["value"]]
    assert bars["error_y"]["arrayminus"] == [pytest.approx(acc["value"] - acc["ci_low"])]
    curve = spec(charts.learning_curve_figure(validation["learning_curve"], tr, 0.9))
    measured = curve["data"][0]
    assert measured["x"] == [p["n"] for p in validation["learning_curve"]["points"]]
    assert [d["name"] for d in curve["data"]] == [
        "measured (mean ± sd)",
        "95% band",
        "fitted and extrapolated",
    ]
    assert any(s.get("y0") == 0.9 for s in curve["layout"]["shapes"])  # the target line
    matrix = spec(charts.confusion_figure(exp["metrics"], tr))["data"][0]
    assert matrix["z"] == exp["metrics"]["confusion_matrix"]
    ranking = spec(charts.ranking_figure(validation["backbone_ranking"], tr))["data"][0]
    assert set(ranking["y"]) == {r["backbone"] for r in validation["backbone_ranking"]}


@pytest.mark.parametrize("section", ["experiments", "learning_curve", "backbone_ranking"])
def test_missing_sections_give_no_figure(section):
    result = copy.deepcopy(example_result())
    result["validation"][section] = None
    validation = result["validation"]
    assert {
        "experiments": lambda: charts.strategy_figure(validation["experiments"], tr),
        "learning_curve": lambda: charts.learning_curve_figure(validation["learning_curve"], tr),
        "backbone_ranking": lambda: charts.ranking_figure(validation["backbone_ranking"], tr),
    }[section]() is None
    assert charts.confusion_figure(None, tr) is None
    assert charts.interval({"value": float("nan")}) == (None, None, None)


def test_images_needed_text_follows_the_fit_status():
    assert charts.images_needed_text(None, tr) == "not measured"
    assert (
        charts.images_needed_text(ImagesNeeded(target=0.9, status="reachable", n=1234), tr)
        == "1,234"
    )
    assert (
        charts.images_needed_text(ImagesNeeded(target=0.9, status="already_reached", n=3), tr)
        == "already reached"
    )
    assert charts.images_needed_text(
        ImagesNeeded(target=0.9, status="not_reachable"), tr
    ).startswith("not")


def test_quadrant_places_a_measured_point_and_marks_an_assumed_one():
    names = {q: q for q in ("small_similar", "large_similar", "small_different", "large_different")}
    q = {
        "n_images": 500,
        "large_at": 10_000,
        "data_size": "small",
        "similarity": "similar",
        "similarity_score": 0.69,
        "similarity_source": "measured",
        "similar_at": 0.5,
        "quadrant": "small_similar",
        "strategy_id": "linear_probe",
    }
    point = spec(charts.quadrant_figure(q, names, tr))["data"][0]
    assert point["y"] == [0.69] and point["x"] == [pytest.approx(np.log10(500))]
    assert point["marker"]["symbol"] == "circle"
    assumed = spec(
        charts.quadrant_figure(
            {**q, "similarity_score": None, "similarity": "different"}, names, tr
        )
    )
    assert assumed["data"][0]["marker"]["symbol"] == "circle-open"
    assert assumed["data"][0]["y"] == [0.25]
    assert "assumed" in assumed["data"][0]["text"][0]


def test_projection_keeps_one_point_per_image():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (6, 8)), rng.normal(5, 1, (6, 8))])
    coords, info = project_2d(x, "pca")
    assert coords.shape == (12, 2) and info["method"] == "pca"
    assert info["explained_variance"][0] > 0.5  # the two blobs lie along the first axis
    assert len(set(np.sign(coords[:6, 0]))) == 1 and np.sign(coords[0, 0]) != np.sign(coords[6, 0])
    coords, info = project_2d(x, "tsne", seed=1)
    assert coords.shape == (12, 2) and info["perplexity"] <= 30
    with pytest.raises(ValueError, match="Unknown projection"):
        project_2d(x, "umap")
    with pytest.raises(ValueError, match="at least 3"):
        project_2d(x[:2])


def test_embedding_map_of_images_with_a_tiny_model(tmp_path):
    folder = make_class_folders(tmp_path / "s", {"cat": 4, "coffee": 4}, size=32)
    paths = sorted(folder.rglob("*.jpg"))
    labels = [p.parent.name for p in paths]
    emb = embedding_map(
        paths,
        labels,
        method="pca",
        backbone="test_efficientnet",
        device="cpu",
        cache_dir=tmp_path / "cache",
    )
    assert len(emb["points"]) == 8
    groups = {p["duplicate_group"] for p in emb["points"]} - {None}
    assert len(groups) == emb["n_duplicate_groups"]  # a random model sees look-alikes
    assert {p["label"] for p in emb["points"]} == {"cat", "coffee"}
    assert emb["points"][0]["name"] == paths[0].name
    assert emb["label_check"]["ran"] in (True, False)
    with pytest.raises(ValueError, match="one each"):
        embedding_map(paths, labels[:-1])


def test_choose_points_keeps_every_class():
    labels = ["a"] * 900 + ["b"] * 100 + [None] * 10
    keep = choose_points(labels, max_points=100, seed=0)
    assert len(keep) <= 100 and keep == sorted(keep)
    kept = [labels[i] for i in keep]
    assert kept.count("a") == 89 and kept.count("b") == 10 and kept.count(None) == 1
    assert choose_points(["a", "b"], max_points=10) == [0, 1]
    with pytest.raises(ValueError):
        choose_points(labels, max_points=0)
