"""Samples without labels or with two unlinked collections: what the report can say."""

from __future__ import annotations

from advisor.i18n import t
from advisor.report import build_report_model, render_html
from advisor.report.numbers import resolve
from tests.report.html_parse import parse
from tests.report.report_helpers import make_unlabeled_result


def test_unlabeled_sample_reports_groups_and_decides_nothing():
    result = make_unlabeled_result("unlabeled")
    model = build_report_model(result, "en")
    assert model.decision.verdict == "not_measured"
    assert "No labels" in " ".join(map(str, model.decision.reasons))
    assert t("report.decision.cond_label_sample", "en") in model.decision.conditions
    evidence = str(model.section("evidence").blocks)
    assert t("report.ev.clusters", "en") in evidence
    page = parse(render_html(model))
    k = [s for s in page.numbers if s.attrs.get("data-src") == "/validation/clusters/k"]
    assert k and k[0].text == f"{resolve(result, '/validation/clusters/k'):,}"


def test_unpaired_sample_reports_the_gap_and_each_collection():
    result = make_unlabeled_result("unpaired")
    model = build_report_model(result, "ko")
    blocks = model.section("evidence").blocks
    headings = [b.text for b in blocks if b.kind == "heading"]
    assert t("report.ev.domain_gap", "ko") in headings
    titles = [h.params["collection"] for h in headings if hasattr(h, "params")]
    assert titles == ["daylight", "night"]
    html = render_html(model)
    assert "Phrase(" not in html and "daylight" in html
    numbers = {n.source for n in model.numbers()}
    assert {"/validation/domain_gap/pad", "/validation/domain_gap/ci_low"} <= numbers
