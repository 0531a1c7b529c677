"""Deployment-site images against the training sample (advisor.site_gap), real backbone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from advisor.pipeline import prepare_dataset
from advisor.site_gap import measure_site_gap
from engines.intake import IntakeError
from tests.conftest import make_class_folders

pytestmark = pytest.mark.slow


def grey_textures(folder: Path, n: int, seed: int = 0) -> Path:
    """Greyscale speckle, like ultrasound or a machined surface: far from the photos."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        noise = rng.gamma(2.0, 40.0, size=(64, 64)).clip(0, 255).astype(np.uint8)
        Image.fromarray(noise, "L").save(folder / f"site_{i:02d}.png")
    return folder


def test_site_images_like_the_sample_read_closer_than_foreign_ones(tmp_path):
    sample = make_class_folders(tmp_path / "sample", {"cat": 16, "coffee": 16})
    prepared = prepare_dataset(sample, tmp_path / "work")
    like = make_class_folders(tmp_path / "site_like", {"cat": 12, "coffee": 12}, seed=1)
    foreign = grey_textures(tmp_path / "site_foreign", 24)
    near = measure_site_gap(prepared, like, device="cpu", cache_dir=tmp_path / "cache")
    far = measure_site_gap(prepared, foreign, device="cpu", cache_dir=tmp_path / "cache")
    json.dumps(near)
    json.dumps(far)
    assert near["n_train"] == 32 and near["n_site"] == 24 and near["reference"] == "site_like"
    assert far["interpretation"] == "different" and far["gap"] > 1.5
    assert near["gap"] < far["gap"] and near["interpretation"] != "different"
    assert far["backbone"] == "efficientnet_lite0" and far["n_site_skipped"] == 0


def test_reference_folder_must_hold_images(tmp_path):
    sample = make_class_folders(tmp_path / "sample", {"cat": 6, "coffee": 6})
    prepared = prepare_dataset(sample, tmp_path / "work")
    with pytest.raises(IntakeError, match="not found"):
        measure_site_gap(prepared, tmp_path / "missing", device="cpu")
    one = grey_textures(tmp_path / "one", 1)
    with pytest.raises(IntakeError, match="at least two"):
        measure_site_gap(prepared, one, device="cpu")


def test_validate_with_reference_images_reports_the_site_gap(tmp_path, capsys):
    from advisor.cli import main
    from engines.results import load_result

    sample = make_class_folders(tmp_path / "sample", {"cat": 12, "coffee": 12})
    site = grey_textures(tmp_path / "site", 16)
    out = tmp_path / "out"
    code = main(
        [
            "validate",
            str(sample),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--strategies",
            "linear_probe",
            "--compare",
            "none",
            "--reference-images",
            str(site),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "deployment-site images against the sample" in capsys.readouterr().out
    result = load_result(out / "result.json")
    gap = result.validation.site_gap
    assert gap["reference"] == "site" and gap["n_site"] == 16
    assert gap["interpretation"] == "different"
    assert result.timings["site_gap"] > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Deployment-site images against the sample" in html
    assert "clearly different from the sample" in html


def test_reference_images_that_are_not_a_folder_are_refused_before_any_work(tmp_path, capsys):
    from advisor.cli import main

    sample = make_class_folders(tmp_path / "sample", {"cat": 4, "coffee": 4})
    code = main(
        [
            "validate",
            str(sample),
            "--out",
            str(tmp_path / "out"),
            "--reference-images",
            str(tmp_path / "nowhere"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "not a folder" in err and "\n" not in err
    assert not (tmp_path / "out" / "result.json").exists()
