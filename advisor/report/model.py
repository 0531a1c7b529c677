"""The report as data: a tree of sections made of typed blocks, in one language.

This is the "structure" stage between the result (the description) and the renderers
(HTML, PDF), in the manner of ydata-profiling. Nothing here is markup: texts are plain
strings (escaped by the renderer), numbers are :class:`~advisor.report.numbers.Num`
with their source, and charts are specs that each renderer draws its own way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar

from advisor.report.numbers import Estimate, Num

Value = Num | Estimate | str


@dataclass
class Phrase:
    """A localized sentence whose ``{placeholders}`` are filled with numbers or texts.

    Attributes:
        template: The sentence in the report's language (from the locale files).
        params: Values of the placeholders.

    """

    template: str
    params: dict[str, Value] = field(default_factory=dict)


Cell = Phrase | Num | Estimate | str | None


@dataclass
class Item:
    """A text of the advice with where it comes from.

    Attributes:
        text: The text (a Phrase when it carries numbers of the run).
        rule_id: The knowledge rule that produced it ("" for the report's own texts).
        why: Why the rule says so.
        sources: Citations of the rule.
        tag: A short label shown before the text (severity, outcome...).
        action: What to do about it, where the source says.

    """

    text: Phrase | str
    rule_id: str = ""
    why: Phrase | str = ""
    sources: list[str] = field(default_factory=list)
    tag: str = ""
    action: str = ""


# ------------------------------------------------------------------------- blocks


@dataclass
class Block:
    """Base of every block; ``kind`` names the template macro that draws it."""

    kind: ClassVar[str] = ""


@dataclass
class Heading(Block):
    """A sub-heading inside a section."""

    kind: ClassVar[str] = "heading"
    text: Phrase | str


@dataclass
class Paragraph(Block):
    """A paragraph; ``style`` is "", "lead", "note" or "warning"."""

    kind: ClassVar[str] = "paragraph"
    text: Phrase | str
    style: str = ""


@dataclass
class ItemList(Block):
    """A list of advice items with their rule, reason and sources."""

    kind: ClassVar[str] = "items"
    items: list[Item]
    show_sources: bool = True


@dataclass
class KeyValues(Block):
    """Label / value rows."""

    kind: ClassVar[str] = "keyvalues"
    rows: Sequence[tuple[str, Cell]]


@dataclass
class Table(Block):
    """A table with a header row."""

    kind: ClassVar[str] = "table"
    columns: list[str]
    rows: Sequence[Sequence[Cell]]
    caption: Phrase | str = ""


@dataclass
class ChartBlock(Block):
    """A chart spec (see :mod:`advisor.report.charts`)."""

    kind: ClassVar[str] = "chart"
    chart: Any
    caption: Phrase | str = ""


@dataclass
class Diagram(Block):
    """A vector drawing made by the report itself (SVG text, already safe)."""

    kind: ClassVar[str] = "diagram"
    svg: str
    caption: str = ""


@dataclass
class Thumbnail:
    """An embedded image: a data URI (None where the file no longer exists)."""

    path: str
    caption: Phrase | str
    data_uri: str | None = None


@dataclass
class Gallery(Block):
    """Images with captions; ``missing`` counts those whose files were not found."""

    kind: ClassVar[str] = "gallery"
    thumbnails: list[Thumbnail]
    missing: int = 0
    note: str = ""


@dataclass
class NotMeasured(Block):
    """What was not measured and why: the report's answer instead of a number."""

    kind: ClassVar[str] = "not_measured"
    what: str
    reason: str = ""


# ---------------------------------------------------------------------- the report


@dataclass
class Section:
    """One numbered section of the report."""

    id: str
    number: int
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        """Whether the section holds anything but 'not measured' notes."""
        return any(not isinstance(b, NotMeasured) for b in self.blocks)


@dataclass
class Decision:
    """The executive answer: go / go with conditions / no-go, and why.

    Attributes:
        verdict: "go", "go_with_conditions", "no_go" or "not_measured".
        label: The verdict in words.
        confidence: "high", "medium", "low", or None where nothing was measured.
        confidence_label: The confidence in words.
        confidence_basis: What the confidence rests on.
        headline: The deciding measurement, or None.
        reasons: The (at most three) reasons that matter most, most important first.
        conditions: What must hold or happen before going ahead.

    """

    verdict: str
    label: str
    confidence: str | None
    confidence_label: str
    confidence_basis: Phrase | str
    headline: Estimate | None
    reasons: list[Phrase | str]
    conditions: list[Phrase | str]


@dataclass
class ClientSummary:
    """The one-page answer for the client, drawn from the same measurements as the report.

    Every figure is a number of the result with its source, or None ("not measured").

    Attributes:
        recommendation: The recommendation in one sentence.
        accuracy: The best model's held-out accuracy with its 95 % interval.
        similarity: The measured similarity call, with its score where measured.
        images_needed: Labeled images needed for the client's target (an interval of
            counts, or a sentence where the curve says "reached" or "not reachable").
        risk: The main risk.
        next_step: The next step.
        labels: Words the one-page template draws around them.

    """

    recommendation: Phrase | str
    accuracy: Estimate | None
    similarity: Phrase | str | None
    images_needed: Phrase | Estimate | str | None
    risk: Phrase | str | None
    next_step: Phrase | str | None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Reference:
    """A work cited by the report (plain citation, optional link)."""

    text: str
    url: str = ""


@dataclass
class ReportModel:
    """Everything the renderers draw, in one language.

    Attributes:
        language: "ko" or "en".
        title: The report's title.
        meta: Label / value rows under the title (sample, date, run).
        decision: The executive answer.
        sections: The numbered sections, in order.
        references: Works cited.
        labels: Localized words the templates need (headings of fixed parts).
        client: The one-page client summary (see :class:`ClientSummary`).

    """

    language: str
    title: str
    meta: list[tuple[str, Cell]]
    decision: Decision
    sections: list[Section]
    references: list[Reference] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    client: ClientSummary | None = None

    def section(self, section_id: str) -> Section:
        """Return a section by id.

        Raises:
            KeyError: If there is no such section.

        """
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(f"No section {section_id!r} in the report.")

    def numbers(self) -> list[Num]:
        """Every number in the report, in reading order."""
        return list(_walk_nums(self))


def _walk_nums(node: Any) -> Iterator[Num]:
    if isinstance(node, Num):
        yield node
    elif isinstance(node, Estimate):
        yield from node.nums()
    elif is_dataclass(node) and not isinstance(node, type):
        for f in fields(node):
            yield from _walk_nums(getattr(node, f.name))
    elif isinstance(node, dict):
        for v in node.values():
            yield from _walk_nums(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _walk_nums(v)
