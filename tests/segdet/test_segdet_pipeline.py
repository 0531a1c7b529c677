"""Segmentation and detection uploads go through the whole pipeline to result.json."""

import json

from advisor import pipeline
from engines.results import RunConfig
from tests.segdet.fixtures import shapes_detection_sample, square_sample


def test_a_mask_upload_gets_the_segmentation_validation(tmp_path):
    root = square_sample(tmp_path / "seg", n=16, size=64)
    result = pipeline.validate(
        root,
        tmp_path / "out",
        RunConfig(
            budget_seconds=60, device="cpu", strategies=("linear_probe",), report_formats=("html",)
        ),
    ).to_json_dict()
    v = result["validation"]
    assert result["profile"]["task_hint"] == "segmentation"
    assert v["task"] == "segmentation" and v["experiments"] == []
    (exp,) = v["segmentation"]["experiments"]
    assert exp["strategy"] == "frozen_encoder"
    dice = exp["metrics"]["dice"]
    assert 0 <= dice["ci_low"] <= dice["value"] <= dice["ci_high"] <= 1
    on_disk = json.loads((tmp_path / "out" / "result.json").read_text("utf-8"))
    assert on_disk["validation"]["segmentation"]["experiments"][0]["metrics"]["dice"] == dice
    assert (tmp_path / "out" / "report.html").exists()


def test_a_box_upload_gets_detection_evidence(tmp_path):
    root = shapes_detection_sample(tmp_path / "det", n=12, fmt="voc")
    result = pipeline.validate(
        root, tmp_path / "out", RunConfig(budget_seconds=20, device="cpu", report_formats=("html",))
    ).to_json_dict()
    v = result["validation"]
    assert result["profile"]["task_hint"] == "detection"
    assert v["task"] == "detection"
    assert {"sizes", "balance", "separability"} <= set(v["detection"])
    detector = v["detection"]["detector"]
    # within 15 s the detector either ran (and is scored) or is listed as skipped
    assert detector["runs"] or detector["skipped"]
    for run in detector["runs"]:
        assert run["metrics"]["map50"]["value"] is not None
    # the report's detector section speaks the report's language
    from advisor.i18n import t
    from advisor.report import build_report_model

    korean = str([s.blocks for s in build_report_model(result, "ko").sections])
    assert t("report.det.title", "ko") in korean and "Detector fine-tune" not in korean
    for skipped in detector["skipped"]:
        assert skipped["reason"] not in korean or not skipped.get("reason_code")
