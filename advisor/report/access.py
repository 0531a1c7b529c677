"""Read a result document, keeping the pointer of everything read.

:class:`ResultReader` always says where it found a value, so the report can cite it.
Absent or null sections read as None: the report then says "not measured", never a
number of its own. Readings with one meaning across the product (the best
experiment, the images needed for a target) come from the typed model
(:mod:`engines.results`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from advisor.report.numbers import Estimate, MissingValue, Num, join, resolve
from engines.results import Validation


def is_number(value: Any) -> bool:
    """Whether a JSON value is a finite number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class ResultReader:
    """Pointer-keeping access to a result document.

    Args:
        result: The parsed result.json.

    Raises:
        TypeError: If the result is not a mapping.

    """

    def __init__(self, result: Mapping[str, Any]) -> None:
        if not isinstance(result, Mapping):
            raise TypeError(
                f"The result must be a parsed result.json (a dict), got {type(result).__name__}."
            )
        self.result = result

    def get(self, ref: str, default: Any = None) -> Any:
        """Return the value at a pointer, or ``default`` where absent or null."""
        try:
            value = resolve(self.result, ref)
        except MissingValue:
            return default
        return default if value is None else value

    def find(self, *refs: str) -> tuple[Any, str | None]:
        """Return ``(value, pointer)`` of the first pointer with a non-null value."""
        for ref in refs:
            value = self.get(ref)
            if value is not None:
                return value, ref
        return None, None

    def section(self, name: str) -> tuple[Any, str | None]:
        """A validation section: ``(value, "/validation/<name>")``, or ``(None, None)``."""
        return self.find(f"/validation/{name}")

    @cached_property
    def validation(self) -> Validation | None:
        """The typed validation section (None when absent or not a valid one)."""
        data = self.get("/validation")
        if not isinstance(data, Mapping):
            return None
        try:
            return Validation.model_validate(dict(data))
        except ValueError:
            return None

    def num(self, ref: str | None, kind: str, unit: str = "") -> Num | None:
        """The number at a pointer as a :class:`Num`, or None where absent or not a number."""
        if ref is None:
            return None
        value = self.get(ref)
        return Num(value, kind, source=ref, unit=unit) if is_number(value) else None

    def estimate(self, ref: str | None, kind: str = "percent") -> Estimate | None:
        """An ``{value, ci_low, ci_high, method}`` record as an :class:`Estimate`."""
        if ref is None:
            return None
        value = self.num(join(ref, "value"), kind)
        if value is None:
            return None
        method = self.get(join(ref, "method"), "")
        return Estimate(
            value,
            self.num(join(ref, "ci_low"), kind),
            self.num(join(ref, "ci_high"), kind),
            str(method),
        )

    def items(self, ref: str | None) -> list[tuple[Any, str]]:
        """The items of a list at a pointer with their pointers ([] where absent)."""
        if ref is None:
            return []
        value = self.get(ref)
        if not isinstance(value, list):
            return []
        return [(item, join(ref, i)) for i, item in enumerate(value)]
