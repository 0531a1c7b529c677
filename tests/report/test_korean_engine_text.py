"""The Korean report shows no English sentence from the engines (issue: Korean everywhere).

The result is the crafted one of the report tests: its metrics, learning curve and
health finding come from the engine functions, with the codes they write; a skipped
fine-tune, a similarity note and a run warning are added with their codes. Every coded
sentence must appear in Korean and never in its English form.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest

from advisor.messages import finding_text, known, render
from advisor.report import build_report_model, render_html
from engines.results import parse_result
from tests.report.report_helpers import make_result, make_unlabeled_result


def _messages(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"code", "params"}`` in a result document, nested ones included."""
    if isinstance(node, dict):
        if isinstance(node.get("code"), str) and isinstance(node.get("params"), dict):
            yield node
        for value in node.values():
            yield from _messages(value)
    elif isinstance(node, list):
        for value in node:
            yield from _messages(value)


def _english_sentences(result: dict[str, Any]) -> set[str]:
    """The English form of every engine sentence of the result (codes and stored texts)."""
    out: set[str] = set()
    for msg in _messages(result):
        if known(msg["code"]):
            out.add(render(msg["code"], msg["params"], "en"))
    for finding in result["profile"]["health"]["findings"]:
        for part in ("title", "meaning", "action"):
            out.add(finding_text(finding, part, "en"))
            out.add(finding[part]["en"])
    validation = result["validation"]
    out |= set(validation.get("warnings") or [])
    out |= {s["reason"] for s in validation.get("skipped") or []}
    for exp in validation.get("experiments") or []:
        if exp["metrics"].get("warning"):
            out.add(exp["metrics"]["warning"])
    sim = validation.get("similarity") or {}
    out |= {str(sim.get(k)) for k in ("thresholds_note", "reason") if sim.get(k)}
    curve = validation.get("learning_curve") or {}
    out |= {str(curve.get(k)) for k in ("note", "reason") if curve.get(k)}
    out |= set((curve.get("fit") or {}).get("notes") or [])
    # Short words ("box", "mask") and code-like texts are no sentences.
    return {s for s in out if len(s) >= 20}


@pytest.fixture(scope="module")
def coded_result() -> dict[str, Any]:
    result = make_result()
    validation = result["validation"]
    validation["warnings"] = [
        "No other backbone was compared: the time budget was used up "
        "by the first look; give the validation more time."
    ]
    validation["warning_codes"] = [{"code": "no_backbone_comparison_budget", "params": {}}]
    parse_result(result)  # the codes are valid result.json 1.x
    return result


def test_the_crafted_result_carries_the_engine_codes(coded_result):
    codes = {m["code"] for m in _messages(coded_result)}
    # written by classification_metrics and fit_learning_curve themselves
    assert "interval_too_wide" in codes
    assert {
        "finetune_skipped_budget",
        "curve_linear_probe_floor",
        "similarity_uncalibrated",
    } <= codes
    assert all(known(code) for code in codes)


@pytest.mark.parametrize(
    "make",
    [lambda: None, lambda: make_unlabeled_result("unlabeled")],
    ids=["classification", "unlabeled"],
)
def test_korean_report_has_no_english_engine_sentence(coded_result, make):
    result = make() or coded_result
    page = html.unescape(render_html(build_report_model(result, "ko")))
    english = _english_sentences(result)
    assert english
    leaked = sorted(s for s in english if s in page)
    assert not leaked, f"English engine sentences in the Korean report: {leaked}"


def test_korean_report_shows_the_engine_sentences_in_korean(coded_result):
    page = html.unescape(render_html(build_report_model(coded_result, "ko")))
    validation = coded_result["validation"]
    skip = validation["skipped"][0]
    shown = [
        render(skip["reason_code"]["code"], skip["reason_code"]["params"], "ko"),
        render("curve_linear_probe_floor", {}, "ko"),
        render(
            "similarity_uncalibrated",
            validation["similarity"]["thresholds_note_code"]["params"],
            "ko",
        ),
        render("signal_msp_median", {}, "ko"),
        finding_text(coded_result["profile"]["health"]["findings"][0], "meaning", "ko"),
    ]
    exp = next(e for e in validation["experiments"] if e["metrics"].get("warning_code"))
    code = exp["metrics"]["warning_code"]
    shown.append(render(code["code"], code["params"], "ko"))
    missing = [s for s in shown if s not in page]
    assert not missing, f"Korean engine sentences missing from the report: {missing}"


def test_english_report_still_shows_the_english(coded_result):
    page = html.unescape(render_html(build_report_model(coded_result, "en")))
    skip = coded_result["validation"]["skipped"][0]
    assert skip["reason"] in page
