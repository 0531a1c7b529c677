"""The similarity signals, the logistic combination and the confidence, on synthetic data."""

import json

import numpy as np
import pytest

from engines import similarity as S


def fake_sample(confident: bool, seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, size=(n, 1000))
    if confident:
        logits[np.arange(n), rng.integers(0, 1000, n)] += 12.0
    feats = np.maximum(rng.normal(size=(n, 256)) + (0.8 if confident else -0.6), 0)
    return logits, feats


def table(rows):
    return [{"name": n, "label": lab, "signals": sig} for n, lab, sig in rows]


def synthetic_table(seed: int = 0, per_side: int = 5):
    """Similar sets: colour, typical contrast; different sets: grey, or low contrast."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(per_side):
        rows.append(
            (
                f"sim{i}",
                "similar",
                {
                    "grey_share": 0.0,
                    "colour_contrast": 0.2 + rng.normal(0, 0.01),
                    "feature_uniformity": 0.4 + rng.normal(0, 0.05),
                },
            )
        )
    for i in range(per_side):
        grey = i % 2 == 0
        rows.append(
            (
                f"diff{i}",
                "different",
                {
                    "grey_share": 1.0 if grey else 0.0,
                    "colour_contrast": None if grey else 0.08 + rng.normal(0, 0.01),
                    "feature_uniformity": 0.65 + rng.normal(0, 0.05),
                },
            )
        )
    rows.append(
        (
            "mid",
            "borderline",
            {"grey_share": 0.0, "colour_contrast": 0.14, "feature_uniformity": 0.55},
        )
    )
    return table(rows)


INPUTS = ["grey_share", "colour_contrast", "feature_uniformity"]


def test_head_statistics_and_effective_rank_known_values():
    out = S.head_statistics(np.zeros((3, 4)))
    assert out["msp_median"] == pytest.approx(0.25)
    assert out["energy_mean"] == pytest.approx(-np.log(4))
    assert S.effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert S.effective_rank(np.outer(np.arange(1, 6), np.ones(4))) == pytest.approx(1.0)


def test_feature_uniformity_is_the_mean_pairwise_cosine():
    same = S.feature_statistics(np.tile([[1.0, 2.0, 0.5]], (6, 1)))
    assert same["feature_uniformity"] == pytest.approx(1.0)
    orth = S.feature_statistics(np.eye(4))
    assert orth["feature_uniformity"] == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 7))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    g = u @ u.T
    direct = (g.sum() - 9) / (9 * 8)
    assert S.feature_statistics(x)["feature_uniformity"] == pytest.approx(direct)
    with pytest.raises(ValueError):
        S.feature_statistics(np.ones((2, 5)))


def test_image_statistics_grey_and_colour():
    rng = np.random.default_rng(0)
    grey = [
        np.repeat(rng.integers(0, 256, (20, 20, 1)), 3, axis=2).astype(np.uint8) for _ in range(4)
    ]
    out = S.image_statistics(grey)
    assert out["grey_share"] == 1.0 and out["colour_contrast"] is None
    colour = [rng.integers(0, 256, (20, 20, 3)).astype(np.uint8) for _ in range(4)]
    mixed = S.image_statistics(grey[:1] + colour)
    assert mixed["grey_share"] == pytest.approx(0.2) and mixed["n_pixel_images"] == 5
    # luminance std of uniform noise averaged over 3 channels: 255/sqrt(12)/sqrt(3)/255
    assert mixed["colour_contrast"] == pytest.approx(1 / np.sqrt(36), rel=0.15)
    flat = [np.full((8, 8, 3), (200, 40, 40), np.uint8)]
    assert S.image_statistics(flat)["colour_contrast"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="No images"):
        S.image_statistics([])
    with pytest.raises(ValueError, match="RGB"):
        S.image_statistics([np.zeros((4, 4))])


def test_image_statistics_from_paths_reads_thumbnails(tmp_path):
    from PIL import Image

    for i, colour in enumerate([(10, 200, 30), (90, 90, 90)]):
        Image.new("RGB", (300, 200), colour).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    out = S.image_statistics_from_paths(sorted(tmp_path.iterdir()))
    assert out["n_pixel_images"] == 2 and out["grey_share"] == pytest.approx(0.5)
    assert S.thumbnail(tmp_path / "0.png").shape == (43, 64, 3)


def test_fit_learns_the_direction_and_centres_contrast():
    t = synthetic_table()
    model = S.fit_model(t, INPUTS, C=3.0)
    w = dict(zip(model["inputs"], model["weights"], strict=True))
    assert w["grey_share"] < 0 and w["feature_uniformity"] < 0
    # contrast enters as its distance from the similar sets' median: far = different
    assert w["colour_contrast"] < 0
    assert model["centre"]["colour_contrast"] == pytest.approx(0.2, abs=0.02)
    assert "mid" not in model["fitted_on"] and len(model["fitted_on"]) == 10
    photo = {"grey_share": 0.0, "colour_contrast": 0.2, "feature_uniformity": 0.4}
    too_much = dict(photo, colour_contrast=0.5)
    assert S.predict(model, photo)[0] > 0.8
    assert S.predict(model, too_much)[0] < S.predict(model, photo)[0]
    # a missing colour contrast (every image grey) is neutral, not an error
    grey = {"grey_share": 1.0, "colour_contrast": None, "feature_uniformity": 0.65}
    p, contrib = S.predict(model, grey)
    assert p < 0.2 and contrib[1] == pytest.approx(
        -w["colour_contrast"] * model["mean"][1] / model["scale"][1]
    )
    with pytest.raises(ValueError, match="at least one similar"):
        S.fit_model([r for r in t if r["label"] != "similar"], INPUTS)
    with pytest.raises(ValueError, match="lacks the input"):
        S.fit_model(t, ["energy_mean"])


def test_decide_borderline_neighbours_and_high():
    sim = [{"label": "similar"}] * 3
    mixed = [
        {"name": "a", "label": "similar"},
        {"name": "b", "label": "different"},
        {"name": "c", "label": "similar"},
    ]
    assert S.decide(0.55, sim)[:2] == ("borderline", "low")
    assert S.decide(0.5 + S.BORDERLINE_BAND + 0.01, sim)[:2] == ("similar", "medium")
    assert S.decide(0.95, sim)[:2] == ("similar", "high")
    assert S.decide(0.95, mixed)[:2] == ("similar", "low")
    call, conf, reason = S.decide(0.05, [{"name": "x", "label": "similar"}] * 3)
    assert (call, conf) == ("different", "low") and "similar" in reason


def test_nearest_sets_use_the_standardized_inputs():
    t = synthetic_table()
    model = S.fit_model(t, INPUTS)
    near = S.nearest_sets(
        model, t, {"grey_share": 1.0, "colour_contrast": None, "feature_uniformity": 0.65}, k=3
    )
    assert [n["label"] for n in near] == ["different"] * 3
    assert all(n["name"] != "mid" for n in S.nearest_sets(model, t, t[-1]["signals"], k=20))


def test_leave_one_set_out_on_a_separable_table():
    rows = S.leave_one_set_out(synthetic_table(), INPUTS, C=3.0)
    assert len(rows) == 11
    by = {r["name"]: r for r in rows}
    assert all(by[n]["right"] for n in by if n != "mid")
    assert by["mid"]["call"] == "borderline" or by["mid"]["confidence"] == "low"
    assert by["mid"]["right"]
    # A held-out set is never in its own model: swapping a label changes only its own row.
    flipped = synthetic_table()
    flipped[0]["label"] = "different"
    again = {r["name"]: r for r in S.leave_one_set_out(flipped, INPUTS, C=3.0)}
    assert again["sim0"]["p"] == by["sim0"]["p"] and not again["sim0"]["right"]


def test_univariate_cut_direction():
    cut = S.univariate_cut(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert cut == {"threshold": 2.5, "higher_is_similar": False, "youden_j": 1.0}


def write_model(tmp_path, backbone="efficientnet_lite0"):
    t = synthetic_table()
    pix = S.fit_model(t, INPUTS, C=3.0)
    feat = S.fit_model(
        table(
            [
                (
                    r["name"],
                    r["label"],
                    {"feature_uniformity": r["signals"]["feature_uniformity"], "energy_mean": -8.0},
                )
                for r in t
            ]
        ),
        ["feature_uniformity"],
        C=3.0,
    )
    spec = {
        "backbone": backbone,
        "models": [
            dict(pix, name="pixels", loso_right=11, loso_total=11),
            dict(feat, name="features", loso_right=5, loso_total=11),
        ],
        "thresholds": {
            k: {"threshold": 0.3, "higher_is_similar": False, "youden_j": 1.0}
            for k in [
                "grey_share",
                "feature_uniformity",
                "energy_mean",
                "msp_median",
                "erank_ratio",
                "near_zero_fraction",
            ]
        }
        | {"colour_contrast": {"threshold": 0.14, "higher_is_similar": True, "youden_j": 1.0}},
        "table": t,
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(spec))
    return path


def test_domain_similarity_result_shape(tmp_path):
    path = write_model(tmp_path)
    logits, feats = fake_sample(True, 0)
    colour = {"grey_share": 0.0, "colour_contrast": 0.2, "chroma_median": 0.1, "n_pixel_images": 40}
    out = S.domain_similarity(
        logits,
        feats,
        labels=np.arange(40) % 2,
        lp_accuracy=0.9,
        knn_accuracy=0.85,
        pixel_stats=colour,
        model_path=path,
    )
    json.dumps(out)
    assert out["model"]["name"] == "pixels" and out["model"]["inputs"] == INPUTS
    assert out["call"] in ("similar", "different", "borderline")
    assert 0 <= out["score"] <= 1 and out["confidence"] in ("low", "medium", "high")
    assert out["n_images"] == 40 and out["n_classes"] == 2 and out["n_pixel_images"] == 40
    assert out["calibrated"] is True and len(out["neighbours"]) == S.K_NEIGHBOURS
    names = {e["name"] for e in out["evidence"]}
    assert {
        "energy_mean",
        "msp_median",
        "erank_ratio",
        "near_zero_fraction",
        "grey_share",
        "colour_contrast",
        "feature_uniformity",
        "lp_knn_gap",
    } == names
    for e in out["evidence"]:
        assert {
            "value",
            "threshold",
            "higher_is_similar",
            "points_to",
            "weight",
            "contribution",
            "sub_score",
            "used_in_call",
            "description",
        } <= set(e)
        assert e["used_in_call"] == (e["name"] in INPUTS)
    gap = next(e for e in out["evidence"] if e["name"] == "lp_knn_gap")
    assert gap["value"] == pytest.approx(0.05) and gap["points_to"] == "similar"
    # The logit is the intercept plus the contributions that the evidence lists.
    logit = out["model"]["intercept"] + sum(
        e["contribution"] for e in out["evidence"] if e["used_in_call"]
    )
    assert out["score"] == pytest.approx(1 / (1 + np.exp(-logit)))


def test_grey_sample_is_different_and_pixelless_sample_falls_back(tmp_path):
    path = write_model(tmp_path, backbone="other")
    logits, _ = fake_sample(False, 1)
    feats = 1.0 + 0.3 * np.random.default_rng(1).normal(size=(40, 64))  # near-parallel
    grey = {"grey_share": 1.0, "colour_contrast": None, "n_pixel_images": 40}
    out = S.domain_similarity(logits, feats, pixel_stats=grey, model_path=path)
    assert out["call"] == "different"
    cc = next(e for e in out["evidence"] if e["name"] == "colour_contrast")
    assert cc["value"] is None and cc["points_to"] is None and cc["used_in_call"]
    assert out["calibrated"] is False and "indicative" in out["thresholds_note"]
    fallback = S.domain_similarity(logits, feats, model_path=path)
    assert fallback["model"]["name"] == "features"
    assert fallback["confidence"] == "low" and "5 of 11" in fallback["confidence_reason"]


def test_domain_similarity_validates(tmp_path):
    path = write_model(tmp_path)
    logits, feats = fake_sample(True, 0)
    with pytest.raises(ValueError, match="No evidence"):
        S.domain_similarity(None, None, model_path=path)
    with pytest.raises(ValueError, match="both"):
        S.domain_similarity(logits, feats, lp_accuracy=0.5, model_path=path)
    with pytest.raises(ValueError, match="same rows"):
        S.domain_similarity(logits, feats[:10], model_path=path)
    with pytest.raises(ValueError, match="No similarity model"):
        S.domain_similarity(None, None, lp_accuracy=0.8, knn_accuracy=0.7, model_path=path)
    a = S.domain_similarity(logits, feats, seed=1, model_path=path)
    assert a == S.domain_similarity(logits, feats, seed=1, model_path=path)


def test_shipped_model_file_is_consistent_with_its_table():
    """The shipped file: every model refits to its stored weights and LOSO counts."""
    spec = S.load_model_file()
    assert spec["backbone"] == S.DEFAULT_BACKBONE
    labels = {r["name"]: r["label"] for r in spec["table"]}
    assert sorted(labels.values()).count("borderline") == 1
    for model in spec["models"]:
        assert len(model["inputs"]) == len(model["weights"]) == len(model["mean"])
        refit = S.fit_model(spec["table"], model["inputs"], C=model["C"])
        assert refit["weights"] == pytest.approx(model["weights"], abs=1e-6)
        rows = S.leave_one_set_out(spec["table"], model["inputs"], C=model["C"])
        assert sum(r["right"] for r in rows) == model["loso_right"]
    first = spec["models"][0]
    assert first["loso_right_calibration"] >= 9 and first["loso_right"] >= 10
