"""Every situation and case the decks decide, as a table: answers in, rules and strategy out.

The table is data (``method_scenarios.yaml`` beside this file) and README.md's method
section shows it; :func:`test_readme_shows_the_scenario_table` keeps the two in step.
To refresh the README after editing the table, print it with
``PYTHONPATH=. python tests/unit/test_method_scenarios.py`` and paste it between the markers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.evidence import Evidence
from advisor.intake import Intake
from advisor.knowledge_base import knowledge_base
from advisor.korean import has_marker
from advisor.recommend import recommend
from advisor.recommendation import Recommendation
from engines.profile import DatasetProfile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TABLE = yaml.safe_load((HERE / "method_scenarios.yaml").read_text("utf-8"))["scenarios"]
BEGIN, END = "<!-- scenario-table:begin -->", "<!-- scenario-table:end -->"


def sample(data: dict[str, Any]) -> DatasetProfile:
    """The sample a scenario describes."""
    n, kind = data["n"], data.get("type", "paired")
    classes = data.get("classes", 4)
    counts = {f"c{i}": n // classes for i in range(classes)} if kind == "paired" else {}
    health = {}
    if "duplicate_fraction" in data:
        health["near_duplicate_fraction"] = data["duplicate_fraction"]
    stats: dict[str, Any] = {}
    if "formats" in data:
        stats["formats"] = dict(data["formats"])
    if "bit_depth" in data:
        stats["bit_depths"] = {str(data["bit_depth"]): n}
    return DatasetProfile(
        n_images=n,
        n_classes=len(counts),
        class_counts=counts,
        data_type=kind,
        task_hint=data.get("hint", "classification"),
        health=health,
        image_stats=stats,
    )


def run(scenario: dict[str, Any]) -> Recommendation:
    evidence = Evidence(**scenario["evidence"]) if "evidence" in scenario else None
    return recommend(Intake.from_mapping(scenario["answers"]), sample(scenario["data"]), evidence)


@pytest.mark.parametrize("scenario", TABLE, ids=[s["id"] for s in TABLE])
def test_scenario(scenario):
    rec = run(scenario)
    fired = set(rec.fired_rule_ids)
    assert set(scenario["fires"]) <= fired, f"missing: {set(scenario['fires']) - fired}"
    assert not set(scenario["not_fires"]) & fired, (
        f"fired but must not: {set(scenario['not_fires']) & fired}"
    )
    assert rec.strategy_id == scenario["strategy"]
    assert rec.path == scenario["path"]
    if "freeze" in scenario:
        assert rec.freeze_stages == scenario["freeze"]


def test_the_table_names_only_rules_that_exist():
    ids = {r.id for r in knowledge_base().rules}
    for scenario in TABLE:
        named = set(scenario["fires"]) | set(scenario["not_fires"])
        assert named <= ids, (scenario["id"], named - ids)
    assert len({s["id"] for s in TABLE}) == len(TABLE)


def test_every_deck_situation_and_issue_scenario_is_in_the_table():
    ids = {s["id"] for s in TABLE}
    assert {
        "lots-paired",
        "lots-unpaired",
        "few-paired",
        "few-unpaired",  # the four situations
        "rl-with-paired-data",
        "vsr-800-clips-synthesised",
        "lip-sync",
        "face-to-anime-unpaired",
        "bracket-positioning-3d",
        "target-100-percent",
        "target-beyond-best-reported",
        "messy-labels-no-rule",
        "new-classes-need-data",
    } <= ids


def markdown_table() -> str:
    """The scenario table as Markdown, as README.md shows it."""
    kb = knowledge_base()
    rows = [
        "| Scenario | Answers and sample | Rules that fire | Must not fire | Strategy |",
        "|---|---|---|---|---|",
    ]
    for s in TABLE:
        answers = ", ".join(f"{k}={v}" for k, v in s["answers"].items())
        data = s["data"]
        sample_text = f"{data['n']:,} {data.get('type', 'paired')}"
        strategy = s["strategy"] if s["path"] == "recognition" else "generative path"
        if s["path"] == "recognition":
            strategy = kb.strategies[s["strategy"]].short.en
        rows.append(
            f"| {s['id']} ({s['source']}) | {answers}; {sample_text} | "
            f"{', '.join(s['fires'])} | {', '.join(s['not_fires'])} | {strategy} |"
        )
    return "\n".join(rows)


def test_readme_shows_the_scenario_table():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert BEGIN in readme and END in readme, "README.md lacks the scenario-table markers"
    shown = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == markdown_table(), (
        "README.md's scenario table is stale: print the new one with "
        "`PYTHONPATH=. python tests/unit/test_method_scenarios.py`"
    )


# --- the Korean a consultant signs ----------------------------------------------------

_POLITE_END = re.compile(r"(니다|세요|까요|나요|어요|아요|해요|에요|예요|시겠어요)[.?!]?$")
_RAW_ID = re.compile(r"\b[a-z]+_[a-z_]+\b")


@pytest.mark.parametrize("scenario", TABLE, ids=[s["id"] for s in TABLE])
def test_korean_advice_reads_as_written_by_hand(scenario):
    rec = run(scenario)
    for field in (
        "diagnosis",
        "strategy_notes",
        "data_strategy",
        "red_flags",
        "risks",
        "questions",
        "assumptions",
        "evidence_findings",
    ):
        items = [i["ko"] for i in getattr(rec, field)]
        for text in items:
            assert not has_marker(text), text  # no "(이)라고", "(으)로", "은(는)"
            assert "비쌍" not in text, text
            assert not _RAW_ID.findall(text), text  # no 'target_metric' inside a sentence
        polite = {bool(_POLITE_END.search(t.strip())) for t in items}
        # One politeness level within a list: questions are asked politely, the rest
        # are written in the report's plain noun-ending style.
        if items:
            assert polite == {field == "questions"}, (field, items)


def test_rules_that_cite_no_deck_for_their_content_say_they_are_inference():
    kb = knowledge_base()
    for rule_id in ("TL-002", "SI-005", "TL-010", "EV-010", "DP-005"):
        rule = kb.rule(rule_id)
        assert any(s.key == "inference" for s in rule.sources), rule_id
        cited = [kb.cite(s, "en") for s in rule.sources if s.key == "inference"]
        assert cited and cited[0].startswith("This tool's inference"), cited


def test_the_jaguar_illustration_is_not_a_per_class_threshold():
    kb = knowledge_base()
    assert "images_per_class_for_new_class" not in kb.constants
    rule = kb.rule("LM-004")
    assert "1,000" not in rule.then.texts["risk"].en
    assert "min_class_count_est" not in str(rule.when)


if __name__ == "__main__":  # print the table for README.md
    print(BEGIN)
    print(markdown_table())
    print(END)
