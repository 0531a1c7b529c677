"""Numbers that know where they come from, and how to show them.

Every number in the report is a :class:`Num`: its value, how to format it, and its
source, a JSON Pointer (RFC 6901) into result.json such as
``/validation/experiments/0/metrics/accuracy/value``. A number computed from others
(labeling hours, costs) names its inputs and the formula instead; an input the
consultant gave the report rather than the run is cited as ``options/<name>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINDS: tuple[str, ...] = (
    "percent",  # a fraction 0..1 shown as 95.2%
    "points",  # a width of fractions shown as percentage points: 10.9 pp
    "delta",  # a signed difference of fractions: +4.8 pp
    "count",  # a whole number: images, classes, epochs
    "float",  # a plain number with up to three significant decimals
    "seconds",
    "ms",
    "hours",
    "bytes",
    "flops",
    "params",
    "money",
    "multiple",  # 2x, 10x
)
OPTIONS_PREFIX = "options/"


@dataclass(frozen=True)
class Num:
    """One number of the report and its provenance.

    Attributes:
        value: The number.
        kind: How to format it, one of :data:`KINDS`.
        source: JSON Pointer into the result (or ``options/<name>``) for a number taken
            as is; empty for a derived number.
        inputs: For a derived number, the pointers of the numbers it is computed from.
        formula: For a derived number, how it is computed, in words.
        unit: A unit shown after the number (the currency for money).

    """

    value: float | int
    kind: str
    source: str = ""
    inputs: tuple[str, ...] = ()
    formula: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown number kind {self.kind!r}: use one of {KINDS}.")
        if bool(self.source) == bool(self.formula):
            raise ValueError("A number needs either a source pointer or a formula, not both.")

    @property
    def derived(self) -> bool:
        """Whether the number is computed from others rather than read."""
        return bool(self.formula)


@dataclass(frozen=True)
class Estimate:
    """A number with its interval (both ends optional: an open or unknown end is None).

    Attributes:
        value: The point estimate.
        low: Lower end of the interval, or None.
        high: Upper end of the interval, or None.
        method: How the interval was computed (e.g. "wilson"), shown in a tooltip.

    """

    value: Num
    low: Num | None = None
    high: Num | None = None
    method: str = ""

    def nums(self) -> list[Num]:
        """The numbers of the estimate that are present."""
        return [n for n in (self.value, self.low, self.high) if n is not None]


# ------------------------------------------------------------------- JSON pointers


def escape_token(token: str | int) -> str:
    """Escape one reference token of a JSON Pointer (``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """Build a JSON Pointer from tokens, escaping each."""
    return "".join("/" + escape_token(t) for t in tokens)


def join(base: str, *tokens: str | int) -> str:
    """Append tokens to an existing pointer."""
    return base + pointer(*tokens)


class MissingValue(LookupError):
    """A pointer does not lead to a value in the document."""


def resolve(document: Any, ref: str) -> Any:
    """Return the value a JSON Pointer designates in a document.

    Args:
        document: Parsed JSON (dicts and lists).
        ref: A JSON Pointer, "" for the whole document.

    Returns:
        The value.

    Raises:
        MissingValue: If a step of the pointer does not exist.

    """
    if ref == "":
        return document
    if not ref.startswith("/"):
        raise MissingValue(f"{ref!r} is not a JSON Pointer (it must start with '/').")
    node = document
    for raw in ref[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            if token not in node:
                raise MissingValue(f"{ref}: no key {token!r}.")
            node = node[token]
        elif isinstance(node, Sequence) and not isinstance(node, str):
            if not token.isdigit() or int(token) >= len(node):
                raise MissingValue(f"{ref}: no item {token!r}.")
            node = node[int(token)]
        else:
            raise MissingValue(f"{ref}: {token!r} is below a plain value.")
    return node


# ---------------------------------------------------------------------- formatting


def _significant(value: float, digits: int = 3) -> str:
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) < 1e-3:
        return f"{value:.{digits}g}"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scaled(value: float, steps: Sequence[tuple[float, str]], unit: str) -> str:
    for factor, prefix in steps:
        if abs(value) >= factor:
            return f"{_significant(value / factor)} {prefix}{unit}"
    return f"{_significant(value)} {unit}".strip()


_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BYTES = ((1024.0**3, "Gi"), (1024.0**2, "Mi"), (1024.0, "Ki"))


def format_value(value: float | int, kind: str, unit: str = "") -> str:
    """Format a number for the report (language-neutral: digits, separators, units).

    Args:
        value: The number.
        kind: One of :data:`KINDS`.
        unit: Extra unit (the currency for money).

    Returns:
        The text, e.g. "95.2%", "1,234", "12.3 s", "4.65 M", "1,250 USD".

    """
    v = float(value)
    if not math.isfinite(v):
        return "∞" if v > 0 else "–"
    if kind == "percent":
        return f"{100 * v:.1f}%"
    if kind == "points":
        return f"{100 * v:.1f} pp"
    if kind == "delta":
        return f"{100 * v:+.1f} pp"
    if kind == "count":
        return f"{round(v):,}"
    if kind == "multiple":
        return f"{_significant(v)}×"
    if kind == "seconds":
        return f"{v:,.1f} s" if abs(v) >= 0.1 or v == 0 else f"{_significant(v)} s"
    if kind == "ms":
        return f"{_significant(v)} ms"
    if kind == "hours":
        return "< 0.01 h" if 0 < abs(v) < 0.01 else f"{_significant(v)} h"
    if kind == "bytes":
        return _scaled(v, _BYTES, "B")
    if kind == "flops":
        return _scaled(v, _SI, "FLOPs")
    if kind == "params":
        return _scaled(v, _SI, "").strip()
    if kind == "money":
        if 0 < abs(v) < 0.005:
            return f"< 0.01 {unit}".strip()
        text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
        return f"{text} {unit}".strip()
    return _significant(v)


def format_num(num: Num) -> str:
    """Format a :class:`Num` with its kind and unit."""
    return format_value(num.value, num.kind, num.unit)


def derive(value: float | int, kind: str, formula: str, *inputs: Num, unit: str = "") -> Num:
    """A number computed from others: it cites the sources of its inputs and the formula.

    Args:
        value: The computed value.
        kind: How to format it.
        formula: How it is computed, in words (e.g. "images × seconds per label / 3600").
        *inputs: The numbers it is computed from (their own sources are cited).
        unit: Unit shown after it.

    Returns:
        The derived :class:`Num`.

    """
    refs: list[str] = []
    for num in inputs:
        refs.extend([num.source] if num.source else num.inputs)
    return Num(value, kind, inputs=tuple(dict.fromkeys(refs)), formula=formula, unit=unit)
