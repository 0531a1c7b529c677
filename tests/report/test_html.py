"""The HTML report: self-contained, escaped, bilingual, honest about what was not measured."""

from __future__ import annotations

import re

import pytest

from advisor.i18n import t
from advisor.report import ReportOptions, build_report_model, render_html
from advisor.report.model import NotMeasured
from tests.report.html_parse import parse
from tests.report.report_helpers import make_result

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def page_html(result, image_root):
    options = ReportOptions(image_root=image_root)
    return render_html(build_report_model(result, "en", options), options=options)


def test_the_page_requests_nothing_from_the_network(page_html):
    page = parse(page_html)
    for tag, attrs in page.tags:
        assert tag not in ("iframe", "object", "embed", "link", "base"), tag
        src = attrs.get("src")
        if src is not None:
            assert src.startswith("data:"), (tag, src[:80])
        href = attrs.get("href", "")
        if EXTERNAL.match(href):
            # Only plain citation links, which the reader may follow, point outside.
            assert tag == "a" and "cite" in attrs.get("class", "").split(), (tag, href)
        if tag == "script":
            assert "src" not in attrs
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page_html, re.IGNORECASE)
    assert not re.search(r"@import", page_html)
    assert page_html.count("<img ") >= 2 and 'src="data:image/jpeg;base64,' in page_html


def test_charts_are_interactive_with_plotly_inlined(page_html):
    assert "Plotly.newPlot(" in page_html
    assert page_html.index("<script>") < page_html.index('id="chart-strategies"')
    assert len(page_html) > 3_000_000  # plotly.js itself is in the page
    for chart in ("class-balance", "backbones", "strategies", "confusion", "learning-curve"):
        assert f'id="chart-{chart}"' in page_html


def test_static_charts_when_asked(result):
    options = ReportOptions(interactive_charts=False)
    html = render_html(build_report_model(result, "en", options), options=options)
    assert "Plotly" not in html and html.count("<svg") >= 5
    assert len(html) < 1_000_000


def test_no_model_object_leaks_into_the_page(page_html):
    for leak in ("Phrase(", "Num(", "Estimate(", "Markup("):
        assert leak not in page_html


def test_client_strings_are_escaped(page_html, result):
    assert "tiles<script>.zip" not in page_html
    assert "tiles&lt;script&gt;.zip" in page_html
    assert "<b>cracks</b>" not in page_html and "&lt;b&gt;cracks&lt;/b&gt;" in page_html


def test_every_section_is_there_in_order(page_html):
    ids = [a.get("id") for tag, a in parse(page_html).tags if tag == "section"]
    assert ids == [
        "summary",
        "goal",
        "data",
        "advice",
        "evidence",
        "more_data",
        "deployment",
        "risks",
        "next_steps",
        "appendix",
        "references",
    ]


def test_misclassified_images_are_embedded_only_where_the_files_exist(result, image_root):
    options = ReportOptions(image_root=image_root)
    model = build_report_model(result, "en", options)
    galleries = [b for b in model.section("evidence").blocks if b.kind == "gallery"]
    assert len(galleries) == 1
    assert [t.path for t in galleries[0].thumbnails] == [
        "val/crack/crack_003.png",
        "val/scratch/scratch_011.png",
    ]
    assert galleries[0].missing == 1
    samples = [b for b in model.section("data").blocks if b.kind == "gallery"]
    assert samples and {t.caption for t in samples[0].thumbnails} == {"crack", "normal", "scratch"}


def test_without_the_upload_the_report_says_images_are_not_embedded(result):
    model = build_report_model(result, "en")
    text = str(model.section("evidence").blocks)
    assert t("report.images.no_root", "en") in text
    assert all(b.kind != "gallery" for s in model.sections for b in s.blocks)


def test_missing_sections_say_not_measured():
    result = make_result()
    for key in ("learning_curve", "deployment", "similarity", "backbone_ranking", "misclassified"):
        result["validation"][key] = None
    result["profile"]["health"] = {}
    model = build_report_model(result, "en")
    html = render_html(model, options=ReportOptions(interactive_charts=False))
    page = parse(html)
    said = t("report.not_measured", "en")
    for section in ("more_data", "deployment"):
        blocks = model.section(section).blocks
        assert blocks and all(isinstance(b, NotMeasured) for b in blocks), section
        assert page.section_numbers[section] == 0, section
        assert said in " ".join(page.section_text[section])
    evidence = " ".join(page.section_text["evidence"])
    assert evidence.count(said) >= 3  # similarity, ranking, misclassified
    assert said in " ".join(page.section_text["data"])  # no health check


def test_a_result_without_validation_renders_and_decides_nothing():
    result = make_result()
    del result["validation"]
    model = build_report_model(result, "ko")
    assert model.decision.verdict == "not_measured"
    html = render_html(model)
    assert t("report.verdicts.not_measured", "ko") in html
    assert "Plotly" in html  # the class balance chart still draws


def test_korean_report_is_korean(result):
    html = render_html(build_report_model(result, "ko"))
    assert '<html lang="ko">' in html
    for key in ("title", "section.summary", "section.more_data", "section.appendix"):
        assert t(f"report.{key}", "ko") in html
    assert t("report.section.summary", "en") not in html


def test_render_html_still_accepts_a_result_document(result):
    html = render_html(result, "ko")
    assert t("report.title", "ko") in html
    with pytest.raises(ValueError, match="Unsupported language"):
        render_html(result, "fr")
    with pytest.raises(ValueError, match="mode"):
        render_html(result, "en", mode="paper")


def test_rendering_is_deterministic(result):
    model = build_report_model(result, "en")
    assert render_html(model) == render_html(model)


def test_a_fine_tune_that_ended_as_its_probe_says_so():
    result = make_result()
    tuned = [e for e in result["validation"]["experiments"] if e["strategy"] != "linear_probe"]
    assert tuned
    said = {
        lang: t("report.ev.ended_as_probe", lang, strategy="X").split(":")[1][:20]
        for lang in ("en", "ko")
    }
    for lang in ("en", "ko"):
        text = str(build_report_model(result, lang).section("evidence").blocks)
        assert said[lang] not in text  # fine-tunes that ended fine-tuned say nothing
    tuned[0]["final_model"] = "linear_probe"
    for lang in ("en", "ko"):
        text = str(build_report_model(result, lang).section("evidence").blocks)
        assert said[lang] in text, lang


def test_the_report_states_what_the_budget_bought():
    result = make_result()
    v = result["validation"]
    tuned = next(e for e in v["experiments"] if e["strategy"] != "linear_probe")
    tuned.update(epochs=4, image_size=260)
    v["skipped"] = [{"strategy": "full_finetune", "reason": "", "estimated_seconds": 95.0}]
    for lang in ("en", "ko"):
        blocks = build_report_model(result, lang).section("evidence").blocks
        titles = [getattr(b, "text", None) for b in blocks]
        at = titles.index(t("report.ev.bought_title", lang))
        lead, table = blocks[at + 1], blocks[at + 2]
        assert lead.text.params["used"].value == v["budget"]["used_seconds"]
        assert lead.text.params["budget"].value == v["budget"]["seconds"]
        # one row for the ranking, one per experiment, one per strategy not run
        assert len(table.rows) == 1 + len(v["experiments"]) + 1
        phrases = [r[1] for r in table.rows if hasattr(r[1], "params")]
        assert any(p.params.get("px") and p.params["px"].value == 260 for p in phrases)
        assert any(p.params.get("needed") and p.params["needed"].value == 95.0 for p in phrases)
    html = render_html(build_report_model(result, "en"), options=ReportOptions())
    assert t("report.ev.bought_title", "en") in html and 'data-value="260"' in html
