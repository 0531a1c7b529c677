"""Drive the app: upload a zip -> profile -> advice -> validate -> report."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("FEASIBILITY_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def goto(at, page):
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_upload_validate_report(app, two_class_zip):
    at = goto(app, "app_pages/data.py")
    at.file_uploader(key="data_upload").set_value(
        ("sample.zip", two_class_zip.read_bytes(), "application/zip")
    )
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric][:2] == ["32", "2"]

    at = goto(at, "app_pages/advice.py")
    assert at.markdown and any("linear" in m.value.lower() or "fine-tune" in m.value.lower()
                               for m in at.markdown)
    assert at.expander  # the rules that fired, each with why and source

    at = goto(at, "app_pages/validate.py")
    at.button(key="validate_start").click()
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.success
    accuracy = at.metric[0].value
    assert accuracy.endswith("%") and float(accuracy[:-1]) >= 80

    at = goto(at, "app_pages/report.py")
    assert at.get("download_button")
    assert not at.info


def test_bad_upload_shows_a_message_not_a_traceback(app, tmp_path):
    at = goto(app, "app_pages/data.py")
    at.file_uploader(key="data_upload").set_value(("x.zip", b"not a zip at all", "application/zip"))
    at.run()
    assert not at.exception
    assert at.error and "zip" in at.error[0].value.lower()


def test_pages_ask_for_data_first(app):
    for page in ("app_pages/advice.py", "app_pages/validate.py", "app_pages/report.py"):
        at = goto(app, page)
        assert at.info, page


def test_language_switch_changes_the_page_text(app):
    app.sidebar.selectbox[0].set_value("ko")
    app.run()
    at = goto(app, "app_pages/data.py")
    assert at.header[0].value == "데이터"
