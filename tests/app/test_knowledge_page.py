"""The Knowledge page: what a consultant sees when browsing rules, tasks and cases."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from advisor.knowledge_base import knowledge_base

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "knowledge.py")


def open_page(language: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["language"] = language
    at.run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_every_rule_and_case_is_listed_with_why_and_source():
    kb = knowledge_base()
    at = open_page("en")
    assert at.title[0].value == ":material/menu_book: Knowledge"
    labels = [e.label for e in at.expander]
    for rule in kb.rules:
        assert any(label.startswith(f"{rule.id} · ") for label in labels), rule.id
    for case in kb.cases:
        assert any(label.startswith(case.title.en) for label in labels), case.id
    text = markdown(at)
    assert "**Why:** The deck's line for 'a lot of data' is 10⁴ (10,000) samples or more." in text
    assert "«전략 선택 4 : 데이터셋 ↓ & 유사도 ↑»" in text
    assert "**When:** distinct images ≥ 10,000 (a lot of data)" in text
    assert "about «distinct images» distinct images" in text


def test_filter_by_topic_and_search():
    at = open_page("en")
    at.selectbox(key="knowledge_topic").set_value("transfer").run()
    rule_labels = [e.label for e in at.expander if e.label[:3] in ("TL-", "DA-", "DT-")]
    assert rule_labels and all(label.startswith("TL-") for label in rule_labels)
    at.text_input(key="knowledge_query").set_value("linear classifier").run()
    rule_labels = [e.label for e in at.expander if e.label[2:3] == "-"]
    assert [label.split(" · ")[0] for label in rule_labels] == ["TL-006"]
    at.text_input(key="knowledge_query").set_value("no such words anywhere").run()
    assert "Nothing matches this filter." in [i.value for i in at.info]


@pytest.mark.parametrize(
    ("language", "title", "tab"), [("ko", "지식 베이스", "규칙"), ("en", "Knowledge", "Rules")]
)
def test_language_follows_the_session(language, title, tab):
    at = open_page(language)
    assert at.title[0].value == f":material/menu_book: {title}"
    assert at.tabs[0].label == tab
    if language == "ko":
        assert "**이유:**" in markdown(at)
        assert "Top Layer의 Linear Classifier 시도" in markdown(at)


def test_strategies_glossary_and_sources_are_tables():
    at = open_page("en")
    frames = [df.value for df in at.dataframe]
    strategies = frames[0]
    assert list(strategies["name"]) == [
        "Fine-tune the whole model",
        "Train the top layers, freeze the rest",
        "Freeze the convolutional base, train the classifier",
        "Fine-tune a pretrained model of the same family",  # the generative path
    ]
    assert any(
        "Domain-Adversarial Training of Neural Networks" in c for c in frames[-1]["citation"]
    )
    seeds = [m.value for m in at.markdown if "`00" in m.value]
    assert len(seeds) == 5
    assert all(re.search(r"cited by: [A-Z]{2}-\d{3}", s) for s in seeds)
