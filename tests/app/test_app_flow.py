"""Drive the app: engagement -> upload -> profile -> advice -> validate -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_helpers import APP, TIMEOUT, create_engagement, goto, run_until, upload
from streamlit.testing.v1 import AppTest

from advisor import store
from advisor.settings import load_settings

APP_ROOT = Path(__file__).resolve().parents[2]


def charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def test_journey_from_engagement_to_report(app, two_class_zip, fake_pipeline, data_dir):
    at = create_engagement(app, client="ACME Tiles", project="Surface check", target=90)
    assert [s.value for s in at.success] == ["Engagement saved."]
    assert at.query_params["engagement"] in ("1", ["1"])

    at = upload(at, two_class_zip)
    assert [s.value for s in at.success] == ["sample.zip is stored with the engagement."]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "32" and metrics["Classes"] == "2"
    assert metrics["Distinct images"] == "32"
    assert any("Amount of data" in e.label for e in at.expander)  # health findings
    assert charts(at)  # class distribution
    assert len(at.get("image")) == 2  # the sample grid: one row of thumbnails per class

    at = goto(at, "app_pages/advice.py")
    text = "\n".join(m.value for m in at.markdown)
    assert "#### Architecture" in text and "#### Transfer strategy" in text
    assert "Image classification" in text
    assert any(e.label.startswith("Why · ") for e in at.expander)
    assert any(c.value for c in at.caption if c.value.startswith("Source: "))
    assert charts(at)  # the 2×2 with this engagement's point
    assert "Similarity is not measured yet" in "\n".join(c.value for c in at.caption)

    at = goto(at, "app_pages/validate.py")
    at.number_input(key="validate_budget").set_value(20)
    fake_pipeline.release.clear()
    at.button(key="validate_start").click()
    at.run()
    assert not at.exception
    assert at.info and "in progress" in at.info[0].value
    assert fake_pipeline.started.wait(10)
    at = run_until(at, lambda a: a.get("progress") and a.get("progress")[0].value > 0)
    assert any(m.label == "Latest metric" and m.value == "accuracy 90.0%" for m in at.metric)
    fake_pipeline.release.set()
    at = run_until(at, lambda a: len(charts(a)) >= 4)
    assert not at.error, [e.value for e in at.error]
    assert fake_pipeline.calls[0]["budget_seconds"] == 20.0
    assert fake_pipeline.calls[0]["intake"].target_value == 0.9
    results = {m.label: m.value for m in at.metric}
    assert results["Best accuracy (held-out)"] == "100.0%"
    assert results["Domain similarity"].endswith("similar")
    assert any("(EV-" in c.value for c in at.caption)  # where the evidence moved the advice
    verdict = [b.value for b in (*at.success, *at.warning, *at.info)]
    assert any("Frozen backbone + linear classifier" in v for v in verdict), verdict

    with store.open_session(store.create_db_engine(settings=load_settings())) as session:
        (run,) = store.list_runs(session, engagement_id=1)
    assert run.status == "done" and run.metrics["accuracy"] == 1.0
    assert run.result["validation"]["best_experiment"]

    at = goto(at, "app_pages/report.py")
    # The one-page summary comes first, then the full report.
    assert [b.label for b in at.get("download_button")] == [
        "Download the summary (HTML)",
        "Download the report (HTML)",
        "Download result.json",
    ]
    assert [s.value for s in at.subheader][:2] == [
        ":material/summarize: Feasibility at a glance",
        ":material/description: The full report",
    ]
    assert not at.info
    at.button(key="report_make_pdf").click()
    at.run()
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    pdf_ready = "Download the report (PDF)" in labels
    assert pdf_ready or (at.warning and at.warning[0].value.startswith("No PDF"))
    if pdf_ready:
        assert labels[:2] == ["Download the summary (HTML)", "Download the summary (PDF)"]
    report_file = data_dir / "reports" / "1" / f"run-{run.id}-en.html"
    assert "<html" in report_file.read_text("utf-8").lower()
    summary_file = data_dir / "reports" / "1" / f"run-{run.id}-en-summary.html"
    assert 'id="answer"' in summary_file.read_text("utf-8")
    with store.open_session(store.create_db_engine(settings=load_settings())) as session:
        formats = sorted(r.format for r in store.list_reports(session, 1))
    assert formats == (["html", "html", "pdf", "pdf"] if pdf_ready else ["html", "html"])


def test_reload_during_a_run_reconnects(app, two_class_zip, fake_pipeline):
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    fake_pipeline.release.clear()
    at.button(key="validate_start").click()
    at.run()
    assert fake_pipeline.started.wait(10)

    # A browser reload: a new session with nothing but the page URL.
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.query_params["engagement"] = "1"
    reloaded.run()
    reloaded = goto(reloaded, "app_pages/validate.py")
    assert reloaded.info and "Run 1 is in progress" in reloaded.info[0].value
    assert reloaded.get("progress")
    assert reloaded.button(key="validate_cancel")
    fake_pipeline.release.set()
    reloaded = run_until(reloaded, lambda a: len(charts(a)) >= 4)
    assert "Results of run 1" in [s.value for s in reloaded.subheader]


def test_cancel_stops_the_run(app, two_class_zip, fake_pipeline):
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    fake_pipeline.release.clear()
    at.button(key="validate_start").click()
    at.run()
    assert fake_pipeline.started.wait(10)
    at.button(key="validate_cancel").click()
    at.run()
    at = run_until(at, lambda a: bool(a.warning))
    assert "Run 1 was cancelled" in at.warning[0].value
    assert at.button(key="validate_start")  # ready for another run
    assert not charts(at)


def test_a_failed_run_says_why_without_a_traceback(app, two_class_zip, fake_pipeline):
    from advisor.pipeline import NotValidatable

    fake_pipeline.error = NotValidatable("Only one class ('cat') was found: add a folder.")
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    at.button(key="validate_start").click()
    at = run_until(at, lambda a: bool(a.error))
    assert at.error[0].value == ("Run 1 failed: Only one class ('cat') was found: add a folder.")
    assert not at.exception


def test_bad_upload_shows_a_message_not_a_traceback(app, tmp_path):
    at = create_engagement(app)
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not a zip at all")
    at = upload(at, bad, name="x.zip")
    assert at.error and "zip" in at.error[0].value.lower()
    assert [i.value for i in at.info] == ["Upload a sample to see its profile."]
    assert not list((load_settings().data_dir / "samples").glob("*/sample.zip"))


def test_pages_ask_for_an_engagement_first(app):
    for page in (
        "app_pages/data.py",
        "app_pages/advice.py",
        "app_pages/validate.py",
        "app_pages/report.py",
    ):
        at = goto(app, page)
        assert [i.value for i in at.info] == ["Create or open an engagement first."], page


def test_reopen_a_recent_engagement(app):
    at = create_engagement(app, client="First", project="One")
    at.button(key="engagement_new").click()
    at.run()
    at = create_engagement(at, client="Second", project="Two", language="ko")
    assert at.header[0].value == ":material/handshake: 프로젝트"  # the engagement's language
    at.button(key="engagement_open_1").click()
    at.run()
    at.run()
    assert at.header[0].value == ":material/handshake: Engagement"
    assert at.text_input(key="engagement_client_1").value == "First"


def test_language_switch_changes_the_page_text(app):
    app.sidebar.selectbox[0].set_value("ko")
    app.run()
    at = goto(app, "app_pages/data.py")
    assert [i.value for i in at.info] == ["먼저 프로젝트를 만들거나 여세요."]
    at = goto(at, "app_pages/history.py")
    assert at.header[0].value == ":material/history: 기록"


def test_unexpected_errors_become_a_friendly_message(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is on fire")

    monkeypatch.setattr("advisor.session.recent_engagements", broken)
    at = goto(app, "app_pages/history.py")
    assert not at.exception
    assert at.error and "database is on fire" in at.error[0].value
    assert "Traceback" not in at.error[0].value


def test_result_example_is_a_pipeline_result():
    from app_helpers import EXAMPLE

    data = json.loads(EXAMPLE.read_text("utf-8"))
    assert data["validation"]["experiments"] and data["recommendation"]["prior"]


def test_misclassified_examples_are_shown_with_their_images(app, two_class_zip, fake_pipeline):
    def two_mistakes(result):
        result["validation"]["misclassified"] = [
            {"path": "cat/cat_003.jpg", "true": "cat", "predicted": "coffee", "confidence": 0.7},
            {"path": "../outside.jpg", "true": "cat", "predicted": "coffee", "confidence": 0.6},
        ]

    fake_pipeline.edit = two_mistakes
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    at.button(key="validate_start").click()
    at = run_until(at, lambda a: len(charts(a)) >= 4)
    assert "**Misclassified held-out images (2)**" in [m.value for m in at.markdown]
    (images,) = at.get("image")  # only the one inside the sample is drawn
    assert len(images.proto.imgs) == 1
    assert images.proto.imgs[0].caption == "cat/cat_003.jpg · cat → coffee (70%)"


def test_the_validate_page_draws_the_reference_result(app, two_class_zip, fake_pipeline):
    reference = APP_ROOT / "tests" / "fixtures" / "result_example.json"
    if not reference.exists():
        pytest.skip("tests/fixtures/result_example.json is not there yet")
    data = json.loads(reference.read_text("utf-8"))

    def use_reference(result):
        result.clear()
        result.update(data)

    fake_pipeline.edit = use_reference
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    at.button(key="validate_start").click()
    at = run_until(at, lambda a: len(charts(a)) >= 4)
    assert not at.error and not at.exception
    bars = json.loads(charts(at)[0].proto.spec)["data"][0]
    assert len(bars["y"]) == len(data["validation"]["experiments"])
    assert at.success and at.success[0].value.startswith("**Validated**")
