"""What a consultant shows in a meeting: verdict first, presenter mode, icons, kept budget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_helpers import APP, TIMEOUT, create_engagement, goto, run_until, upload
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
# Emoji and pictograph blocks, the variation selector and the joiner: glyphs that need an
# emoji font (a box where there is none). Material icons (":material/...:") need none.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]")


def charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def validated(app, two_class_zip, fake_pipeline, verdict=None, reason=None) -> AppTest:
    def with_verdict(result):
        result["recommendation"]["verdict"] = verdict
        result["recommendation"]["verdict_reason"] = reason or {}

    fake_pipeline.edit = with_verdict
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    at.button(key="validate_start").click()
    return run_until(at, lambda a: len(charts(a)) >= 4)


def test_no_emoji_in_the_app_sources():
    files = [ROOT / "streamlit_app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
    found = [
        f"{f.name}:{i}: {line.strip()}"
        for f in files
        for i, line in enumerate(f.read_text("utf-8").splitlines(), 1)
        if EMOJI.search(line)
    ]
    assert not found, found
    app = (ROOT / "streamlit_app.py").read_text("utf-8")
    assert app.count("st.Page(") == 8
    common = (ROOT / "app_pages" / "common.py").read_text("utf-8")
    assert len(re.findall(r'"(:material/[a-z_]+:)"', common)) >= 8


@pytest.mark.parametrize(
    ("verdict", "box", "label"),
    [
        ("validated", "success", "**Validated**"),
        ("revised", "error", "**Revised**"),
        ("inconclusive", "warning", "**Inconclusive**"),
    ],
)
def test_the_verdict_leads_the_results_in_its_colour(
    app, two_class_zip, fake_pipeline, verdict, box, label
):
    reason = {
        "en": "The measured accuracy clears the target.",
        "ko": "측정된 정확도가 목표를 넘습니다.",
    }
    at = validated(app, two_class_zip, fake_pipeline, verdict, reason)
    boxes = list(getattr(at, box))
    assert boxes and boxes[0].value.startswith(label), [b.value for b in boxes]
    assert "The measured accuracy clears the target." in boxes[0].value
    assert not any("Not validated yet" in b.value for b in (*at.info, *at.success))
    # The verdict comes right after the results heading, before the numbers.
    names = [type(el).__name__ for el in at.main]
    heading = next(i for i, el in enumerate(at.main) if getattr(el, "type", "") == "subheader")
    assert names[heading + 1] in ("Success", "Warning", "Error"), names[heading : heading + 3]


def test_the_verdict_box_does_not_repeat_its_label(app, two_class_zip, fake_pipeline):
    reason = {
        "en": "Inconclusive: the intervals overlap.",
        "ko": "판단 보류: 구간이 겹쳐 구분할 수 없음.",
    }
    at = validated(app, two_class_zip, fake_pipeline, "inconclusive", reason)
    (box,) = at.warning
    assert box.value.count("Inconclusive") == 1 and "The intervals overlap." in box.value
    at.sidebar.selectbox[0].set_value("ko")
    at.run()
    assert at.warning[0].value.count("판단 보류") == 1 and "구간이 겹쳐" in at.warning[0].value


def test_the_verdict_reason_is_in_the_page_language(app, two_class_zip, fake_pipeline):
    reason = {"en": "The accuracy clears the target.", "ko": "정확도가 목표를 넘습니다."}
    at = validated(app, two_class_zip, fake_pipeline, "validated", reason)
    at.sidebar.selectbox[0].set_value("ko")
    at.run()
    assert at.success[0].value.startswith("**검증됨**")
    assert "정확도가 목표를 넘습니다." in at.success[0].value


def test_not_validated_only_without_a_verdict(app, two_class_zip, fake_pipeline):
    at = validated(app, two_class_zip, fake_pipeline, None)
    assert any(i.value.startswith("**Not validated yet**") for i in at.info)


def test_presenter_mode_hides_rule_ids_and_timings(app, two_class_zip, fake_pipeline):
    at = validated(
        app, two_class_zip, fake_pipeline, "validated", {"en": "Confirmed.", "ko": "확인됨."}
    )
    captions = [c.value for c in at.caption]
    assert any("(EV-" in c for c in captions), captions
    assert "Time used" in [m.label for m in at.metric]
    at.sidebar.toggle(key="presenter_mode").set_value(True)
    at.run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert not any(re.search(r"\b[A-Z]{2,3}-\d{3}\b", c) for c in captions), captions
    assert "Time used" not in [m.label for m in at.metric]
    assert not any(c.value.startswith("Ran on") for c in at.caption)
    assert at.success[0].value.startswith("**Validated**")  # the answer stays
    at.sidebar.toggle(key="presenter_mode").set_value(False)
    at.run()
    assert any("(EV-" in c.value for c in at.caption)


def test_metric_values_are_short_with_the_long_form_in_help(app, two_class_zip, fake_pipeline):
    at = validated(app, two_class_zip, fake_pipeline, "validated", {"en": "ok", "ko": "ok"})
    for metric in at.metric:
        assert len(metric.value) <= 12, (metric.label, metric.value)
    best = next(m for m in at.metric if m.label == "Best accuracy (held-out)")
    assert best.proto.help.startswith("95% interval")
    similarity = next(m for m in at.metric if m.label == "Domain similarity")
    assert similarity.value == "similar" and "Similarity score 0.69" in similarity.proto.help


def test_the_budget_keeps_the_chosen_value_after_a_run(app, two_class_zip, fake_pipeline):
    at = create_engagement(app)
    at = upload(at, two_class_zip)
    at = goto(at, "app_pages/validate.py")
    at.number_input(key="validate_budget").set_value(35)
    fake_pipeline.release.clear()
    at.button(key="validate_start").click()
    at.run()
    assert fake_pipeline.started.wait(10)
    assert not at.number_input  # hidden while the run goes on
    fake_pipeline.release.set()
    at = run_until(at, lambda a: len(charts(a)) >= 4)
    assert fake_pipeline.calls[0]["budget_seconds"] == 35.0
    assert at.number_input(key="validate_budget").value == 35
    at = goto(at, "app_pages/report.py")
    at = goto(at, "app_pages/validate.py")
    assert at.number_input(key="validate_budget").value == 35
    # A browser reload (a new session) takes the budget of the last run.
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.query_params["engagement"] = "1"
    reloaded.run()
    reloaded = goto(reloaded, "app_pages/validate.py")
    assert reloaded.number_input(key="validate_budget").value == 35
