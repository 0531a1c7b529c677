"""The knowledge base: schema, unique ids, references, both languages, seed coverage."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from advisor.intake import TASKS, Intake
from advisor.knowledge_base import KnowledgeError, knowledge_base, load_knowledge, thaw
from knowledge import DATA_DIR

ROOT = Path(__file__).resolve().parents[2]
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
REQUIRED_TOPICS = {
    "data_type",
    "data_amount",
    "data_quality",
    "situation",
    "transfer",
    "architecture",
    "domain",
    "deployment",
    "limitation",
    "evidence",
    "intake",
}


def seeds_dir() -> Path | None:
    """The seed decks, beside the repository (``../shared/seeds``) or where told."""
    for candidate in (os.environ.get("FEASIBILITY_SEEDS_DIR"), ROOT.parent / "shared" / "seeds"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def kb():
    return knowledge_base()


def all_texts(kb):
    """Every (where, Text) a client may see."""
    for rule in kb.rules:
        yield f"{rule.id} title", rule.title
        yield f"{rule.id} why", rule.why
        yield f"{rule.id} limits", rule.limits
        for kind, text in rule.then.texts.items():
            yield f"{rule.id} {kind}", text
        if rule.then.finding:
            yield f"{rule.id} finding", rule.then.finding.text
    for task in kb.tasks.values():
        for name in ("name", "architecture", "label_format"):
            yield f"task {task.id} {name}", getattr(task, name)
    for case in kb.cases:
        for name in ("title", "goal", "ultimately_needed"):
            yield f"case {case.id} {name}", getattr(case, name)
        for i, text in enumerate((*case.preprocessing, *case.client_provides)):
            yield f"case {case.id} step {i}", text
    for s in kb.strategies.values():
        for name in ("name", "summary", "lr_plan"):
            yield f"strategy {s.id} {name}", getattr(s, name)
    for term in kb.terms.values():
        yield f"term {term.id}", term.name
        yield f"term {term.id} definition", term.definition
    for key, text in kb.ui.items():
        yield f"ui {key}", text


def test_packaged_knowledge_loads_and_validates(kb):
    assert len(kb.rules) >= 80
    assert len(kb.version) == 12
    assert DATA_DIR.joinpath("schema.yaml").is_file()


def test_rule_ids_and_slugs_are_unique_and_well_formed(kb):
    ids = [r.id for r in kb.rules]
    slugs = [r.slug for r in kb.rules]
    assert len(ids) == len(set(ids))
    assert len(slugs) == len(set(slugs))
    assert all(re.fullmatch(r"[A-Z]{2}-\d{3}", i) for i in ids)


def test_every_rule_has_why_limits_confidence_source_and_examples(kb):
    for rule in kb.rules:
        assert rule.why.en and rule.why.ko and rule.limits.en and rule.limits.ko, rule.id
        assert rule.confidence in {"high", "medium", "low"}, rule.id
        assert rule.sources, rule.id
        assert rule.must_fire and rule.must_not_fire, rule.id


def test_korean_texts_are_korean(kb):
    not_korean = [
        where
        for where, text in all_texts(kb)
        if text is not None
        and not HANGUL.search(text.ko)
        and not where.startswith(("ui ", "term ", "task "))
    ]
    assert not_korean == []


def test_every_topic_the_issue_asks_for_has_rules(kb):
    topics = {r.topic for r in kb.rules}
    assert topics >= REQUIRED_TOPICS
    assert set(kb.topics) == REQUIRED_TOPICS


def test_every_seed_deck_is_cited_by_at_least_one_rule(kb):
    cited = {s.seed for r in kb.rules for s in r.sources if s.seed}
    assert set(kb.seeds) == cited
    folder = seeds_dir()
    if folder is not None:
        assert {p.name for p in folder.glob("*.txt")} == set(kb.seeds)


def test_cited_slides_and_quotes_appear_in_the_seed_decks(kb):
    folder = seeds_dir()
    if folder is None:
        pytest.skip("the seed decks are not beside this checkout")
    decks = {name: squash((folder / name).read_text("utf-8")) for name in kb.seeds}
    sources = [(r.id, s) for r in kb.rules for s in r.sources]
    sources += [(f"task {t.id}", s) for t in kb.tasks.values() for s in t.sources]
    sources += [(f"case {c.id}", s) for c in kb.cases for s in c.sources]
    sources += [(f"strategy {x.id}", s) for x in kb.strategies.values() for s in x.sources]
    sources += [(f"constant {c.name}", c.source) for c in kb.constants.values()]
    missing = [
        (where, s.seed, text)
        for where, s in sources
        if s.seed
        for text in (s.slide, s.quote)
        if text and squash(text) not in decks[s.seed]
    ]
    assert missing == []


def test_every_paper_is_cited_and_methods_have_their_papers(kb):
    cited = {s.paper for r in kb.rules for s in r.sources if s.paper}
    cited |= {s.paper for t in kb.tasks.values() for s in t.sources if s.paper}
    cited |= {s.paper for c in kb.cases for s in c.sources if s.paper}
    cited |= {s.paper for x in kb.strategies.values() for s in x.sources if s.paper}
    assert set(kb.papers) == cited
    for paper in (
        "yosinski2014transferable",
        "ganin2016dann",
        "bousmalis2016dsn",
        "howard2018ulmfit",
    ):
        assert paper in kb.papers


def test_task_catalogue_covers_every_intake_task(kb):
    assert set(kb.tasks) == set(TASKS)
    for task in kb.tasks.values():
        assert set(task.backbones) == {"server_gpu", "cpu", "mobile"}
        assert task.losses and task.metrics


def test_every_case_example_is_a_valid_intake(kb):
    intake_fields = {f.name for f in fields(Intake)}
    for case in kb.cases:
        example = thaw(case.example)
        assert set(example["intake"]) <= intake_fields, case.id
        Intake(**example["intake"])


def test_facts_match_what_the_advisor_derives(kb):
    from advisor.evidence import Evidence, SkippedStrategy, StrategyResult
    from advisor.facts import derive_evidence_facts, derive_facts
    from engines.profile import DatasetProfile

    profile = DatasetProfile(
        n_images=100,
        n_classes=2,
        class_counts={"a": 60, "b": 40},
        health={"near_duplicate_fraction": 0.1, "label_issue_fraction": 0.05},
    )
    intake = Intake(
        task="classification",
        data_type="paired",
        claimed_n_images=500,
        target_value=0.9,
        can_relabel=True,
        deployment_domain_differs=False,
        min_object_px=40,
        goal="x",
        domain_similarity="similar",
    )
    evidence = Evidence(
        measured_similarity="different",
        similarity_score=0.3,
        strategies=[StrategyResult("linear_probe", "b", 0.8, 0.75, 0.85, 1.0)],
        predicted_accuracy_10x=0.9,
        images_for_target=900,
        skipped=[SkippedStrategy("full_finetune", 120.0)],
    )
    profile.image_stats = {"formats": {"JPEG": 60, "PNG": 40}, "bit_depths": {"8": 100}}
    derived = set(derive_facts(intake, profile, evidence, kb=kb))
    derived |= set(derive_evidence_facts(evidence, "linear_probe"))
    # The best figure the decks cite exists for some tasks only (face recognition).
    derived |= set(derive_facts(Intake(task="similarity"), profile, kb=kb))
    declared = {n for n, f in kb.facts.items() if f.origin != "rule"}
    assert derived == declared


# --- the validator rejects broken knowledge ------------------------------------------


@pytest.fixture()
def broken_copy(tmp_path):
    """A writable copy of the knowledge files and a helper to edit one of them."""
    root = tmp_path / "knowledge"
    shutil.copytree(Path(str(DATA_DIR)), root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    def edit(name: str, change) -> Path:
        path = root / name
        data = yaml.load(path.read_text("utf-8"), Loader=LOADER)
        change(data)
        path.write_text(
            yaml.dump(data, Dumper=DUMPER, allow_unicode=True, sort_keys=False), "utf-8"
        )
        return root

    return edit


def test_a_copy_of_the_knowledge_loads(broken_copy):
    root = broken_copy("glossary.yaml", lambda d: None)
    assert len(load_knowledge(root).rules) == len(knowledge_base().rules)


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("rules/data.yaml", lambda d: d["rules"][0]["why"].pop("ko"), "'ko' is a required"),
        (
            "rules/data.yaml",
            lambda d: d["rules"][1].update(id=d["rules"][0]["id"]),
            "duplicate rule id",
        ),
        ("rules/data.yaml", lambda d: d["rules"][1]["when"].update(op="=~"), "(top)|when"),
        (
            "rules/data.yaml",
            lambda d: d["rules"][1]["when"].update(value="pairs"),
            "'pairs' is not a value of data_type",
        ),
        (
            "rules/data.yaml",
            lambda d: d["rules"][1]["when"].update(fact="colour"),
            "unknown fact 'colour'",
        ),
        (
            "rules/data.yaml",
            lambda d: d["rules"][0]["sources"].append({"paper": "nobody2099"}),
            "unknown paper 'nobody2099'",
        ),
        (
            "rules/data.yaml",
            lambda d: d["rules"][0]["examples"].update(must_not_fire=[]),
            "should be non-empty",
        ),
        (
            "rules/data.yaml",
            lambda d: d["rules"][0]["then"]["diagnosis"].update(en="Paired: {nonsense}"),
            "placeholder {nonsense}",
        ),
        (
            "rules/data.yaml",
            lambda d: d["rules"][5]["then"].update(set={"n_images": 3}),
            "sets 'n_images', which comes from derived",
        ),
        (
            "rules/transfer.yaml",
            lambda d: d["rules"][2]["when"]["all"][0].update(
                fact="strategy_2x2", value="linear_probe"
            ),
            "reads a fact it derives",
        ),
        (
            "rules/data.yaml",
            lambda d: d["rules"][5].update(
                when={"fact": "quadrant", "op": "==", "value": "large_similar"}
            ),
            "cycle",
        ),
        ("cases.yaml", lambda d: d["cases"][0].update(task="juggling"), "unknown task"),
        ("tasks.yaml", lambda d: d["tasks"][0]["metrics"].append("vibes"), "unknown metric"),
    ],
)
def test_broken_knowledge_is_refused_with_a_clear_message(broken_copy, file, change, message):
    root = broken_copy(file, change)
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge(root)


def test_unknown_directory_reports_missing_files(tmp_path):
    with pytest.raises(KnowledgeError, match="facts.yaml: file is missing"):
        load_knowledge(tmp_path)
