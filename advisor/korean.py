"""Korean particles chosen from the word they follow.

Templates that insert a word (a task name, a number, a data type) cannot know whether
the word ends in a consonant (받침), so they write both forms, as in "{task}은(는)" or
"{value}(으)로". :func:`resolve_particles` replaces each such pair with the one form
that fits the word before it, so no client ever reads "(이)라고".

A word's last sound decides: Hangul by its final consonant; digits and Latin letters
by how they are read aloud in Korean (3 "삼" ends in ㅁ, "L" "엘" in ㄹ, "%" reads
"퍼센트"). A parenthesised gloss after a word is skipped, following the rule that a
particle agrees with the word before the parenthesis ("Paired Data (쌍 데이터)는").
"""

from __future__ import annotations

import re

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # index of ㄹ among the final consonants

# Final consonant of each digit as read in Sino-Korean: 0 영, 1 일, 2 이, 3 삼, 4 사,
# 5 오, 6 육, 7 칠, 8 팔, 9 구 (None: no final consonant; "l": ㄹ).
_DIGIT_FINAL: dict[str, str | None] = {
    "0": "ng",
    "1": "l",
    "2": None,
    "3": "m",
    "4": None,
    "5": None,
    "6": "k",
    "7": "l",
    "8": "l",
    "9": None,
}
# Latin letters read as letter names (acronyms): L 엘, M 엠, N 엔, R 알 end in a
# consonant; the others (에이, 비, 씨, 디, ...) do not.
_LETTER_FINAL: dict[str, str | None] = {"l": "l", "m": "m", "n": "n", "r": "l"}
# Other trailing symbols as read aloud.
_SYMBOL_FINAL: dict[str, str | None] = {"%": None, "×": None, "°": None}
# Endings of ordinary English words as Koreans say them ("model" 모델, "data" 데이터,
# "image" 이미지, "net" 넷, "search" 서치).
_WORD_ENDINGS: tuple[tuple[str, str | None], ...] = (
    ("ing", "ng"),
    ("ng", "ng"),
    ("ch", None),
    ("sh", None),
    ("ge", None),
    ("le", "l"),
    ("ck", "k"),
    ("ok", "k"),
    ("om", "m"),
    ("on", "n"),
    ("an", "n"),
    ("en", "n"),
    ("in", "n"),
    ("un", "n"),
    ("el", "l"),
    ("al", "l"),
    ("il", "l"),
    ("ol", "l"),
    ("ul", "l"),
    ("et", "t"),
    ("at", "t"),
    ("ot", "t"),
    ("it", "t"),
    ("ut", "t"),
    ("ap", "p"),
    ("ip", "p"),
    ("op", "p"),
    ("up", "p"),
    ("ep", "p"),
)

_PAIRS: dict[str, tuple[str, str]] = {
    # marker: (after a final consonant, after a vowel)
    "이(가)": ("이", "가"),
    "가(이)": ("이", "가"),
    "은(는)": ("은", "는"),
    "는(은)": ("은", "는"),
    "을(를)": ("을", "를"),
    "를(을)": ("을", "를"),
    "과(와)": ("과", "와"),
    "와(과)": ("과", "와"),
    "아(야)": ("아", "야"),
}
_MARKER = re.compile(
    r"(이\(가\)|가\(이\)|은\(는\)|는\(은\)|을\(를\)|를\(을\)|과\(와\)|와\(과\)|아\(야\)"
    r"|\(으\)로|\(이\)(?=[가-힣]))"
)
_TRAILING_GLOSS = re.compile(r"\s*\([^()]*\)$")
_QUOTES = "'\"’”»」』›*"


def final_consonant(word: str) -> str | None:
    """Return the final consonant of a word's last sound, or None when it ends in a vowel.

    Hangul gives its actual final consonant ("l" for ㄹ, "x" for any other); digits,
    letters and symbols give the consonant of how they are read.

    Args:
        word: The word (or phrase) a particle follows.

    Returns:
        "l" for ㄹ, another non-empty code for other consonants, None for a vowel or
        an empty word.

    """
    text = word.rstrip().rstrip(_QUOTES).rstrip()
    while _TRAILING_GLOSS.search(text) and _TRAILING_GLOSS.sub("", text).strip():
        text = _TRAILING_GLOSS.sub("", text).rstrip().rstrip(_QUOTES).rstrip()
    if not text:
        return None
    last = text[-1]
    code = ord(last)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        final = (code - _HANGUL_FIRST) % 28
        if final == 0:
            return None
        return "l" if final == _RIEUL else "x"
    if last.isdigit():
        return _DIGIT_FINAL[last]
    if last in _SYMBOL_FINAL:
        return _SYMBOL_FINAL[last]
    if last.isascii() and last.isalpha():
        token = re.split(r"[^A-Za-z]", text)[-1]
        if token.isupper() or len(token) == 1:
            return _LETTER_FINAL.get(last.lower())
        lower = token.lower()
        for ending, ending_final in _WORD_ENDINGS:
            if lower.endswith(ending):
                return ending_final
        return _LETTER_FINAL.get(lower[-1]) if lower[-1] in "mnl" else None
    return None


def particle(word: str, marker: str) -> str:
    """Return the particle that fits after ``word`` for a marker such as "은(는)".

    Args:
        word: The word before the particle.
        marker: One of the paired forms ("이(가)", "은(는)", "을(를)", "과(와)", "아(야)"),
            "(으)로", or "(이)" followed by the rest of a copula ("(이)라고" → pass
            "(이)").

    Returns:
        The particle: e.g. "는" after "모델", "은" after "데이터셋", "로" after "서울".

    """
    final = final_consonant(word)
    if marker == "(으)로":
        return "으로" if final not in (None, "l") else "로"
    if marker == "(이)":
        return "이" if final is not None else ""
    with_final, without = _PAIRS[marker]
    return with_final if final is not None else without


def resolve_particles(text: str) -> str:
    """Replace every paired particle marker in a Korean text with the form that fits.

    Args:
        text: Korean text that may contain markers such as "{word}은(는)" already
            filled in ("모델은(는)").

    Returns:
        The text with each marker resolved from the word before it; a marker at the
        very start (no word before it) takes the vowel form.

    """
    out: list[str] = []
    pos = 0
    for match in _MARKER.finditer(text):
        out.append(text[pos : match.start()])
        before = "".join(out)
        out.append(particle(before, match.group(1)))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def has_marker(text: str) -> bool:
    """Whether a text still holds an unresolved particle marker."""
    return _MARKER.search(text) is not None
