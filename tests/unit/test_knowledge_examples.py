"""Every rule's examples: facts that must make it fire, and facts that must not."""

from __future__ import annotations

import pytest

from advisor.knowledge_base import knowledge_base
from advisor.rules import evaluate

KB = knowledge_base()
CASES = [
    pytest.param(rule, kind, i, example, id=f"{rule.id}-{rule.slug}-{kind}-{i}")
    for rule in KB.rules
    for kind, examples in (("must_fire", rule.must_fire), ("must_not_fire", rule.must_not_fire))
    for i, example in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "kind", "index", "example"), CASES)
def test_rule_example(rule, kind, index, example):
    fired = evaluate(rule.when, example, KB.constant_values)
    assert fired is (kind == "must_fire"), f"{rule.id} {kind}[{index}]: {dict(example)}"


@pytest.mark.parametrize("rule", KB.rules, ids=lambda r: r.id)
@pytest.mark.parametrize("language", ["en", "ko"])
def test_rule_texts_render_from_their_firing_examples(rule, language):
    """Every placeholder of what a rule says is filled by its must-fire examples."""
    texts = [t.get(language) for t in rule.then.texts.values()]
    if rule.then.finding:
        texts.append(rule.then.finding.text.get(language))
    for example in rule.must_fire:
        for text in texts:
            rendered = KB.render(text, example, language, strict=True)
            assert "{" not in rendered
