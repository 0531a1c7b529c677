"""Sentences from the engines, in the user's language.

The engines store what happened as a code and its parameters (``{"code", "params"}``,
see :class:`engines.results.Message`) next to an English sentence; the wording lives
in the locale files under ``engine.<code>`` (health findings under
``engine.health.<id>.title|meaning|action``). :func:`render` fills the template of the
chosen language and falls back to the stored English text where a code is unknown
(an older result.json, or a code added after this version).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from advisor.i18n import check_language, keys, t

PREFIX = "engine."
_FINDING_PARTS = ("title", "meaning", "action")


def _as_message(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if hasattr(value, "model_dump"):  # a typed Message from engines.results
        value = value.model_dump()
    if isinstance(value, Mapping) and isinstance(value.get("code"), str):
        return value
    return None


def _param(name: str, value: Any, language: str) -> Any:
    nested = _as_message(value)
    if nested is not None:
        return render(nested["code"], nested.get("params"), language)
    if value is None:
        return ""
    if isinstance(value, list):  # several nested messages: one sentence each
        return "; ".join(str(_param(name, v, language)) for v in value)
    if name == "strategy" and isinstance(value, str) and f"strategy.{value}" in keys(language):
        return t(f"strategy.{value}", language)
    return value


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template fills (format specs left out)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def known(code: str, language: str = "en") -> bool:
    """Whether the locale files hold a sentence for ``code``."""
    return PREFIX + code in keys(check_language(language))


def render(
    code: str, params: Mapping[str, Any] | None, language: str, fallback: str | None = None
) -> str:
    """The sentence for an engine code, in ``language``.

    Args:
        code: The stable code the engine stored (locale key ``engine.<code>``).
        params: Its parameters; nested ``{"code", "params"}`` values are rendered in
            the same language, None becomes an empty string, a ``strategy`` id its name.
        language: "ko" or "en".
        fallback: The English text stored beside the code, used when the code is
            unknown or its parameters do not fit the template.

    Returns:
        The sentence; the fallback (or the code itself) when it cannot be rendered.

    """
    check_language(language)
    if not known(code, language):
        return fallback if fallback is not None else code
    values = {k: _param(k, v, language) for k, v in (params or {}).items()}
    try:
        return t(PREFIX + code, language, **values)
    except (KeyError, ValueError, IndexError, TypeError):
        return fallback if fallback is not None else code


def render_message(message: Any, language: str, fallback: str | None = None) -> str:
    """Render a stored ``{"code", "params"}`` (or a typed Message); else the fallback."""
    found = _as_message(message)
    if found is None:
        return fallback or ""
    return render(found["code"], found.get("params"), language, fallback)


def render_messages(
    messages: Sequence[Any] | None, texts: Sequence[str] | None, language: str
) -> list[str]:
    """Render a list of coded sentences stored beside their English texts.

    The codes are used only when there is one per text (a result written before the
    codes existed has none); otherwise the English texts are returned as stored.
    """
    texts = [str(x) for x in (texts or [])]
    messages = list(messages or [])
    if len(messages) != len(texts):
        return texts if texts else [render_message(m, language) for m in messages]
    return [render_message(m, language, fallback=x) for m, x in zip(messages, texts, strict=True)]


def finding_text(finding: Mapping[str, Any], part: str, language: str) -> str:
    """A health finding's title, meaning or action in ``language``.

    Uses ``engine.health.<id>.<part>`` with the finding's ``params``; a finding without
    params (an older result) keeps its stored text (``{"en", "ko"}`` or a string).
    """
    if part not in _FINDING_PARTS:
        raise ValueError(f"Unknown finding part {part!r}: use one of {_FINDING_PARTS}.")
    stored = finding.get(part)
    if isinstance(stored, Mapping):
        fallback = str(stored.get(language) or stored.get("en") or "")
    else:
        fallback = "" if stored is None else str(stored)
    params = finding.get("params")
    if not isinstance(params, Mapping) or not finding.get("id"):
        return fallback
    return render(f"health.{finding['id']}.{part}", params, language, fallback)
