"""The Data page's embedding map, and the History page: compare runs, delete."""

from __future__ import annotations

import json
import shutil

from app_helpers import create_engagement, goto, run_until, upload

from advisor import store
from advisor.settings import load_settings
from tests.conftest import make_class_folders, zip_folder


def test_embedding_map_marks_a_copied_image(app, tmp_path):
    folder = make_class_folders(tmp_path / "dup", {"cat": 10, "coffee": 10}, size=48)
    shutil.copy(folder / "cat" / "cat_000.jpg", folder / "coffee" / "copied_cat.jpg")
    sample = zip_folder(folder, tmp_path / "dup.zip")
    at = create_engagement(app)
    at = upload(at, sample, name="dup.zip")
    labels = [e.label for e in at.expander]
    # The exact copy is found from the bytes at upload; critical findings come first.
    assert labels[1] == "The same file under different labels", labels
    assert at.expander[1].proto.icon == ":material/error:"  # critical: no emoji needed
    at.button(key="data_map_draw").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    figure = at.get("plotly_chart")[-1]
    traces = {t["name"]: t for t in json.loads(figure.proto.spec)["data"]}
    assert {"cat", "coffee", "Near-duplicates"} <= set(traces)
    ringed = set(traces["Near-duplicates"]["text"])
    assert any(name.startswith("cat/cat_000.jpg") for name in ringed)
    assert any(name.startswith("coffee/copied_cat.jpg") for name in ringed)
    assert len(traces["cat"]["x"]) + len(traces["coffee"]["x"]) == 21
    summary = [c.value for c in at.caption if "duplicate group" in c.value]
    assert summary and summary[0].startswith("21 of 21 images · 1 duplicate group(s)")
    # The features went to the cache the validation reads.
    assert list((load_settings().data_dir / "cache" / "features").rglob("*.npz"))


def test_history_compares_two_runs_and_deletes_an_engagement(
    app, two_class_zip, fake_pipeline, data_dir
):
    at = create_engagement(app, client="Keep", project="Me")
    at.button(key="engagement_new").click()
    at.run()
    at = create_engagement(at, client="Drop", project="Me")
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    for n, budget in enumerate((10, 30), start=1):
        at.number_input(key="validate_budget").set_value(budget)
        at.button(key="validate_start").click()
        at = run_until(at, lambda a, n=n: finished_runs() == n)
    at = goto(at, "app_pages/history.py")
    tables = at.dataframe
    assert len(tables) == 2  # engagements, runs of the chosen one
    assert list(tables[1].value["#"]) == [2, 1]
    assert len(at.get("plotly_chart")) >= 2  # the two runs side by side
    facts = [c.value for c in at.caption if c.value.startswith("Budget")]
    assert facts == [
        "Budget 10 s · 24 images · Not validated yet",
        "Budget 30 s · 24 images · Not validated yet",
    ]

    samples = list((data_dir / "samples").iterdir())
    assert len(samples) == 1 and (data_dir / "runs" / "1" / "result.json").exists()
    at.checkbox(key="history_delete_confirm").check()
    at.run()
    at.button(key="history_delete").click()
    at.run()
    assert not at.exception
    assert at.success and at.success[0].value.startswith("Deleted Drop — Me (#2): 2 run(s)")
    assert not (data_dir / "runs" / "1").exists() and not list((data_dir / "samples").glob("*/"))
    assert not (data_dir / "engagements" / "2").exists()
    with store.open_session(store.create_db_engine(settings=load_settings())) as session:
        assert [e.client for e in store.list_engagements(session)] == ["Keep"]


def finished_runs() -> int:
    with store.open_session(store.create_db_engine(settings=load_settings())) as session:
        return len(store.list_runs(session, statuses=("done",)))
