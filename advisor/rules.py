"""The condition language of the knowledge base, and the loop that fires rules.

Conditions are data, never code: a comparison ``{fact, op, value}`` (or ``value_fact``
to compare with another fact, ``value_const`` with a named threshold), combined with
``all``, ``any`` and ``not``. Nothing here evaluates strings as Python.

Semantics worth knowing when writing rules:

* A fact that is missing (absent or ``None``) makes every comparison on it false, so
  ``not`` of such a comparison is true. Use ``exists`` / ``missing`` to test for it.
* ``==`` and ``!=`` compare like with like; a boolean never equals a number.
* ``<``, ``<=``, ``>``, ``>=`` need two numbers.
* ``in`` / ``not_in`` test a scalar fact against a list; ``contains`` tests a list fact
  for a scalar.

Type mistakes raise :class:`ConditionError`: they are bugs in the knowledge, and the
knowledge-base tests run every rule's examples so they surface there first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

COMPARISONS: frozenset[str] = frozenset(
    {"==", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains", "exists", "missing"}
)
UNARY: frozenset[str] = frozenset({"exists", "missing"})
ORDERING: frozenset[str] = frozenset({"<", "<=", ">", ">="})

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class ConditionError(ValueError):
    """A condition is malformed or compares values of the wrong types."""


class RuleConflictError(ValueError):
    """Two rules that fired derive different values for the same fact."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _operand(leaf: Mapping[str, Any], facts: Mapping[str, Any], constants: Mapping[str, Any]):
    """Return the right-hand side of a comparison (None when a compared fact is missing)."""
    if "value_fact" in leaf:
        return facts.get(leaf["value_fact"])
    if "value_const" in leaf:
        name = leaf["value_const"]
        if name not in constants:
            raise ConditionError(f"Unknown constant {name!r} in a condition on {leaf['fact']!r}.")
        return constants[name]
    if "value" in leaf:
        return leaf["value"]
    raise ConditionError(
        f"The condition on {leaf.get('fact')!r} with op {leaf.get('op')!r} has no value, "
        "value_fact or value_const."
    )


def _compare(leaf: Mapping[str, Any], facts: Mapping[str, Any], constants: Mapping[str, Any]):
    name, op = leaf.get("fact"), leaf.get("op")
    if op not in COMPARISONS:
        raise ConditionError(f"Unknown operator {op!r} in a condition on {name!r}.")
    lhs = facts.get(name) if name is not None else None
    if op in UNARY:
        return (lhs is not None) == (op == "exists")
    rhs = _operand(leaf, facts, constants)
    if lhs is None or rhs is None:
        return False
    where = f"fact {name!r} {op}"
    if op in ("in", "not_in"):
        if not isinstance(rhs, list | tuple):
            raise ConditionError(f"{where} needs a list of values, got {rhs!r}.")
        return (lhs in rhs) == (op == "in")
    if op == "contains":
        if not isinstance(lhs, list | tuple):
            raise ConditionError(f"{where} needs a list fact, got {lhs!r}.")
        return rhs in lhs
    if op in ORDERING:
        if not (_is_number(lhs) and _is_number(rhs)):
            raise ConditionError(f"{where} compares non-numbers {lhs!r} and {rhs!r}.")
        return {"<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs, ">=": lhs >= rhs}[op]
    if isinstance(lhs, bool) != isinstance(rhs, bool) or (
        isinstance(lhs, str) != isinstance(rhs, str)
    ):
        raise ConditionError(f"{where} compares {lhs!r} with {rhs!r} of another type.")
    return (lhs == rhs) == (op == "==")


def evaluate(
    condition: Mapping[str, Any],
    facts: Mapping[str, Any],
    constants: Mapping[str, Any] | None = None,
) -> bool:
    """Evaluate a condition against a flat dict of facts.

    Args:
        condition: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a
            comparison ``{"fact": ..., "op": ..., "value" | "value_fact" | "value_const": ...}``.
        facts: Fact name to value; a missing or None value counts as unknown.
        constants: Named thresholds that ``value_const`` refers to.

    Returns:
        Whether the condition holds.

    Raises:
        ConditionError: If the condition is malformed or compares incompatible types.

    """
    constants = constants or {}
    if not isinstance(condition, Mapping):
        raise ConditionError(f"A condition must be a mapping, got {condition!r}.")
    if "all" in condition:
        return all(evaluate(c, facts, constants) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, facts, constants) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], facts, constants)
    if "fact" in condition:
        return _compare(condition, facts, constants)
    raise ConditionError(f"Not a condition: {dict(condition)!r}.")


def _walk(condition: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """Yield every comparison (leaf) of a condition."""
    for key in ("all", "any"):
        if key in condition:
            for child in condition[key]:
                yield from _walk(child)
            return
    if "not" in condition:
        yield from _walk(condition["not"])
    else:
        yield condition


def comparisons(condition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return every comparison of a condition, in reading order."""
    return list(_walk(condition))


def referenced_facts(condition: Mapping[str, Any]) -> frozenset[str]:
    """Return the facts a condition reads (both sides of comparisons)."""
    names: set[str] = set()
    for leaf in _walk(condition):
        names.add(leaf["fact"])
        if "value_fact" in leaf:
            names.add(leaf["value_fact"])
    return frozenset(names)


def referenced_constants(condition: Mapping[str, Any]) -> frozenset[str]:
    """Return the named constants a condition compares with."""
    return frozenset(leaf["value_const"] for leaf in _walk(condition) if "value_const" in leaf)


def placeholders(template: str) -> list[str]:
    """Return the ``{fact}`` names a text template uses, in order."""
    return _PLACEHOLDER.findall(template)


def render_text(
    template: str,
    values: Mapping[str, Any],
    format_value: Callable[[str, Any], str],
    *,
    strict: bool = False,
    missing: Callable[[str], str] | None = None,
) -> str:
    """Fill ``{fact}`` placeholders of a template.

    Args:
        template: Text with ``{fact_name}`` placeholders (no other formatting syntax).
        values: Fact values.
        format_value: Turns (fact name, value) into display text.
        strict: Raise on a missing fact instead of showing a dash.
        missing: Text for a missing fact (default: a dash).

    Returns:
        The filled text.

    Raises:
        KeyError: In strict mode, when a placeholder's fact is missing.

    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        if value is None:
            if strict:
                raise KeyError(f"Placeholder {{{name}}} has no value.")
            return missing(name) if missing else "—"
        return format_value(name, value)

    return _PLACEHOLDER.sub(fill, template)


# --- describing conditions --------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Words to describe conditions in one language.

    Attributes:
        fact_label: Fact name to its label.
        operator_label: Operator (and "and", "or", "not") to its word.
        constant_label: (fact, constant name) to text such as "10,000 (a lot of data)".
        value_label: Formats a literal value of a given fact.

    """

    fact_label: Callable[[str], str]
    operator_label: Callable[[str], str]
    constant_label: Callable[[str, str], str]
    value_label: Callable[[str, Any], str]


def describe(condition: Mapping[str, Any], words: Vocabulary) -> str:
    """Describe a condition in words, e.g. "distinct images ≥ 10,000 (a lot of data)".

    Args:
        condition: A condition as in :func:`evaluate`.
        words: The vocabulary of one language.

    Returns:
        One line of readable text.

    """
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        joiner = f" {words.operator_label('and' if key == 'all' else 'or')} "
        return joiner.join(
            f"({describe(c, words)})" if ("all" in c or "any" in c) else describe(c, words)
            for c in condition[key]
        )
    if "not" in condition:
        return f"{words.operator_label('not')} ({describe(condition['not'], words)})"
    fact, op = condition["fact"], condition["op"]
    label = words.fact_label(fact)
    if op in UNARY:
        return f"{label} {words.operator_label(op)}"
    if "value_fact" in condition:
        rhs = words.fact_label(condition["value_fact"])
    elif "value_const" in condition:
        rhs = words.constant_label(fact, condition["value_const"])
    else:
        value = condition["value"]
        if isinstance(value, list | tuple):
            rhs = ", ".join(words.value_label(fact, v) for v in value)
        else:
            rhs = words.value_label(fact, value)
    return f"{label} {words.operator_label(op)} {rhs}"


# --- firing ------------------------------------------------------------------------


class RuleLike(Protocol):
    """What the firing loop needs from a rule."""

    @property
    def id(self) -> str:
        """The rule's id."""
        ...

    @property
    def when(self) -> Mapping[str, Any]:
        """The rule's condition."""
        ...

    @property
    def derives(self) -> Mapping[str, Any]:
        """Facts the rule sets when it fires (values or ``{"from_fact": name}``)."""
        ...


@dataclass
class Firing:
    """The outcome of running rules over facts.

    Attributes:
        facts: The input facts plus every fact the fired rules derived.
        fired: Ids of the rules that fired, in evaluation order.
        setters: Derived fact name to the id of the rule that set it.

    """

    facts: dict[str, Any]
    fired: list[str] = field(default_factory=list)
    setters: dict[str, str] = field(default_factory=dict)


def fire(
    rules: Sequence[RuleLike],
    facts: Mapping[str, Any],
    constants: Mapping[str, Any] | None = None,
) -> Firing:
    """Run rules once each, in the given (dependency) order, deriving facts as they fire.

    Args:
        rules: Rules sorted so that a rule comes after the rules whose facts it reads
            (see :func:`order_rules`).
        facts: The starting facts; not modified.
        constants: Named thresholds.

    Returns:
        The facts after all rules ran, with the ids of the rules that fired.

    Raises:
        RuleConflictError: If two fired rules derive different values for one fact.
        ConditionError: If a condition is malformed.

    """
    result = Firing(facts=dict(facts))
    for rule in rules:
        if not evaluate(rule.when, result.facts, constants):
            continue
        result.fired.append(rule.id)
        for name, spec in rule.derives.items():
            value = result.facts.get(spec["from_fact"]) if isinstance(spec, Mapping) else spec
            if value is None:
                continue
            if name in result.setters and result.facts.get(name) != value:
                raise RuleConflictError(
                    f"Rules {result.setters[name]} and {rule.id} set {name!r} to "
                    f"{result.facts[name]!r} and {value!r}: their conditions must not overlap."
                )
            result.facts[name] = value
            result.setters.setdefault(name, rule.id)
    return result


def order_rules(
    rules: Sequence[Any],
    reads: Callable[[Any], frozenset[str]],
    writes: Callable[[Any], frozenset[str]],
    name: Callable[[Any], str],
) -> list[Any]:
    """Sort rules so that each comes after the rules that derive the facts it reads.

    The sort is stable: a rule moves only as far as its dependencies require.

    Args:
        rules: Rules in reading order.
        reads: Facts a rule's condition reads.
        writes: Facts a rule derives.
        name: A rule's id, for error messages.

    Returns:
        The rules in evaluation order.

    Raises:
        ConditionError: If derivations form a cycle.

    """
    writers: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        for fact in writes(rule):
            writers.setdefault(fact, []).append(i)
    deps = [
        {j for fact in reads(rule) for j in writers.get(fact, ()) if j != i}
        for i, rule in enumerate(rules)
    ]
    for rule in rules:
        if reads(rule) & writes(rule):
            raise ConditionError(f"Rule {name(rule)} reads a fact it derives.")
    done: set[int] = set()
    ordered: list[Any] = []
    while len(ordered) < len(rules):
        ready = next((i for i in range(len(rules)) if i not in done and deps[i] <= done), None)
        if ready is None:
            stuck = ", ".join(name(rules[i]) for i in range(len(rules)) if i not in done)
            raise ConditionError(f"Rules derive facts in a cycle: {stuck}.")
        done.add(ready)
        ordered.append(rules[ready])
    return ordered
