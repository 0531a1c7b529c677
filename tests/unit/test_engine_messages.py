"""Engine sentences: codes in result.json, wording in the locale files (ko and en)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advisor.i18n import _catalog
from advisor.messages import (
    PREFIX,
    finding_text,
    placeholders,
    render,
    render_message,
    render_messages,
)
from engines.health.messages import PHRASES, TEXTS
from engines.health.report import _BANDS
from engines.similarity import DESCRIPTIONS

ENGINES = Path(__file__).resolve().parents[2] / "engines"
# message("code" ...), phrase("code" ...), and the two branches of message("a" if x else "b")
_CALL = re.compile(
    r'\b(?:message|phrase)\(\s*"([a-z0-9_]+)"(?:\s+if\b[^"]*\belse\s+"([a-z0-9_]+)")?', re.DOTALL
)


def _engine_texts(language: str) -> dict[str, str]:
    return {k[len(PREFIX) :]: v for k, v in _catalog(language).items() if k.startswith(PREFIX)}


def _codes_in_engines() -> set[str]:
    found: set[str] = set()
    for path in ENGINES.rglob("*.py"):
        for match in _CALL.finditer(path.read_text("utf-8")):
            found |= {c for c in match.groups() if c}
    found |= {f"health_band_{key}" for _, key, _ in _BANDS}
    found |= {f"signal_{name}" for name in DESCRIPTIONS}
    return found


def test_every_engine_text_has_ko_and_en_with_the_same_placeholders():
    en, ko = _engine_texts("en"), _engine_texts("ko")
    assert en and set(en) == set(ko)
    for code in en:
        assert placeholders(en[code]) == placeholders(ko[code]), code
        assert (
            re.search("[\uac00-\ud7a3]", ko[code])
            or not re.search("[a-z]{4}", ko[code])
            or placeholders(ko[code])
        ), f"engine.{code} in ko.yaml is not Korean"


def test_every_code_the_engines_write_has_a_text():
    codes = _codes_in_engines()
    assert {
        "interval_too_wide",
        "finetune_skipped_budget",
        "no_labels",
        "curve_flat",
    } <= codes  # the scan finds them
    missing = sorted(c for c in codes if c not in _engine_texts("en"))
    assert not missing, f"add engine.<code> to both locale files: {missing}"
    for fid in TEXTS:
        for part in ("title", "meaning", "action"):
            assert f"health.{fid}.{part}" in _engine_texts("en")


def test_engine_english_is_the_english_locale_text():
    """The English stored beside a code is what the English locale file renders."""
    en = _engine_texts("en")
    for fid, parts in TEXTS.items():
        for part, template in parts.items():
            assert en[f"health.{fid}.{part}"] == template, (fid, part)
    for code, template in PHRASES.items():
        assert en[code] == template, code
    for name, description in DESCRIPTIONS.items():
        assert en[f"signal_{name}"] == description, name


def test_no_korean_prose_left_in_the_engines():
    # Korean words the intake recognises (folder and column names) may stay; sentences
    # (two Korean words in a row) belong in the locale files.
    hangul = re.compile("[\uac00-\ud7a3]+ [\uac00-\ud7a3]")
    offenders = [
        str(p.relative_to(ENGINES))
        for p in ENGINES.rglob("*.py")
        if hangul.search(p.read_text("utf-8"))
    ]
    assert not offenders, f"Korean prose belongs in advisor/locales/ko.yaml: {offenders}"


def test_render_fills_nested_messages_strategy_names_and_particles():
    warning = {
        "code": "interval_too_wide",
        "params": {
            "confidence": 0.95,
            "low": 0.4,
            "high": 0.9,
            "half": 0.25,
            "max_half_width": 0.1,
            "n_needed": 80,
        },
    }
    ko = render("experiment_warning", {"strategy": "linear_probe", "warning": warning}, "ko")
    assert "신뢰구간" in ko and "80장" in ko and "linear_probe" not in ko
    en = render("experiment_warning", {"strategy": "linear_probe", "warning": warning}, "en")
    assert en.startswith("Frozen backbone") and "About 80 validation images" in en
    # "{chosen}이(가)" after a name ending in a vowel sound keeps one particle form
    ko = render(
        "finetune_on_first_backbone",
        {"first": "efficientnet_lite0", "chosen": "efficientnet_lite1", "epochs": 2},
        "ko",
    )
    assert "(가)" not in ko and "(는)" not in ko


def test_unknown_codes_and_bad_params_fall_back_to_the_stored_english():
    assert render("no_such_code", {}, "ko", fallback="stored text") == "stored text"
    assert (
        render("finetune_skipped_budget", {"needed_s": 1}, "ko", fallback="stored text")
        == "stored text"
    )
    assert render_message(None, "ko", "older result") == "older result"
    assert render_message({"code": "no_labels", "params": {}}, "ko").startswith("라벨이 없어")
    # a result written before the codes: the texts are shown as stored
    assert render_messages(None, ["old warning"], "ko") == ["old warning"]
    assert render_messages([{"code": "no_labels", "params": {}}], ["No labels"], "en") == [
        TEXTS and _engine_texts("en")["no_labels"]
    ]


def test_a_finding_without_params_keeps_its_stored_texts():
    old = {"id": "class-imbalance", "title": {"en": "Class imbalance", "ko": "클래스 불균형"}}
    assert finding_text(old, "title", "ko") == "클래스 불균형"
    assert finding_text({"id": "x", "title": "plain"}, "title", "ko") == "plain"
    with pytest.raises(ValueError, match="Unknown finding part"):
        finding_text(old, "summary", "ko")
