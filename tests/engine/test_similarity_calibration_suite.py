"""The similarity model on the real calibration suite, through the app's own signal code.

Embeds the bench's subsample (``bench.calibrate_similarity.PER_SET`` images per set,
EfficientNet-Lite0, CPU; features cached in the test's tmp dir), measures the signals,
and checks that the leave-one-set-out table is no worse than the one the shipped model
file records — the same subsample, so the asserted count is the one the bench measured.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from engines import similarity as S

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "calibrate_similarity.py"


def _bench():
    spec = importlib.util.spec_from_file_location("calibrate_similarity", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _bench()
if not bench.suite_available():
    pytest.skip(
        f"the calibration suite is not under {bench.SHARED} (../shared absent)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    spec = S.load_model_file()
    work = tmp_path_factory.mktemp("similarity_suite")
    sets = bench.load_suite(work / "images", per_set=spec["per_set"], seed=spec["seed"])
    embedded = bench.embed_suite(sets, spec["backbone"], work / "cache")
    table = bench.signal_table(sets, embedded, seed=spec["seed"])
    return spec, sets, embedded, table


def test_signals_match_the_table_the_model_was_fitted_on(suite):
    spec, _, _, table = suite
    stored = {r["name"]: r for r in spec["table"]}
    assert [r["name"] for r in table] == [r["name"] for r in spec["table"]]
    for row in table:
        for key, value in row["signals"].items():
            want = stored[row["name"]]["signals"][key]
            if want is None:
                assert value is None, (row["name"], key)
            else:
                assert value == pytest.approx(want, rel=0.01, abs=2e-3), (row["name"], key)


def test_leave_one_set_out_is_no_worse_than_recorded(suite):
    spec, _, _, table = suite
    model = spec["models"][0]
    rows = S.leave_one_set_out(table, model["inputs"], C=model["C"])
    by = {r["name"]: r for r in rows}
    calibration = [r for r in rows if r["name"] in bench.CALIBRATION_SETS]
    assert sum(r["right"] for r in calibration) >= model["loso_right_calibration"] >= 9, rows
    assert by["magnetic_tile_seg"]["call"] == "different", by["magnetic_tile_seg"]
    sign = by["sign_language_digits"]
    assert sign["call"] == "borderline" or sign["confidence"] == "low", sign


def test_the_app_call_on_each_set(suite):
    """domain_similarity with the image files, as the validation calls it."""
    spec, sets, embedded, _ = suite
    right = 0
    for s in sets:
        feats = embedded[s["name"]]
        out = S.domain_similarity(feats.logits, feats.features, paths=s["paths"], seed=spec["seed"])
        assert out["model"]["name"] == spec["models"][0]["name"]
        if s["label"] == "borderline":
            right += out["call"] == "borderline" or out["confidence"] == "low"
        else:
            right += out["call"] == s["label"]
    assert right >= 10  # in-sample: the fitted model on its own sets


def _shrunk(paths, folder: Path, side: int, mode: str = "RGB") -> list[Path]:
    from PIL import Image

    out = []
    for i, p in enumerate(paths):
        im = Image.open(p).convert(mode)
        im.thumbnail((side, side), Image.BICUBIC)
        out.append(folder / f"{folder.name}_{i}.png")
        im.save(out[-1])
    return out


def test_low_resolution_alone_does_not_flip_the_call(suite, tmp_path):
    """28-pixel copies (the size of the chest X-rays once called similar) keep their call."""
    spec, sets, embedded, _ = suite
    chosen = [s for s in sets if s["name"] in ("cats_vs_dogs", "rsscn7_aerial")]
    small = []
    for s in chosen:
        folder = tmp_path / s["name"]
        folder.mkdir()
        small.append({**s, "paths": _shrunk(s["paths"][:16], folder, 28)})
    low = bench.embed_suite(small, spec["backbone"], None)
    for s, tiny in zip(chosen, small, strict=True):
        full = embedded[s["name"]]
        before = S.domain_similarity(full.logits, full.features, paths=s["paths"])
        f = low[s["name"]]
        after = S.domain_similarity(f.logits, f.features, paths=tiny["paths"])
        assert after["call"] == before["call"] == s["label"], (s["name"], after)


def test_small_greyscale_images_call_different(suite, tmp_path):
    """The X-ray case: 28-pixel greyscale images read as different."""
    spec, sets, embedded, _ = suite
    busi = next(s for s in sets if s["name"] == "busi_ultrasound")
    folder = tmp_path / "grey"
    folder.mkdir()
    paths = _shrunk(busi["paths"], folder, 28, mode="L")
    f = embedded["busi_ultrasound"]
    out = S.domain_similarity(f.logits, f.features, paths=paths)
    assert out["call"] == "different", out
    grey = next(e for e in out["evidence"] if e["name"] == "grey_share")
    assert np.isclose(grey["value"], 1.0) and grey["points_to"] == "different"
