"""The base of every record in result.json, and the measured-number record.

Pydantic v2 models: the same class validates a document on read, serializes it on
write and generates the committed JSON Schema, so the three cannot drift apart.
Unknown fields are kept (``extra="allow"``): schema 1.x only ever adds fields, and a
reader of 1.0 must accept a 1.1 document whole.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """A part of the result document; fields added by later 1.x writers are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, use_enum_values=False)


class MetricEstimate(Record):
    """A measured number with its interval.

    Attributes:
        value: The point estimate.
        ci_low: Lower end of the interval (None when open or not computed).
        ci_high: Upper end of the interval (None when open or not computed).
        method: How the interval was computed ("wilson", "bootstrap"...).

    """

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    method: str | None = None

    def clears(self, other: MetricEstimate) -> bool:
        """Whether this interval lies wholly above ``other``'s (the lower end clears)."""
        if self.ci_low is None or other.ci_high is None:
            return False
        return self.ci_low > other.ci_high


class Message(Record):
    """A sentence for the user, stored as a stable code and its parameters.

    The engines say *what* happened; the wording, in every language, lives in the
    locale files under ``engine.<code>`` and is filled with ``params``. The English
    text stored beside it stays for readers that do not know the code.
    """

    code: str
    params: dict[str, Any] = Field(default_factory=dict)


def message(code: str, **params: Any) -> dict[str, Any]:
    """Return a JSON-ready :class:`Message` (``{"code", "params"}``)."""
    return {"code": code, "params": params}
