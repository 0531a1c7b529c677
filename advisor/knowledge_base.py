"""Load and validate the knowledge base (the YAML files of :mod:`knowledge`).

Display-ready views of it (the Knowledge page's catalogue) live in :mod:`advisor.views`.

Why JSON Schema (in ``knowledge/schema.yaml``) rather than dataclass or pydantic
validation: the schema is itself data that a reviewer who does not read Python can
open next to the rules; editors validate YAML against it while the rule is written;
and ``jsonschema`` reports every problem with its path (``rules/3/when/all/0/op``).
What a schema cannot express is checked here after it: unique ids, references that
resolve (facts, constants, tasks, cases, terms, seeds, papers), enum values that
exist, placeholders that name facts, and rule derivations without cycles.

Everything returned is immutable (frozen dataclasses, tuples, read-only mappings) and
the default knowledge base is loaded once per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, overload

import jsonschema
import yaml

from advisor import rules as rule_engine
from advisor.korean import resolve_particles
from advisor.recommendation import STRATEGIES
from knowledge import DATA_DIR

LANGUAGES: tuple[str, ...] = ("en", "ko")
TEXT_OUTPUTS: tuple[str, ...] = (
    "diagnosis",
    "strategy_note",
    "data_strategy",
    "red_flag",
    "risk",
    "question",
    "assumption",
)
_FILES: dict[str, str] = {
    "facts.yaml": "facts_file",
    "strategies.yaml": "strategies_file",
    "tasks.yaml": "tasks_file",
    "cases.yaml": "cases_file",
    "glossary.yaml": "glossary_file",
    "references.yaml": "references_file",
}
# Labels the catalog and the advice view look up; the glossary must define them all.
REQUIRED_UI_KEYS: tuple[str, ...] = (
    "knowledge_title",
    "knowledge_caption",
    "tab_rules",
    "tab_tasks",
    "tab_strategies",
    "tab_cases",
    "tab_glossary",
    "tab_references",
    "topic",
    "all_topics",
    "search",
    "n_shown",
    "id",
    "slug",
    "title",
    "confidence",
    "when",
    "recommends",
    "why",
    "limits",
    "source",
    "examples",
    "must_fire",
    "must_not_fire",
    "framing",
    "shape",
    "label_format",
    "losses",
    "metrics",
    "backbones",
    "labeling_effort",
    "goal",
    "ultimately_needed",
    "preprocessing",
    "client_provides",
    "related_rules",
    "freeze_stages",
    "lr_plan",
    "server_gpu",
    "cpu",
    "mobile",
    "high",
    "medium",
    "low",
    "seeds",
    "papers",
    "cited_by",
    "no_match",
    "diagnosis",
    "architecture",
    "strategy",
    "strategy_notes",
    "data_strategy",
    "red_flags",
    "risks",
    "questions",
    "assumptions",
    "evidence",
    "verdict",
    "validated",
    "revised",
    "inconclusive",
    "not_validated",
    "confirmed",
    "overturned",
    "measured",
    "cases",
    "trail",
    "unknown_task",
    "answer_yes",
    "answer_no",
    "no_facts",
    "match_task",
    "match_related_task",
    "match_data_type",
    "match_tags",
    "match_keywords",
    "match_signals",
    "match_deployment",
    "stages_frozen",
    "prior_strategy",
    "task",
    "inference",
    "generative_path",
    "pretrained_family",
    "modality",
    "best_reported",
)


class KnowledgeError(ValueError):
    """The knowledge files are invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  - ".join(problems[:40])
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        super().__init__(f"The knowledge base is invalid:\n  - {shown}{more}")


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"Unknown language {language!r}: use one of {', '.join(LANGUAGES)}.")
    return language


def _freeze(value: Any) -> Any:
    """Return a deeply read-only copy of plain YAML data."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Return a plain, mutable (JSON-ready) copy of frozen knowledge data."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


# --- immutable records ------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text in English and Korean."""

    en: str
    ko: str

    def get(self, language: str) -> str:
        """Return the text in one language ("en" or "ko")."""
        return getattr(self, _check_language(language))

    def as_dict(self) -> dict[str, str]:
        """Return ``{"en": ..., "ko": ...}``."""
        return {"en": self.en, "ko": self.ko}

    @overload
    @classmethod
    def of(cls, data: Mapping[str, str]) -> Text: ...

    @overload
    @classmethod
    def of(cls, data: None) -> None: ...

    @classmethod
    def of(cls, data: Mapping[str, str] | None) -> Text | None:
        """Build from ``{"en", "ko"}`` data, or None."""
        return None if data is None else cls(en=data["en"], ko=data["ko"])


INFERENCE = "inference"
"""The key of a source that is the project's own inference rather than a deck or paper."""


@dataclass(frozen=True)
class Source:
    """Where a piece of knowledge comes from: a seed deck slide, a paper, or an inference.

    An inference is this tool's own reasoning, stated as such (with the reasoning), so
    that a rule never borrows a deck's authority for what the deck does not say.
    """

    seed: str | None = None
    slide: str | None = None
    quote: str | None = None
    paper: str | None = None
    inference: Text | None = None

    @property
    def key(self) -> str:
        """The seed file name, the paper id, or "inference"."""
        if self.inference is not None:
            return INFERENCE
        return self.seed or self.paper or ""


@dataclass(frozen=True)
class Finding:
    """What a piece of evidence did to the advice, and the localized text."""

    outcome: str
    text: Text


@dataclass(frozen=True)
class Outputs:
    """What a rule recommends when it fires."""

    derives: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    architecture: str | None = None
    texts: Mapping[str, Text] = field(default_factory=lambda: MappingProxyType({}))
    finding: Finding | None = None


@dataclass(frozen=True)
class Rule:
    """One rule of the method: when it fires, what it recommends, why, and from where."""

    id: str
    slug: str
    topic: str
    title: Text
    when: Mapping[str, Any]
    then: Outputs
    why: Text
    limits: Text
    confidence: str
    sources: tuple[Source, ...]
    terms: tuple[str, ...]
    must_fire: tuple[Mapping[str, Any], ...]
    must_not_fire: tuple[Mapping[str, Any], ...]
    file: str

    @property
    def derives(self) -> Mapping[str, Any]:
        """Facts this rule sets when it fires."""
        return self.then.derives

    @property
    def reads(self) -> frozenset[str]:
        """Facts this rule's condition reads, and the facts its ``from_fact`` copies."""
        copied = {
            spec["from_fact"] for spec in self.then.derives.values() if isinstance(spec, Mapping)
        }
        return rule_engine.referenced_facts(self.when) | copied

    @property
    def writes(self) -> frozenset[str]:
        """Facts this rule derives."""
        return frozenset(self.then.derives)


@dataclass(frozen=True)
class FactSpec:
    """A declared fact: its type, origin, label and (for enums) its values."""

    name: str
    origin: str
    type: str
    label: Text
    values: Mapping[str, Text] | None


@dataclass(frozen=True)
class Constant:
    """A named threshold with its source."""

    name: str
    value: float
    label: Text
    source: Source
    note: Text | None


@dataclass(frozen=True)
class Strategy:
    """A transfer strategy and what it freezes."""

    id: str
    name: Text
    short: Text
    summary: Text
    freeze_stages: int
    lr_schedule: Mapping[str, Any]
    lr_plan: Text
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Task:
    """A task family: architecture, labels, losses, metrics and backbones."""

    id: str
    name: Text
    framing: str
    shape: str
    needs_decoder: bool
    architecture: Text
    label_format: Text
    label_hints: tuple[str, ...] | None
    labeling_effort: str
    losses: tuple[str, ...]
    metrics: tuple[str, ...]
    backbones: Mapping[str, tuple[str, ...]]
    sources: tuple[Source, ...]
    modality: str = "image"
    pretrained_family: Text | None = None
    best_reported: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class GenerativePath:
    """How generative and image-to-image tasks transfer: no freeze table."""

    name: Text
    summary: Text
    lr_plan: Text
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Case:
    """A case from the decks with what it ultimately needs from the client."""

    id: str
    title: Text
    goal: Text
    task: str
    related_tasks: tuple[str, ...]
    data_type: str
    tags: tuple[str, ...]
    keywords: Mapping[str, tuple[str, ...]]
    signals: tuple[str, ...]
    deployments: tuple[str, ...]
    ultimately_needed: Text
    preprocessing: tuple[Text, ...]
    client_provides: tuple[Text, ...]
    rules: tuple[str, ...]
    sources: tuple[Source, ...]
    example: Mapping[str, Any]


@dataclass(frozen=True)
class Term:
    """A glossary entry (also used for metrics and losses)."""

    id: str
    name: Text
    definition: Text | None


@dataclass(frozen=True)
class Seed:
    """A seed deck."""

    file: str
    title: Text
    author: str
    covers: Text


@dataclass(frozen=True)
class Paper:
    """A paper backing a method."""

    id: str
    authors: str
    year: int
    title: str
    venue: str
    url: str | None


@dataclass(frozen=True)
class KnowledgeBase:
    """The whole knowledge base, validated and read-only.

    ``rules`` are in evaluation order: by topic (in the glossary's order), then as
    written, moved only where a rule must come after the rules whose facts it reads.
    """

    rules: tuple[Rule, ...]
    facts: Mapping[str, FactSpec]
    constants: Mapping[str, Constant]
    operators: Mapping[str, Text]
    strategies: Mapping[str, Strategy]
    total_stages: int
    tasks: Mapping[str, Task]
    shapes: Mapping[str, Text]
    cases: tuple[Case, ...]
    matching: Mapping[str, Any]
    terms: Mapping[str, Term]
    metrics: Mapping[str, Term]
    losses: Mapping[str, Term]
    tags: Mapping[str, Text]
    topics: Mapping[str, Text]
    ui: Mapping[str, Text]
    seeds: Mapping[str, Seed]
    papers: Mapping[str, Paper]
    version: str
    generative: GenerativePath | None = None

    def rule(self, rule_id: str) -> Rule:
        """Return a rule by id.

        Raises:
            KeyError: If no rule has that id.

        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"No rule {rule_id!r} in the knowledge base.")

    def case(self, case_id: str) -> Case:
        """Return a case by id.

        Raises:
            KeyError: If no case has that id.

        """
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(f"No case {case_id!r} in the knowledge base.")

    @property
    def constant_values(self) -> Mapping[str, float]:
        """Constant name to its number, as conditions use them."""
        return MappingProxyType({k: c.value for k, c in self.constants.items()})

    def label(self, key: str, language: str) -> str:
        """Return a UI label of the glossary in one language."""
        return self.ui[key].get(language)

    def cite(self, source: Source, language: str) -> str:
        """Return a one-line citation of a source, e.g. ``003 «Answer»: "..."``."""
        _check_language(language)
        if source.inference is not None:
            return f"{self.label('inference', language)}: {source.inference.get(language)}"
        if source.paper:
            p = self.papers[source.paper]
            return f"{p.authors} ({p.year}). {p.title}. {p.venue}."
        seed = self.seeds[source.key]
        deck = seed.title.get(language)
        quote = f' — "{source.quote}"' if source.quote else ""
        return f"{deck} [{source.seed}], «{source.slide}»{quote}"

    def format_value(self, fact: str, value: Any, language: str) -> str:
        """Format a fact's value for display in one language (percent, labels...)."""
        spec = self.facts.get(fact)
        kind = spec.type if spec else None
        if isinstance(value, bool):
            return self.label("answer_yes" if value else "answer_no", language)
        if kind == "fraction" and isinstance(value, int | float):
            return f"{_number(value * 100)}%"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return _number(value)
        if isinstance(value, list | tuple):
            return ", ".join(self.format_value(fact, v, language) for v in value)
        if spec is not None and spec.values and value in spec.values:
            return spec.values[value].get(language)
        return str(value)

    def vocabulary(self, language: str) -> rule_engine.Vocabulary:
        """Return the words to describe conditions in one language."""

        def constant_label(fact: str, name: str) -> str:
            const = self.constants[name]
            return f"{self.format_value(fact, const.value, language)} ({const.label.get(language)})"

        def fact_label(name: str) -> str:
            return self.facts[name].label.get(language) if name in self.facts else name

        return rule_engine.Vocabulary(
            fact_label=fact_label,
            operator_label=lambda op: self.operators[op].get(language),
            constant_label=constant_label,
            value_label=lambda fact, v: self.format_value(fact, v, language),
        )

    def render(
        self, template: str, facts: Mapping[str, Any], language: str, *, strict: bool = False
    ) -> str:
        """Fill a rule text's ``{fact}`` placeholders with formatted values.

        In Korean, paired particle markers ("은(는)", "(으)로") are then resolved from
        the word before them (:func:`advisor.korean.resolve_particles`).
        """
        text = rule_engine.render_text(
            template, facts, lambda name, v: self.format_value(name, v, language), strict=strict
        )
        return resolve_particles(text) if language == "ko" else text


def _number(value: float) -> str:
    """Format a number with at most one decimal and thousands separators."""
    rounded = round(float(value), 1)
    if rounded == int(rounded):
        return f"{int(rounded):,}"
    return f"{rounded:,.1f}"


# --- loading ------------------------------------------------------------------------


def _as_traversable(root: Traversable | Path | str | None) -> Traversable:
    if root is None:
        return DATA_DIR
    if isinstance(root, str):
        return Path(root)
    return root


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(node: Traversable, name: str, problems: list[str], digest: Any | None = None) -> Any:
    try:
        text = node.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{name}: file is missing.")
        return None
    if digest is not None:
        digest.update(name.encode() + b"\0" + text.encode())
    try:
        return yaml.load(text, Loader=_Loader)  # a safe loader (C or Python)
    except yaml.YAMLError as exc:
        problems.append(f"{name}: not valid YAML ({exc}).")
    return None


def _schema_problems(schema: Mapping[str, Any], kind: str, doc: Any, name: str) -> list[str]:
    wrapper = {
        "$schema": schema["$schema"],
        "$defs": schema["$defs"],
        "$ref": f"#/$defs/{kind}",
    }
    validator = jsonschema.Draft202012Validator(wrapper)
    found = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        best = jsonschema.exceptions.best_match([error])
        path = "/".join(str(p) for p in best.absolute_path) or "(top)"
        found.append(f"{name}: {path}: {best.message}")
    return found


def load_knowledge(root: Traversable | Path | str | None = None) -> KnowledgeBase:
    """Load and validate a knowledge base directory.

    Args:
        root: The directory holding the YAML files (``rules/`` inside it); the packaged
            ``knowledge`` data when None.

    Returns:
        The validated, read-only knowledge base.

    Raises:
        KnowledgeError: Listing every schema violation and broken reference.

    """
    base = _as_traversable(root)
    problems: list[str] = []
    digest = hashlib.sha256()
    schema = _read_yaml(base.joinpath("schema.yaml"), "schema.yaml", problems, digest)
    docs: dict[str, Any] = {}
    for name in _FILES:
        docs[name] = _read_yaml(base.joinpath(name), name, problems, digest)
    rules_dir = base.joinpath("rules")
    rule_docs: dict[str, Any] = {}
    if rules_dir.is_dir():
        for node in sorted(rules_dir.iterdir(), key=lambda n: n.name):
            if node.name.endswith(".yaml"):
                name = f"rules/{node.name}"
                rule_docs[name] = _read_yaml(node, name, problems, digest)
    if not rule_docs:
        problems.append("rules/: no rule files found.")
    if problems:
        raise KnowledgeError(problems)
    for name, kind in _FILES.items():
        problems += _schema_problems(schema, kind, docs[name], name)
    for name, doc in rule_docs.items():
        problems += _schema_problems(schema, "rules_file", doc, name)
    if problems:
        raise KnowledgeError(problems)
    return _build(docs, rule_docs, digest.hexdigest()[:12])


def _source(item: Mapping[str, Any]) -> Source:
    data = dict(item)
    if "inference" in data:
        data["inference"] = Text.of(data["inference"])
    return Source(**data)


def _sources(items: Iterable[Mapping[str, Any]]) -> tuple[Source, ...]:
    return tuple(_source(s) for s in items)


def _index(
    items: Iterable[Any], key: Callable[[Any], str], kind: str, problems: list[str]
) -> dict[str, Any]:
    """Map items by id, reporting ids used twice."""
    found: dict[str, Any] = {}
    for item in items:
        if key(item) in found:
            problems.append(f"duplicate {kind} id {key(item)!r}.")
        found[key(item)] = item
    return found


def _source_problems(
    where: str, sources: Iterable[Source], seeds: Mapping[str, Seed], papers: Mapping[str, Paper]
) -> list[str]:
    found = []
    for s in sources:
        if s.seed and s.seed not in seeds:
            found.append(f"{where}: cites unknown seed {s.seed!r}.")
        if s.paper and s.paper not in papers:
            found.append(f"{where}: cites unknown paper {s.paper!r}.")
    return found


def _task(t: Mapping[str, Any]) -> Task:
    return Task(
        id=t["id"],
        name=Text.of(t["name"]),
        framing=t["framing"],
        shape=t["shape"],
        needs_decoder=t["needs_decoder"],
        architecture=Text.of(t["architecture"]),
        label_format=Text.of(t["label_format"]),
        label_hints=tuple(t["label_hints"]) if "label_hints" in t else None,
        labeling_effort=t["labeling_effort"],
        losses=tuple(t["losses"]),
        metrics=tuple(t["metrics"]),
        backbones=MappingProxyType({k: tuple(v) for k, v in t["backbones"].items()}),
        sources=_sources(t["sources"]),
        modality=t.get("modality", "image"),
        pretrained_family=Text.of(t.get("pretrained_family")),
        best_reported=(
            MappingProxyType(
                {
                    "metric": t["best_reported"]["metric"],
                    "value": t["best_reported"]["value"],
                    "benchmark": Text.of(t["best_reported"]["benchmark"]),
                    "source": _source(t["best_reported"]["source"]),
                }
            )
            if "best_reported" in t
            else None
        ),
    )


def _strategy(s: Mapping[str, Any]) -> Strategy:
    return Strategy(
        s["id"],
        Text.of(s["name"]),
        Text.of(s["short"]),
        Text.of(s["summary"]),
        s["freeze_stages"],
        _freeze(s["lr_schedule"]),
        Text.of(s["lr_plan"]),
        _sources(s["sources"]),
    )


def _fact(f: Mapping[str, Any], catalogues: Mapping[str, Mapping[str, Text]]) -> FactSpec:
    values = (
        {k: Text.of(v) for k, v in f["values"].items()}
        if "values" in f
        else catalogues.get(f.get("values_from", ""))
    )
    return FactSpec(
        f["name"],
        f["origin"],
        f["type"],
        Text.of(f["label"]),
        MappingProxyType(dict(values)) if values else None,
    )


def _build(docs: Mapping[str, Any], rule_docs: Mapping[str, Any], version: str) -> KnowledgeBase:
    """Turn validated YAML into a KnowledgeBase, checking every cross-reference."""
    problems: list[str] = []
    facts_doc, glossary = docs["facts.yaml"], docs["glossary.yaml"]
    refs, tasks_doc = docs["references.yaml"], docs["tasks.yaml"]

    seeds = _index(
        (
            Seed(s["file"], Text.of(s["title"]), s["author"], Text.of(s["covers"]))
            for s in refs["seeds"]
        ),
        lambda x: x.file,
        "seed",
        problems,
    )
    papers = _index(
        (
            Paper(p["id"], p["authors"], p["year"], p["title"], p["venue"], p.get("url"))
            for p in refs["papers"]
        ),
        lambda x: x.id,
        "paper",
        problems,
    )
    terms = _index(
        (Term(t["id"], Text.of(t["term"]), Text.of(t["definition"])) for t in glossary["terms"]),
        lambda x: x.id,
        "term",
        problems,
    )
    metrics = _index(
        (Term(m["id"], Text.of(m["name"]), Text.of(m["definition"])) for m in glossary["metrics"]),
        lambda x: x.id,
        "metric",
        problems,
    )
    losses = _index(
        (Term(m["id"], Text.of(m["name"]), None) for m in glossary["losses"]),
        lambda x: x.id,
        "loss",
        problems,
    )
    tags = {k: Text.of(v) for k, v in glossary["tags"].items()}
    topics = {k: Text.of(v) for k, v in glossary["topics"].items()}
    ui = {k: Text.of(v) for k, v in glossary["ui"].items()}
    shapes = {k: Text.of(v) for k, v in tasks_doc["shapes"].items()}
    tasks = _index((_task(t) for t in tasks_doc["tasks"]), lambda x: x.id, "task", problems)
    strategies = _index(
        (_strategy(s) for s in docs["strategies.yaml"]["strategies"]),
        lambda x: x.id,
        "strategy",
        problems,
    )
    total_stages = docs["strategies.yaml"]["total_stages"]
    gen_doc = docs["strategies.yaml"].get("generative")
    generative = (
        GenerativePath(
            Text.of(gen_doc["name"]),
            Text.of(gen_doc["summary"]),
            Text.of(gen_doc["lr_plan"]),
            _sources(gen_doc["sources"]),
        )
        if gen_doc
        else None
    )
    catalogues = {
        "tasks": {k: t.name for k, t in tasks.items()},
        "strategies": {k: s.short for k, s in strategies.items()},
        "tags": tags,
        "metrics": {k: m.name for k, m in metrics.items()},
        "benchmarks": {
            k: t.best_reported["benchmark"] for k, t in tasks.items() if t.best_reported is not None
        },
    }
    facts = _index(
        (_fact(f, catalogues) for f in facts_doc["facts"]), lambda x: x.name, "fact", problems
    )
    constants = {
        k: Constant(
            k, c["value"], Text.of(c["label"]), _source(c["source"]), Text.of(c.get("note"))
        )
        for k, c in facts_doc["constants"].items()
    }
    operators = {k: Text.of(v) for k, v in facts_doc["operators"].items()}
    rules = [_rule(r, file) for file, doc in rule_docs.items() for r in doc["rules"]]
    cases = _index(
        (_case(c) for c in docs["cases.yaml"]["cases"]), lambda x: x.id, "case", problems
    )

    def sources(where: str, items: Iterable[Source]) -> list[str]:
        return _source_problems(where, items, seeds, papers)

    for task in tasks.values():
        where = f"tasks.yaml: {task.id}"
        if task.shape not in shapes:
            problems.append(f"{where}: unknown shape {task.shape!r}.")
        problems += [f"{where}: unknown loss {x!r}." for x in task.losses if x not in losses]
        problems += [f"{where}: unknown metric {x!r}." for x in task.metrics if x not in metrics]
        problems += sources(where, task.sources)
        if task.best_reported is not None:
            problems += sources(where, [task.best_reported["source"]])
            if task.best_reported["metric"] not in metrics:
                problems.append(f"{where}: unknown metric {task.best_reported['metric']!r}.")
        if task.framing == "one_to_many" and task.pretrained_family is None:
            problems.append(f"{where}: a generative task needs a pretrained_family.")
    if generative is not None:
        problems += sources("strategies.yaml: generative", generative.sources)
    for s in strategies.values():
        if s.freeze_stages > total_stages:
            problems.append(
                f"strategies.yaml: {s.id} freezes {s.freeze_stages} of {total_stages} stages."
            )
        problems += sources(f"strategies.yaml: {s.id}", s.sources)
    if set(strategies) != set(STRATEGIES):
        problems.append(f"strategies.yaml: needs exactly {', '.join(STRATEGIES)}.")
    for c in constants.values():
        problems += sources(f"facts.yaml: constant {c.name}", [c.source])
    problems += [
        f"facts.yaml: operator {op!r} has no label."
        for op in (*rule_engine.COMPARISONS, "and", "or", "not")
        if op not in operators
    ]
    problems += [
        f"glossary.yaml: ui label {k!r} is missing." for k in REQUIRED_UI_KEYS if k not in ui
    ]

    checker = _FactChecker(facts, constants)
    for rule in rules:
        where = f"{rule.file}: {rule.id}"
        problems += checker.rule(where, rule)
        problems += sources(where, rule.sources)
        if rule.topic not in topics:
            problems.append(f"{where}: topic {rule.topic!r} has no label in glossary.yaml.")
        if rule.then.architecture and rule.then.architecture not in tasks:
            problems.append(f"{where}: unknown task {rule.then.architecture!r}.")
        problems += [f"{where}: unknown term {t!r}." for t in rule.terms if t not in terms]
    for key in ("id", "slug"):
        seen: dict[str, str] = {}
        for rule in rules:
            value = getattr(rule, key)
            if value in seen:
                problems.append(
                    f"{rule.file}: duplicate rule {key} {value!r} (also in {seen[value]})."
                )
            seen[value] = rule.file
    rule_ids = {r.id for r in rules}
    for case in cases.values():
        where = f"cases.yaml: {case.id}"
        problems += [
            f"{where}: unknown task {t!r}."
            for t in (case.task, *case.related_tasks)
            if t not in tasks
        ]
        problems += [f"{where}: unknown tag {t!r}." for t in case.tags if t not in tags]
        problems += [f"{where}: unknown rule {r!r}." for r in case.rules if r not in rule_ids]
        problems += sources(where, case.sources)

    if not problems:
        topic_order = list(topics)
        rules.sort(key=lambda r: topic_order.index(r.topic))
        try:
            rules = rule_engine.order_rules(
                rules, lambda r: r.reads, lambda r: r.writes, lambda r: r.id
            )
        except rule_engine.ConditionError as exc:
            problems.append(str(exc))
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        rules=tuple(rules),
        facts=MappingProxyType(facts),
        constants=MappingProxyType(constants),
        operators=MappingProxyType(operators),
        strategies=MappingProxyType(strategies),
        total_stages=total_stages,
        tasks=MappingProxyType(tasks),
        shapes=MappingProxyType(shapes),
        cases=tuple(cases.values()),
        matching=_freeze(docs["cases.yaml"]["matching"]),
        terms=MappingProxyType(terms),
        metrics=MappingProxyType(metrics),
        losses=MappingProxyType(losses),
        tags=MappingProxyType(tags),
        topics=MappingProxyType(topics),
        ui=MappingProxyType(ui),
        seeds=MappingProxyType(seeds),
        papers=MappingProxyType(papers),
        version=version,
        generative=generative,
    )


def _rule(r: Mapping[str, Any], file: str) -> Rule:
    then = r["then"]
    outputs = Outputs(
        derives=_freeze(then.get("set", {})),
        architecture=then.get("architecture"),
        texts=MappingProxyType({k: Text.of(then[k]) for k in TEXT_OUTPUTS if k in then}),
        finding=(
            Finding(then["finding"]["outcome"], Text.of(then["finding"]))
            if "finding" in then
            else None
        ),
    )
    return Rule(
        id=r["id"],
        slug=r["slug"],
        topic=r["topic"],
        title=Text.of(r["title"]),
        when=_freeze(r["when"]),
        then=outputs,
        why=Text.of(r["why"]),
        limits=Text.of(r["limits"]),
        confidence=r["confidence"],
        sources=_sources(r["sources"]),
        terms=tuple(r.get("terms", ())),
        must_fire=_freeze(r["examples"]["must_fire"]),
        must_not_fire=_freeze(r["examples"]["must_not_fire"]),
        file=file,
    )


def _case(c: Mapping[str, Any]) -> Case:
    return Case(
        id=c["id"],
        title=Text.of(c["title"]),
        goal=Text.of(c["goal"]),
        task=c["task"],
        related_tasks=tuple(c.get("related_tasks", ())),
        data_type=c["data_type"],
        tags=tuple(c["tags"]),
        keywords=MappingProxyType({k: tuple(v) for k, v in c["keywords"].items()}),
        signals=tuple(c.get("signals", ())),
        deployments=tuple(c.get("deployments", ())),
        ultimately_needed=Text.of(c["ultimately_needed"]),
        preprocessing=tuple(Text.of(p) for p in c["preprocessing"]),
        client_provides=tuple(Text.of(p) for p in c["client_provides"]),
        rules=tuple(c["rules"]),
        sources=_sources(c["sources"]),
        example=_freeze(c["example"]),
    )


class _FactChecker:
    """Checks that rules speak the declared vocabulary of facts, values and constants."""

    def __init__(self, facts: Mapping[str, FactSpec], constants: Mapping[str, Constant]):
        self.facts = facts
        self.constants = constants

    def value(self, where: str, fact: str, value: Any) -> list[str]:
        spec = self.facts.get(fact)
        if spec is None:
            return [f"{where}: unknown fact {fact!r}."]
        if value is None:
            return []
        if spec.type == "list":
            if not isinstance(value, list | tuple):
                return [f"{where}: {fact} is a list, got {value!r}."]
            return [p for v in value for p in self._scalar(where, spec, v)]
        return self._scalar(where, spec, value)

    def _scalar(self, where: str, spec: FactSpec, value: Any) -> list[str]:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        wrong = {
            "bool": not isinstance(value, bool),
            "int": not (isinstance(value, int) and not isinstance(value, bool)),
            "float": not number,
            "fraction": not (number and 0 <= value <= 1),
            "text": not isinstance(value, str),
            "enum": not isinstance(value, str),
            "list": not isinstance(value, str),
        }[spec.type]
        if wrong:
            return [f"{where}: {spec.name} is {spec.type}, got {value!r}."]
        if spec.values is not None and value not in spec.values:
            return [f"{where}: {value!r} is not a value of {spec.name} ({', '.join(spec.values)})."]
        return []

    def condition(self, where: str, condition: Mapping[str, Any]) -> list[str]:
        found: list[str] = []
        for leaf in rule_engine.comparisons(condition):
            fact, op = leaf["fact"], leaf["op"]
            found += self.value(where, fact, None)
            if "value_fact" in leaf:
                found += self.value(where, leaf["value_fact"], None)
            if "value_const" in leaf and leaf["value_const"] not in self.constants:
                found.append(f"{where}: unknown constant {leaf['value_const']!r}.")
            if "value" in leaf and fact in self.facts:
                values = leaf["value"]
                if op in ("in", "not_in"):
                    if not isinstance(values, tuple):
                        found.append(f"{where}: {op} needs a list of values.")
                        continue
                    for v in values:
                        found += self.value(where, fact, v)
                elif op == "contains":
                    found += self.value(where, fact, [values])
                else:
                    found += self.value(where, fact, values)
        return found

    def rule(self, where: str, rule: Rule) -> list[str]:
        """Everything a rule says in terms of facts: condition, outputs, examples."""
        found = self.condition(where, rule.when) + self.outputs(where, rule)
        for kind, examples in (
            ("must_fire", rule.must_fire),
            ("must_not_fire", rule.must_not_fire),
        ):
            for i, example in enumerate(examples):
                found += self.fact_set(f"{where}: {kind}[{i}]", example)
        for text in (rule.why, rule.limits, rule.title):
            if rule_engine.placeholders(text.en + text.ko):
                found.append(f"{where}: placeholders are only allowed in outputs.")
        return found

    def fact_set(self, where: str, facts: Mapping[str, Any]) -> list[str]:
        return [p for name, value in facts.items() for p in self.value(where, name, value)]

    def outputs(self, where: str, rule: Rule) -> list[str]:
        found: list[str] = []
        for name, value in rule.then.derives.items():
            spec = self.facts.get(name)
            if spec is None:
                found.append(f"{where}: sets unknown fact {name!r}.")
                continue
            if spec.origin != "rule":
                found.append(f"{where}: sets {name!r}, which comes from {spec.origin}.")
            if isinstance(value, Mapping):
                source = self.facts.get(value["from_fact"])
                if source is None:
                    found.append(f"{where}: copies unknown fact {value['from_fact']!r}.")
                elif spec.values is not None and not set(source.values or ()) <= set(spec.values):
                    found.append(f"{where}: {value['from_fact']} has values {name} lacks.")
            else:
                found += self.value(where, name, value)
        texts = list(rule.then.texts.values())
        if rule.then.finding:
            texts.append(rule.then.finding.text)
        for text in texts:
            for name in rule_engine.placeholders(text.en) + rule_engine.placeholders(text.ko):
                if name not in self.facts:
                    found.append(f"{where}: placeholder {{{name}}} is not a fact.")
            if set(rule_engine.placeholders(text.en)) != set(rule_engine.placeholders(text.ko)):
                found.append(f"{where}: en and ko texts use different placeholders.")
        return found


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """Return the packaged knowledge base, loaded and validated once per process."""
    return load_knowledge()
