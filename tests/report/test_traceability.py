"""Every number the report shows traces to result.json (or to a named report input)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import advisor
import knowledge
from advisor.i18n import _catalog
from advisor.report import ReportOptions, build_report_model, render_html
from advisor.report.numbers import format_value, resolve
from tests.report.html_parse import parse
from tests.report.report_helpers import make_result

# The run the pipeline wrote for the tests, once it is there.
EXAMPLE = Path(__file__).parents[1] / "fixtures" / "result_example.json"
CASES = ["crafted-en", "crafted-ko"] + (["example"] if EXAMPLE.exists() else [])
OPTIONS = ReportOptions(currency="KRW", annotator_hourly_rate=12000.0, gpu_hourly_rate=3500.0)
# A formatted measurement: a decimal number or a percentage.
MEASURE = re.compile(r"\d[\d,]*\.\d+%?|\d[\d,]*%")


def source_value(result, options, ref):
    if ref.startswith("options/"):
        return options.value(ref.removeprefix("options/"))
    return resolve(result, ref)


def known_texts(result) -> str:
    """Everything a number-looking token outside a number span may legitimately come from."""
    parts = [json.dumps(result, ensure_ascii=False)]
    for lang in ("en", "ko"):
        parts += list(_catalog(lang).values())
    for root in (Path(knowledge.__file__).parent, Path(advisor.__file__).parents[1] / "engines"):
        parts += [p.read_text("utf-8") for p in root.rglob("*.yaml")]
        parts += [p.read_text("utf-8") for p in root.rglob("*.py")]
    parts += [
        p.read_text("utf-8") for p in (Path(advisor.__file__).parent / "report").rglob("*.py")
    ]
    return "\n".join(parts)


def test_every_number_in_the_model_has_a_source_that_holds_it():
    result = make_result()
    model = build_report_model(result, "en", OPTIONS)
    numbers = model.numbers()
    assert len(numbers) > 100
    direct = [n for n in numbers if not n.derived]
    derived = [n for n in numbers if n.derived]
    assert direct and derived
    for num in direct:
        assert source_value(result, OPTIONS, num.source) == num.value, num
    for num in derived:
        for ref in num.inputs:
            source_value(result, OPTIONS, ref)  # raises if the input does not exist
    assert any(n.source.startswith("/validation/") for n in direct)


@pytest.mark.parametrize("case", CASES)
def test_every_number_shown_in_the_html_traces_to_the_result(case):
    if case == "example":
        result, language = json.loads(EXAMPLE.read_text("utf-8")), "en"
    else:
        language = case.removeprefix("crafted-")
        result = make_result(language=language)
    html = render_html(build_report_model(result, language, OPTIONS), options=OPTIONS)
    page = parse(html)
    assert len(page.numbers) > (100 if case != "example" else 20)
    for shown in page.numbers:
        a = shown.attrs
        if "data-src" in a:
            value = source_value(result, OPTIONS, a["data-src"])
            assert repr(value) == a["data-value"], a
            unit = OPTIONS.currency if a["data-kind"] == "money" else ""
            assert shown.text == format_value(value, a["data-kind"], unit), a
        else:
            assert a["data-formula"], a
            for ref in json.loads(a["data-inputs"]):
                source_value(result, OPTIONS, ref)
    # A measurement-looking token outside a number span must be quoted text (a rule's
    # sentence stored in the result, a glossary entry), never a figure of the report's own.
    corpus = known_texts(result)
    stray = {tok for text in page.free_text for tok in MEASURE.findall(text) if tok not in corpus}
    assert not stray


def test_the_accuracy_of_each_experiment_appears_with_its_interval(result):
    html = render_html(build_report_model(result, "en"))
    page = parse(html)
    shown = {(s.attrs.get("data-src"), s.text) for s in page.numbers}
    for i, exp in enumerate(result["validation"]["experiments"]):
        for key in ("value", "ci_low", "ci_high"):
            ref = f"/validation/experiments/{i}/metrics/accuracy/{key}"
            value = exp["metrics"]["accuracy"][key]
            assert (ref, f"{100 * value:.1f}%") in shown
