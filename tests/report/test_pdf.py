"""The PDF report: same content, Korean text rendered with an embedded font."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from advisor.i18n import t
from advisor.report import ReportOptions, build_report_model, render_pdf, write_report
from advisor.report.numbers import format_value
from tests.report.report_helpers import make_result

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def embedded_fonts(data: bytes) -> dict[str, bool]:
    """Base font name -> whether the font program is embedded in the file."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor") or {}
            descriptor = descriptor.get_object() if descriptor else {}
            fonts[str(font.get("/BaseFont"))] = any(
                k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    return fonts


@pytest.fixture(scope="module")
def korean_run(korean_font, result, image_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-ko")
    first = write_report(result, out, language="ko", image_root=image_root)
    return first, out


@pytest.fixture(scope="module")
def english_pdf(korean_font):
    result = make_result()
    result["intake"]["goal"] = "타일 표면의 균열 찾기"  # a client writing in Korean
    data = render_pdf(build_report_model(result, "en"), ReportOptions(interactive_charts=False))
    return data, pdf_text(data)


def test_write_report_writes_html_and_pdf(korean_run):
    first, out = korean_run
    assert first == out / "report.html"
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert not list(out.glob("*.tmp"))


def test_korean_pdf_has_korean_text_and_embedded_font(korean_run, result):
    data = (korean_run[1] / "report.pdf").read_bytes()
    text = pdf_text(data)
    assert len(HANGUL.findall(text)) > 500
    for key in (
        "title",
        "section.summary",
        "section.evidence",
        "section.more_data",
        "section.risks",
        "section.appendix",
        "verdicts.go_with_conditions",
    ):
        assert t(f"report.{key}", "ko").split(" (")[0] in text, key
    best = result["validation"]["experiments"][1]["metrics"]["accuracy"]
    assert format_value(best["value"], "percent") in text
    fonts = embedded_fonts(data)
    assert fonts and all(fonts.values()), fonts
    assert any("ReportSans" in name for name in fonts)


def test_english_pdf_renders_korean_client_text(english_pdf):
    data, text = english_pdf
    assert t("report.section.summary", "en") in text
    assert "타일 표면의 균열 찾기" in text
    assert len(PdfReader(io.BytesIO(data)).pages) >= 5


def test_pdf_charts_are_static_vector_drawings(english_pdf):
    _, text = english_pdf
    # Chart titles and axis words are text in the PDF, not pixels.
    assert t("report.more.x_axis", "en") in text
    assert t("report.ev.confusion", "en") in text


def test_rendering_a_pdf_leaves_truncated_images_refused(korean_font):
    # WeasyPrint turns Pillow's truncated-image switch on when first imported; the
    # intake relies on it being off. A fresh interpreter sees the first import.
    import subprocess
    import sys

    code = (
        "from PIL import ImageFile\n"
        "from advisor.report import build_report_model, render_pdf\n"
        "from tests.report.report_helpers import make_result\n"
        "render_pdf(build_report_model(make_result(), 'ko'))\n"
        "print(ImageFile.LOAD_TRUNCATED_IMAGES)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
