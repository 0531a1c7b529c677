"""User-facing text in Korean and English, kept in one file per language.

Keys are dotted names (``report.title``); both files must hold the same keys (a test
checks it). Client-provided strings are never put into these texts unescaped: callers
pass them as format arguments and the renderers escape them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from advisor.korean import resolve_particles

LANGUAGES = ("ko", "en")


@lru_cache(maxsize=len(LANGUAGES))
def _catalog(language: str) -> dict[str, str]:
    text = resources.files("advisor").joinpath("locales", f"{language}.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = str(node)

    walk("", data)
    return flat


def keys(language: str) -> set[str]:
    """All text keys defined for a language."""
    return set(_catalog(check_language(language)))


def check_language(language: str) -> str:
    """Return the language if supported, else raise a clear ValueError."""
    if language not in LANGUAGES:
        raise ValueError(f"Unsupported language {language!r}: use 'ko' or 'en'.")
    return language


def t(key: str, language: str = "en", **kwargs: Any) -> str:
    """Translate a key, formatting it with keyword arguments.

    Args:
        key: Dotted text key.
        language: "ko" or "en".
        **kwargs: Values for the ``{placeholders}`` of the text.

    Returns:
        The text (in Korean with its particles fitted to the inserted words); the key
        itself where it is missing (and a test fails).

    """
    text = _catalog(check_language(language)).get(key, key)
    text = text.format(**kwargs) if kwargs else text
    # Korean texts that insert a word write both particle forms ("{target}이(가)");
    # keep the one that fits the word.
    return resolve_particles(text) if language == "ko" else text


def pick(localized: dict[str, str] | str | None, language: str) -> str:
    """Choose one language from a ``{"ko": ..., "en": ...}`` mapping (falls back to en)."""
    if localized is None:
        return ""
    if isinstance(localized, str):
        return localized
    return localized.get(language) or localized.get("en") or next(iter(localized.values()), "")
