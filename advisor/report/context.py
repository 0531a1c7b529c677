"""What every section builder needs: the result, the language, the options, the texts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from advisor.i18n import pick, t
from advisor.knowledge_base import KnowledgeBase, knowledge_base
from advisor.messages import finding_text, render_message, render_messages
from advisor.recommendation import Recommendation
from advisor.report.access import ResultReader
from advisor.report.model import Phrase, Value
from advisor.report.options import ReportOptions


@dataclass
class BuildContext:
    """The inputs of one report build.

    Attributes:
        reader: Pointer-keeping access to the result.
        language: "ko" or "en".
        options: Costs, rates and rendering choices.

    """

    reader: ResultReader
    language: str
    options: ReportOptions

    @cached_property
    def kb(self) -> KnowledgeBase:
        """The knowledge base (rules, tasks, references) in both languages."""
        return knowledge_base()

    def text(self, key: str, **kwargs: Any) -> str:
        """A report text (``report.<key>`` of the locale files), formatted."""
        return t(f"report.{key}", self.language, **kwargs)

    def phrase(self, key: str, **params: Value) -> Phrase:
        """A report sentence whose placeholders the renderer fills (numbers stay Nums)."""
        return Phrase(t(f"report.{key}", self.language), dict(params))

    def pick(self, localized: Any) -> str:
        """One language of a ``{"en", "ko"}`` mapping (a plain string is returned as is)."""
        return pick(localized, self.language)

    def engine(self, message: Any, fallback: Any = None) -> str:
        """An engine sentence stored as ``{"code", "params"}``, in the report's language.

        ``fallback`` is the English text stored beside the code (used when the code is
        missing or unknown, as in results written before the codes).
        """
        return render_message(message, self.language, None if fallback is None else str(fallback))

    def engine_list(self, messages: Any, texts: Any) -> list[str]:
        """A list of engine sentences (codes beside their English texts)."""
        return render_messages(
            messages if isinstance(messages, list) else None,
            [x for x in texts if isinstance(x, str)] if isinstance(texts, list) else None,
            self.language,
        )

    def finding(self, finding: dict[str, Any], part: str) -> str:
        """A health finding's title, meaning or action in the report's language."""
        return finding_text(finding, part, self.language)

    @cached_property
    def recommendation(self) -> Recommendation | None:
        """The final recommendation of the result, or None where absent or unreadable."""
        data = self.reader.get("/recommendation")
        if not isinstance(data, dict) or "strategy_id" not in data:
            return None
        try:
            return Recommendation.from_dict(data)
        except (TypeError, ValueError):
            return None

    @cached_property
    def presented(self) -> dict[str, Any] | None:
        """The recommendation as display-ready text (``advisor.views.present``)."""
        from advisor.views import present

        rec = self.recommendation
        if rec is None:
            return None
        try:
            return present(rec, self.language)
        except (KeyError, ValueError):
            # A result made with another knowledge version may name a task or rule
            # this one lacks: the report then shows the stored texts only.
            return None
