"""The condition language: operators, missing facts, types, ordering and firing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from advisor.rules import (
    ConditionError,
    RuleConflictError,
    Vocabulary,
    describe,
    evaluate,
    fire,
    order_rules,
    placeholders,
    referenced_constants,
    referenced_facts,
    render_text,
)

FACTS = {"n": 1500, "kind": "paired", "tags": ["face", "video"], "ok": True, "ratio": 0.25}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"fact": "n", "op": ">=", "value": 1000}, True),
        ({"fact": "n", "op": "<", "value": 1000}, False),
        ({"fact": "n", "op": "<=", "value": 1500}, True),
        ({"fact": "n", "op": ">", "value": 1500}, False),
        ({"fact": "kind", "op": "==", "value": "paired"}, True),
        ({"fact": "kind", "op": "!=", "value": "paired"}, False),
        ({"fact": "kind", "op": "in", "value": ["unpaired", "paired"]}, True),
        ({"fact": "kind", "op": "not_in", "value": ["unpaired", "paired"]}, False),
        ({"fact": "tags", "op": "contains", "value": "face"}, True),
        ({"fact": "tags", "op": "contains", "value": "medical"}, False),
        ({"fact": "ok", "op": "==", "value": True}, True),
        ({"fact": "n", "op": "exists"}, True),
        ({"fact": "absent", "op": "missing"}, True),
        ({"fact": "n", "op": ">=", "value_const": "few"}, True),
        ({"fact": "ratio", "op": "<", "value_fact": "n"}, True),
        (
            {
                "all": [
                    {"fact": "ok", "op": "==", "value": True},
                    {"fact": "n", "op": ">", "value": 10},
                ]
            },
            True,
        ),
        (
            {
                "any": [
                    {"fact": "ok", "op": "==", "value": False},
                    {"fact": "n", "op": ">", "value": 10},
                ]
            },
            True,
        ),
        ({"not": {"fact": "ok", "op": "==", "value": True}}, False),
    ],
)
def test_operators(condition, expected):
    assert evaluate(condition, FACTS, {"few": 1000}) is expected


@pytest.mark.parametrize("op", ["==", "!=", "<", ">=", "in", "not_in", "contains"])
def test_a_missing_fact_makes_a_comparison_false(op):
    value = ["x"] if op in ("in", "not_in") else 3
    assert evaluate({"fact": "absent", "op": op, "value": value}, FACTS) is False
    assert evaluate({"not": {"fact": "absent", "op": op, "value": value}}, FACTS) is True


def test_a_missing_value_fact_makes_a_comparison_false():
    assert evaluate({"fact": "n", "op": "==", "value_fact": "absent"}, FACTS) is False


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"fact": "kind", "op": ">", "value": 3}, "non-numbers"),
        ({"fact": "ok", "op": "==", "value": 1}, "another type"),
        ({"fact": "n", "op": "==", "value": "1500"}, "another type"),
        ({"fact": "kind", "op": "in", "value": "paired"}, "needs a list"),
        ({"fact": "kind", "op": "contains", "value": "p"}, "needs a list fact"),
        ({"fact": "n", "op": "~=", "value": 3}, "Unknown operator"),
        ({"fact": "n", "op": ">=", "value_const": "nope"}, "Unknown constant"),
        ({"fact": "n", "op": ">="}, "has no value"),
        ({"every": []}, "Not a condition"),
        ("n >= 3", "must be a mapping"),
    ],
)
def test_malformed_conditions_raise_clear_errors(condition, message):
    with pytest.raises(ConditionError, match=message):
        evaluate(condition, FACTS)


def test_strings_are_data_not_code():
    sneaky = {"fact": "kind", "op": "==", "value": "__import__('os').system('false')"}
    assert evaluate(sneaky, FACTS) is False


def test_references_and_placeholders():
    condition = {
        "all": [
            {"fact": "n", "op": ">=", "value_const": "few"},
            {"not": {"fact": "a", "op": "<", "value_fact": "b"}},
        ]
    }
    assert referenced_facts(condition) == {"n", "a", "b"}
    assert referenced_constants(condition) == {"few"}
    assert placeholders("{n} of {kind} ({n})") == ["n", "kind", "n"]


def test_render_text_formats_and_marks_missing_values():
    assert render_text("{n} images", {"n": 1500}, lambda k, v: f"{v:,}") == "1,500 images"
    assert render_text("{n} images", {}, str) == "— images"
    with pytest.raises(KeyError, match="n"):
        render_text("{n} images", {}, str, strict=True)
    assert render_text("{n} images", {}, str, missing=lambda k: f"<{k}>") == "<n> images"


def test_describe_reads_like_a_sentence():
    words = Vocabulary(
        fact_label=lambda f: {"n": "images", "kind": "data type"}[f],
        operator_label=lambda op: {"and": "and", "or": "or", "not": "not"}.get(op, op),
        constant_label=lambda f, c: "1,000 (few)",
        value_label=lambda f, v: str(v),
    )
    condition = {
        "all": [
            {"fact": "n", "op": ">=", "value_const": "few"},
            {
                "any": [
                    {"fact": "kind", "op": "==", "value": "paired"},
                    {"fact": "kind", "op": "in", "value": ["a", "b"]},
                ]
            },
        ]
    }
    assert describe(condition, words) == (
        "images >= 1,000 (few) and (data type == paired or data type in a, b)"
    )


@dataclass
class FakeRule:
    id: str
    when: dict[str, Any]
    derives: dict[str, Any] = field(default_factory=dict)


def test_fire_derives_facts_for_later_rules():
    rules = [
        FakeRule("A", {"fact": "n", "op": ">=", "value": 1000}, {"size": "large"}),
        FakeRule(
            "B", {"fact": "size", "op": "==", "value": "large"}, {"copy": {"from_fact": "kind"}}
        ),
        FakeRule("C", {"fact": "size", "op": "==", "value": "small"}, {"x": 1}),
    ]
    result = fire(rules, FACTS)
    assert result.fired == ["A", "B"]
    assert result.facts["size"] == "large" and result.facts["copy"] == "paired"
    assert result.setters == {"size": "A", "copy": "B"}
    assert "size" not in FACTS


def test_fire_refuses_two_rules_deriving_different_values():
    rules = [
        FakeRule("A", {"fact": "ok", "op": "==", "value": True}, {"size": "large"}),
        FakeRule("B", {"fact": "ok", "op": "==", "value": True}, {"size": "small"}),
    ]
    with pytest.raises(RuleConflictError, match="A and B"):
        fire(rules, FACTS)


def _order(rules):
    return [
        r.id
        for r in order_rules(
            rules,
            reads=lambda r: referenced_facts(r.when),
            writes=lambda r: frozenset(r.derives),
            name=lambda r: r.id,
        )
    ]


def test_order_rules_puts_readers_after_writers_and_is_stable():
    rules = [
        FakeRule("reader", {"fact": "size", "op": "exists"}),
        FakeRule("other", {"fact": "n", "op": "exists"}),
        FakeRule("writer", {"fact": "n", "op": "exists"}, {"size": "large"}),
    ]
    assert _order(rules) == ["other", "writer", "reader"]


def test_order_rules_rejects_cycles():
    rules = [
        FakeRule("A", {"fact": "x", "op": "exists"}, {"y": 1}),
        FakeRule("B", {"fact": "y", "op": "exists"}, {"x": 1}),
    ]
    with pytest.raises(ConditionError, match="cycle: A, B"):
        _order(rules)
    with pytest.raises(ConditionError, match="reads a fact it derives"):
        _order([FakeRule("C", {"fact": "x", "op": "exists"}, {"x": 2})])
