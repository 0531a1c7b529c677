"""End to end on small real images: upload -> profile -> recommend -> validate -> report."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from advisor import pipeline
from advisor.cli import main
from advisor.result import SCHEMA_VERSION, load_result
from engines.results import RunConfig
from engines.results.schema import result_schema
from tests.conftest import make_class_folders, zip_folder

# Tests of plumbing around the validation need only its cheapest experiment.
QUICK = {"strategies": ("linear_probe",), "compare_backbones": (), "report_formats": ("html",)}
QUICK_CLI = ["--device", "cpu", "--strategies", "linear_probe", "--compare", "none"]


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    folder = make_class_folders(tmp / "sample", {"cat": 20, "coffee": 20})
    data = zip_folder(folder, tmp / "sample.zip", wrap="client_sample")
    out = tmp / "out"
    result = pipeline.validate(
        data, out, RunConfig(budget_seconds=120, device="cpu", cache_dir=tmp / "cache", **QUICK)
    ).to_json_dict()
    return result, out, tmp


def test_result_json_holds_profile_recommendation_and_experiment(validated):
    result, out, _ = validated
    on_disk = load_result(out / "result.json").to_json_dict()
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk == json.loads((out / "result.json").read_text())
    jsonschema.validate(on_disk, result_schema())
    assert on_disk["schema_version"] == SCHEMA_VERSION
    profile = on_disk["profile"]
    assert profile["n_images"] == 40 and profile["n_classes"] == 2
    assert profile["class_counts"] == {"cat": 20, "coffee": 20}
    rec = on_disk["recommendation"]
    assert rec["strategy_id"] in ("linear_probe", "partial_finetune", "full_finetune")
    assert rec["fired_rule_ids"] and all(isinstance(r, str) for r in rec["fired_rule_ids"])
    (exp,) = [e for e in on_disk["validation"]["experiments"] if e["strategy"] == "linear_probe"]
    acc = exp["metrics"]["accuracy"]
    assert exp["backbone"] == "efficientnet_lite0"
    assert exp["n_train"] + exp["n_val"] == 40 and exp["n_val"] >= 2
    assert 0.0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1.0
    assert exp["seconds"] > 0
    assert on_disk["validation"]["device"]["type"] == "cpu"
    assert on_disk["environment"]["versions"]["torch"]


def test_a_planted_learnable_signal_is_learned(validated):
    result, _, _ = validated
    acc = result["validation"]["experiments"][0]["metrics"]["accuracy"]
    # cat crops vs coffee crops: pretrained features separate them almost perfectly
    assert acc["value"] >= 0.9
    assert acc["ci_low"] > 0.5


def test_report_html_is_written_with_the_measured_numbers(validated):
    result, out, _ = validated
    html = (out / "report.html").read_text("utf-8")
    acc = result["validation"]["experiments"][0]["metrics"]["accuracy"]["value"]
    assert f"{100 * acc:.1f}%" in html
    for rule_id in result["recommendation"]["fired_rule_ids"]:
        assert rule_id in html
    summary = (out / "summary.html").read_text("utf-8")  # the client's one page beside it
    assert f"{100 * acc:.1f}%" in summary and 'id="answer"' in summary


def test_second_run_reads_features_from_the_cache(validated):
    _, _, tmp = validated
    again = pipeline.validate(
        tmp / "sample.zip",
        tmp / "out2",
        RunConfig(budget_seconds=120, device="cpu", cache_dir=tmp / "cache", **QUICK),
    ).to_json_dict()
    assert again["validation"]["feature_extraction"]["from_cache"] == 40


def test_split_folders_are_respected(tmp_path):
    folder = make_class_folders(tmp_path / "s", {"cat": 8, "coffee": 8}, splits={"train": 0.75})
    result = pipeline.validate(
        folder, tmp_path / "out", RunConfig(budget_seconds=60, device="cpu", **QUICK)
    ).to_json_dict()
    exp = result["validation"]["experiments"][0]
    assert (exp["n_train"], exp["n_val"]) == (12, 4)


def test_cli_validate_writes_result_and_report(tmp_path, two_class_zip, capsys):
    out = tmp_path / "cli-out"
    code = main(
        [
            "validate",
            str(two_class_zip),
            "--out",
            str(out),
            "--budget-seconds",
            "60",
            "--device",
            "cpu",
            "--strategies",
            "linear_probe",
            "--compare",
            "none",
        ]
    )
    assert code == 0
    assert (out / "result.json").exists() and (out / "report.html").exists()
    printed = capsys.readouterr().out
    assert "linear_probe" in printed
    # it names what it wrote: the report and the client's one-page summary
    assert "report.html" in printed and "summary.html" in printed


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b"this is not a zip"), "zip"),
        (lambda p: __import__("zipfile").ZipFile(p, "w").close(), "empty"),
    ],
    ids=["not-a-zip", "empty-zip"],
)
def test_cli_bad_zip_gives_one_line_and_exit_2(tmp_path, capsys, make, expected):
    bad = tmp_path / "upload.zip"
    make(bad)
    code = main(["validate", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err
    assert expected in err.lower()
    assert "Traceback" not in err


def test_cli_one_class_gives_one_line_and_exit_2(tmp_path, capsys):
    folder = make_class_folders(tmp_path / "one", {"cat": 6})
    code = main(["validate", str(folder), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "one class" in err.lower() and "\n" not in err


def test_a_sample_of_copies_says_why_no_images_can_be_held_out(tmp_path, capsys):
    folder = make_class_folders(tmp_path / "copies", {"cat": 1, "coffee": 1})
    for name in ("cat", "coffee"):  # five more copies of each class's one photo
        (original,) = (folder / name).glob("*.jpg")
        for i in range(5):
            (folder / name / f"copy_{i}.jpg").write_bytes(original.read_bytes())
    code = main(["validate", str(folder), "--out", str(tmp_path / "o"), *QUICK_CLI])
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
    assert code == 2 and err.startswith("error: ")
    assert "12 images form only 2 groups of copies" in err and "Add distinct images" in err


def test_a_class_made_of_copies_says_why_it_cannot_be_held_out(tmp_path, capsys):
    folder = make_class_folders(tmp_path / "copies", {"cat": 1, "coffee": 8})
    (original,) = (folder / "cat").glob("*.jpg")
    for i in range(5):  # the cat class is one photo and five copies of it
        (folder / "cat" / f"copy_{i}.jpg").write_bytes(original.read_bytes())
    code = main(["validate", str(folder), "--out", str(tmp_path / "o"), *QUICK_CLI])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and err.startswith("error: ")
    assert "hold a single class" in err
    assert "the 6 images of 'cat' form 1 group(s) of copies" in err and "Add distinct" in err


def test_corrupt_image_is_skipped_and_the_rest_used(tmp_path):
    folder = make_class_folders(tmp_path / "s", {"cat": 8, "coffee": 8})
    (folder / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = pipeline.validate(
        folder, tmp_path / "out", RunConfig(budget_seconds=60, device="cpu", **QUICK)
    ).to_json_dict()
    assert result["profile"]["n_images"] == 16
    skipped = result["profile"]["skipped"]
    assert [Path(s["path"]).name for s in skipped] == ["broken.jpg"]
    assert skipped[0]["reason"]


def test_python_m_advisor_help_documents_every_subcommand():
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("validate", "profile", "recommend", "report", "backbones"):
        assert command in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "validate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--out", "--budget-seconds", "--device"):
        assert option in proc.stdout
