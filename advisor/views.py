"""Display-ready views of the knowledge base and of a recommendation.

The Knowledge page draws :func:`catalog`; the Advice page and the report draw
:func:`present`. Both turn the immutable knowledge and the stored recommendation into
plain strings and lists in one language; nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from advisor import rules as rule_engine
from advisor.knowledge_base import (
    KnowledgeBase,
    Rule,
    Term,
    Text,
    _check_language,
    knowledge_base,
)
from advisor.korean import resolve_particles
from advisor.recommendation import Recommendation

# Item lists of a recommendation, in the order the views show them.
TEXT_FIELDS: tuple[str, ...] = (
    "diagnosis",
    "strategy_notes",
    "data_strategy",
    "red_flags",
    "risks",
    "questions",
    "assumptions",
)


# --- the knowledge catalogue --------------------------------------------------------


def _matches(query: str, *texts: str) -> bool:
    needle = query.strip().lower()
    return not needle or any(needle in t.lower() for t in texts)


def rule_row(kb: KnowledgeBase, rule: Rule, language: str) -> dict[str, Any]:
    """Return one rule as plain, display-ready data in one language.

    Args:
        kb: The knowledge base.
        rule: The rule.
        language: "en" or "ko".

    Returns:
        A dict of strings and lists of strings.

    """
    words = kb.vocabulary(language)

    def template(text: Text) -> str:
        # Placeholders show which fact fills them: «distinct images».
        shown = rule_engine.render_text(
            text.get(language),
            {},
            lambda _fact, value: str(value),
            missing=lambda name: f"«{words.fact_label(name)}»",
        )
        return resolve_particles(shown) if language == "ko" else shown

    recommends = []
    if rule.then.architecture:
        task = kb.tasks[rule.then.architecture]
        recommends.append(f"{kb.label('architecture', language)}: {task.name.get(language)}")
    recommends += [template(text) for text in rule.then.texts.values()]
    if rule.then.finding:
        recommends.append(template(rule.then.finding.text))
    for name, value in rule.then.derives.items():
        shown = (
            words.fact_label(value["from_fact"])
            if isinstance(value, Mapping)
            else kb.format_value(name, value, language)
        )
        recommends.append(f"{words.fact_label(name)} → {shown}")

    def example(facts: Mapping[str, Any]) -> str:
        if not facts:
            return kb.label("no_facts", language)
        return "; ".join(
            f"{words.fact_label(k)} = {kb.format_value(k, v, language)}" for k, v in facts.items()
        )

    return {
        "id": rule.id,
        "slug": rule.slug,
        "topic": rule.topic,
        "topic_label": kb.topics[rule.topic].get(language),
        "title": rule.title.get(language),
        "when": rule_engine.describe(rule.when, words),
        "recommends": recommends,
        "why": rule.why.get(language),
        "limits": rule.limits.get(language),
        "confidence": rule.confidence,
        "confidence_label": kb.label(rule.confidence, language),
        "sources": [kb.cite(s, language) for s in rule.sources],
        "terms": [kb.terms[t].name.get(language) for t in rule.terms],
        "must_fire": [example(f) for f in rule.must_fire],
        "must_not_fire": [example(f) for f in rule.must_not_fire],
    }


def catalog(language: str = "en", topic: str | None = None, query: str = "") -> dict[str, Any]:
    """Return every rule, task, strategy, case, term and source as display-ready rows.

    This is what the Knowledge page draws; nothing there is written by hand.

    Args:
        language: "en" or "ko".
        topic: Only rules of this topic (None for all).
        query: Only rules, cases and terms whose text contains this (case-insensitive).

    Returns:
        A dict with "labels", "topics", "rules", "tasks", "strategies", "cases",
        "glossary", "seeds", "papers" and "counts", all plain data.

    Raises:
        ValueError: For an unknown language or topic.

    """
    _check_language(language)
    kb = knowledge_base()
    if topic is not None and topic not in kb.topics:
        raise ValueError(f"Unknown topic {topic!r}: use one of {', '.join(kb.topics)}.")
    lang = language
    rows = [rule_row(kb, r, lang) for r in sorted(kb.rules, key=lambda r: r.id)]
    shown = [
        row
        for row in rows
        if (topic is None or row["topic"] == topic)
        and _matches(query, row["id"], row["slug"], row["title"], row["why"], *row["recommends"])
    ]
    cited: dict[str, list[str]] = {}
    for rule in sorted(kb.rules, key=lambda r: r.id):
        for key in dict.fromkeys(s.key for s in rule.sources):
            cited.setdefault(key, []).append(rule.id)

    def names(ids: Iterable[str], table: Mapping[str, Term]) -> str:
        return ", ".join(table[i].name.get(lang) for i in ids)

    tasks = [
        {
            "id": t.id,
            "name": t.name.get(lang),
            "framing": cast("Mapping[str, Text]", kb.facts["task_framing"].values)[t.framing].get(
                lang
            ),
            "shape": kb.shapes[t.shape].get(lang),
            "architecture": t.architecture.get(lang),
            "label_format": t.label_format.get(lang),
            "labeling_effort": kb.label(t.labeling_effort, lang),
            "losses": names(t.losses, kb.losses),
            "metrics": names(t.metrics, kb.metrics),
            "backbones": {d: ", ".join(b) for d, b in t.backbones.items()},
            "modality": t.modality,
            "pretrained_family": t.pretrained_family.get(lang) if t.pretrained_family else "",
            "best_reported": (
                f"{kb.format_value('target_value', t.best_reported['value'], lang)} "
                f"({t.best_reported['benchmark'].get(lang)})"
                if t.best_reported
                else ""
            ),
            "sources": [kb.cite(s, lang) for s in t.sources],
        }
        for t in kb.tasks.values()
    ]
    strategies = [
        {
            "id": s.id,
            "name": s.name.get(lang),
            "summary": s.summary.get(lang),
            "freeze_stages": f"{s.freeze_stages} / {kb.total_stages}",
            "lr_plan": s.lr_plan.get(lang),
            "sources": [kb.cite(x, lang) for x in s.sources],
        }
        for s in kb.strategies.values()
    ]
    if kb.generative is not None:
        g = kb.generative
        strategies.append(
            {
                "id": "generative",
                "name": g.name.get(lang),
                "summary": g.summary.get(lang),
                "freeze_stages": "—",
                "lr_plan": g.lr_plan.get(lang),
                "sources": [kb.cite(x, lang) for x in g.sources],
            }
        )
    cases = [
        {
            "id": c.id,
            "title": c.title.get(lang),
            "goal": c.goal.get(lang),
            "task": kb.tasks[c.task].name.get(lang),
            "data_type": kb.format_value("data_type", c.data_type, lang),
            "tags": ", ".join(kb.tags[t].get(lang) for t in c.tags),
            "ultimately_needed": c.ultimately_needed.get(lang),
            "preprocessing": [p.get(lang) for p in c.preprocessing],
            "client_provides": [p.get(lang) for p in c.client_provides],
            "rules": list(c.rules),
            "sources": [kb.cite(s, lang) for s in c.sources],
        }
        for c in kb.cases
        if _matches(query, c.id, c.title.get(lang), c.goal.get(lang), c.ultimately_needed.get(lang))
    ]
    glossary = [
        # Terms and metrics always carry a definition (only losses go without).
        {"id": t.id, "term": t.name.get(lang), "definition": cast(Text, t.definition).get(lang)}
        for t in (*kb.terms.values(), *kb.metrics.values())
        if _matches(query, t.name.get(lang), cast(Text, t.definition).get(lang))
    ]
    return {
        "language": lang,
        "labels": {k: v.get(lang) for k, v in kb.ui.items()},
        "topics": [
            {"id": k, "label": v.get(lang), "n_rules": sum(1 for r in kb.rules if r.topic == k)}
            for k, v in kb.topics.items()
        ],
        "rules": shown,
        "tasks": tasks,
        "strategies": strategies,
        "cases": cases,
        "glossary": glossary,
        "seeds": [
            {
                "file": s.file,
                "title": s.title.get(lang),
                "author": s.author,
                "covers": s.covers.get(lang),
                "cited_by": cited.get(s.file, []),
            }
            for s in kb.seeds.values()
        ],
        "papers": [
            {
                "id": p.id,
                "citation": f"{p.authors} ({p.year}). {p.title}. {p.venue}.",
                "url": p.url or "",
                "cited_by": cited.get(p.id, []),
            }
            for p in kb.papers.values()
        ],
        "counts": {
            "rules": len(kb.rules),
            "shown": len(shown),
            "tasks": len(kb.tasks),
            "cases": len(kb.cases),
        },
        "version": kb.version,
    }


# --- a recommendation ----------------------------------------------------------------


def present(rec: Recommendation, language: str = "en") -> dict[str, Any]:
    """Return a recommendation as display-ready text in one language.

    This is what the Advice page (and the report) draws: every section carries its
    heading, and every item the rule it came from, that rule's reason and sources.

    Args:
        rec: A recommendation (e.g. from :func:`recommend` or
            ``Recommendation.from_dict`` of a stored result).
        language: "en" or "ko".

    Returns:
        Plain data: "labels", "task", "architecture", "strategy", "verdict", the item
        lists ("diagnosis", "strategy_notes", "data_strategy", "red_flags", "risks",
        "questions", "assumptions"), "evidence", "cases" and "trail".

    Raises:
        ValueError: For an unknown language.

    """
    kb = knowledge_base()
    if language not in ("en", "ko"):
        raise ValueError(f"Unknown language {language!r}: use en or ko.")
    lang = language
    trail = {f.rule_id: f for f in rec.trail}

    def item(entry: Mapping[str, Any]) -> dict[str, Any]:
        firing = trail.get(entry.get("rule_id", ""))
        return {
            "text": entry[lang],
            "rule_id": entry.get("rule_id", ""),
            "why": firing.reason.get(lang, "") if firing else "",
            "sources": [c.get(lang, "") for c in firing.citations] if firing else [],
        }

    architecture = None
    if rec.architecture:
        a = rec.architecture
        architecture = {
            "id": a["id"],
            "rule_id": a.get("rule_id", ""),
            "name": a["name"][lang],
            "shape": a["shape_name"][lang],
            "description": a["description"][lang],
            "label_format": a["label_format"][lang],
            "labeling_effort": kb.label(a["labeling_effort"], lang),
            "losses": [kb.losses[x].name.get(lang) for x in a["losses"]],
            "metrics": [kb.metrics[x].name.get(lang) for x in a["metrics"]],
            "deployment": kb.format_value("deployment", a["deployment"], lang),
            "backbones": list(a["backbones"]),
            "modality": a.get("modality", "image"),
            "pretrained_family": (a.get("pretrained_family") or {}).get(lang, ""),
        }
    prior = rec.prior_strategy_id
    return {
        "language": lang,
        "labels": {k: v.get(lang) for k, v in kb.ui.items()},
        "task": {
            "id": rec.task,
            "name": (
                kb.tasks[rec.task].name.get(lang)
                if rec.task in kb.tasks
                else kb.label("unknown_task", lang)
            ),
        },
        "architecture": architecture,
        "strategy": {
            "id": rec.strategy_id,
            "name": rec.strategy_name.get(lang) or kb.strategies[rec.strategy_id].name.get(lang),
            "summary": (
                kb.generative.summary.get(lang)
                if rec.path == "generative" and kb.generative is not None
                else kb.strategies[rec.strategy_id].summary.get(lang)
            ),
            "freeze_stages": rec.freeze_stages,
            "total_stages": rec.total_stages,
            "path": rec.path,
            "path_label": kb.label("generative_path", lang) if rec.path == "generative" else "",
            "lr_plan": rec.lr_plan.get(lang, ""),
            "prior_id": prior,
            "prior_name": kb.strategies[prior].name.get(lang) if prior else None,
        },
        "verdict": {
            "status": rec.verdict,
            "label": kb.label(rec.verdict or "not_validated", lang),
            "reason": rec.verdict_reason.get(lang, ""),
        },
        **{name: [item(e) for e in getattr(rec, name)] for name in TEXT_FIELDS},
        "evidence": [
            {**item(e), "outcome": e["outcome"], "outcome_label": kb.label(e["outcome"], lang)}
            for e in rec.evidence_findings
        ],
        "cases": [_case_view(kb, m, lang) for m in rec.case_matches],
        "trail": [
            {
                "rule_id": f.rule_id,
                "slug": f.slug,
                "title": f.title.get(lang, f.slug),
                "topic": kb.topics[f.topic].get(lang) if f.topic in kb.topics else f.topic,
                "matched": f.matched.get(lang, ""),
                "why": f.reason.get(lang, ""),
                "confidence": kb.label(f.confidence, lang) if f.confidence else "",
                "sources": [c.get(lang, "") for c in f.citations] or [f.source],
            }
            for f in rec.trail
        ],
    }


def _case_view(kb: KnowledgeBase, match: Mapping[str, Any], lang: str) -> dict[str, Any]:
    case = kb.case(match["id"])
    return {
        "id": case.id,
        "title": case.title.get(lang),
        "score": match["score"],
        "reasons": [r[lang] for r in match["reasons"]],
        "goal": case.goal.get(lang),
        "ultimately_needed": case.ultimately_needed.get(lang),
        "preprocessing": [p.get(lang) for p in case.preprocessing],
        "client_provides": [p.get(lang) for p in case.client_provides],
        "sources": [kb.cite(s, lang) for s in case.sources],
    }
