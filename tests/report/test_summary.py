"""The one-page client summary: written beside the report, one page, numbers of the run."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from advisor.i18n import t
from advisor.report import build_report_model, render_summary_html, write_report
from advisor.report.numbers import format_value
from tests.report.report_helpers import make_result

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def squash(text: str) -> str:
    """PDF text without line breaks (a tile may wrap a value)."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module", params=["en", "ko"])
def written(request, korean_font, result, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"summary-{request.param}")
    write_report(result, out, language=request.param)
    return request.param, out


def test_summary_is_written_beside_the_report_on_one_page(written):
    language, out = written
    for name in ("report.html", "report.pdf", "summary.html", "summary.pdf"):
        assert (out / name).exists(), name
    assert not list(out.glob("*.tmp"))
    pages = pdf_pages((out / "summary.pdf").read_bytes())
    assert len(pages) == 1
    text = pages[0]
    for key in ("title", "answer", "recommendation", "accuracy", "risk", "next_step"):
        assert t(f"summary.{key}", language) in text, key
    if language == "ko":
        assert len(HANGUL.findall(text)) > 100
        assert t("report.verdicts.go_with_conditions", "ko").split(" (")[0] in text


def test_the_numbers_are_those_of_the_result(written, result):
    language, out = written
    html = (out / "summary.html").read_text("utf-8")
    pdf = squash(pdf_pages((out / "summary.pdf").read_bytes())[0])
    best = result["validation"]["experiments"][1]["metrics"]["accuracy"]
    for key in ("value", "ci_low", "ci_high"):
        shown = format_value(best[key], "percent")
        assert shown in pdf, (key, shown)
        assert f'data-src="/validation/experiments/1/metrics/accuracy/{key}"' in html
    score = result["validation"]["similarity"]["score"]
    assert format_value(score, "float") in pdf
    assert 'data-src="/validation/similarity/score"' in html
    # The images-needed entry of the fit: the target 80% is already reached there.
    assert (
        result["validation"]["learning_curve"]["fit"]["images_needed"][0]["status"]
        == "already_reached"
    )
    assert 'data-src="/config/target_accuracy"' in html or 'data-src="/intake/target_value"' in html
    assert 'data-verdict="go_with_conditions"' in html
    assert "<script>" not in html  # the client's file name is escaped


def test_images_needed_for_a_reachable_target_with_its_interval():
    result = make_result(target=0.97)
    entry = result["validation"]["learning_curve"]["fit"]["images_needed"][0]
    assert entry["status"] == "reachable"
    html = render_summary_html(build_report_model(result, "en"))
    tile = html.split('id="images-needed"')[1].split("</div>")[0]
    assert format_value(entry["n"], "count") in tile
    assert format_value(entry["ci_low"], "count") in tile
    assert 'data-src="/validation/learning_curve/fit/images_needed/0/n"' in tile


def test_what_was_not_measured_says_so():
    result = make_result()
    result["validation"]["similarity"] = None
    result["validation"]["learning_curve"] = None
    html = render_summary_html(build_report_model(result, "en"))
    for tile in ("similarity", "images-needed"):
        cell = html.split(f'id="{tile}"')[1].split("</div>")[0]
        assert "not measured" in cell and 'class="num"' not in cell, tile
    accuracy = html.split('id="accuracy"')[1].split("</div>")[0]
    assert 'class="num"' in accuracy


def test_nothing_measured_gives_no_number_and_no_decision():
    result = make_result()
    result["validation"]["experiments"] = []
    result["validation"]["best_experiment"] = None
    result["validation"]["similarity"] = None
    result["validation"]["learning_curve"] = None
    html = render_summary_html(build_report_model(result, "ko"))
    assert 'data-verdict="not_measured"' in html
    tiles = html.split('class="tiles"')[1].split("</section>")[0]
    assert 'class="num"' not in tiles
    assert tiles.count(t("summary.not_measured", "ko")) == 3


def test_no_target_is_said_not_guessed():
    result = make_result(target=None)
    html = render_summary_html(build_report_model(result, "en"))
    cell = html.split('id="images-needed"')[1].split("</div>")[0]
    assert "no target agreed yet" in cell
