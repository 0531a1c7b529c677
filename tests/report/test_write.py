"""write_report: formats, errors that say what to do, and the PDF's font requirement."""

from __future__ import annotations

import pytest

from advisor.report import ReportOptions, write_report
from advisor.report.fonts import FONT_ENV, FontNotFound, find_korean_font


def test_html_only(result, tmp_path):
    path = write_report(result, tmp_path / "out", "en", formats=("html",))
    assert path.name == "report.html" and path.exists()
    assert not (tmp_path / "out" / "report.pdf").exists()


@pytest.mark.parametrize("formats", [("docx",), (), ("html", "svg")])
def test_unknown_formats_are_refused(result, tmp_path, formats):
    with pytest.raises(ValueError, match="html.*pdf"):
        write_report(result, tmp_path, "en", formats=formats)


def test_a_missing_configured_font_fails_the_pdf_with_what_to_do(result, tmp_path, monkeypatch):
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(FontNotFound, match=FONT_ENV):
        write_report(result, tmp_path, "ko", formats=("pdf",))
    # Asked for nothing in particular, the HTML is still written.
    path = write_report(result, tmp_path / "out", "ko")
    assert path.exists() and not (tmp_path / "out" / "report.pdf").exists()


def test_font_from_the_environment_wins(tmp_path, monkeypatch):
    font = tmp_path / "Mine.ttf"
    font.write_bytes(b"\0")
    monkeypatch.setenv(FONT_ENV, str(font))
    assert find_korean_font() == font


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"currency": "dollars"}, "currency"),
        ({"label_unit_cost": -1.0}, "label_unit_cost"),
        ({"gpu_hourly_rate": 0}, "gpu_hourly_rate"),
        ({"training_epochs": 0}, "training_epochs"),
        ({"seconds_per_label": float("nan")}, "seconds_per_label"),
    ],
)
def test_bad_options_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReportOptions(**kwargs)


def test_wrong_argument_types_are_refused(result):
    from advisor.report import build_report_model

    with pytest.raises(TypeError, match="ReportOptions"):
        build_report_model(result, "en", {"currency": "KRW"})
    with pytest.raises(TypeError, match="result.json"):
        build_report_model(["not", "a", "result"], "en")
