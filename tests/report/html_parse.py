"""Read back what a rendered report shows: its numbers with their sources, its links."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Shown:
    attrs: dict[str, str]
    text: str = ""


@dataclass
class ReportPage(HTMLParser):
    """Collects number spans, text outside them, every tag's attributes, per section."""

    numbers: list[Shown] = field(default_factory=list)
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    free_text: list[str] = field(default_factory=list)
    section_text: dict[str, list[str]] = field(default_factory=dict)
    section_numbers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._in_num: Shown | None = None
        self._skip = 0
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag in ("script", "style", "svg"):
            self._skip += 1
        if tag == "section":
            self._section = a.get("id")
            self.section_text.setdefault(self._section, [])
            self.section_numbers.setdefault(self._section, 0)
        if tag == "span" and "num" in a.get("class", "").split():
            self._in_num = Shown(a)
            if self._section:
                self.section_numbers[self._section] += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg"):
            self._skip -= 1
        if tag == "span" and self._in_num is not None:
            self.numbers.append(self._in_num)
            self._in_num = None
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._skip:
            return
        if self._in_num is not None:
            self._in_num.text += data
            return
        self.free_text.append(data)
        if self._section:
            self.section_text[self._section].append(data)


def parse(html: str) -> ReportPage:
    page = ReportPage()
    page.feed(html)
    page.close()
    return page
