"""Korean particles are chosen from the word, and every rule text reads as written by hand."""

from __future__ import annotations

import re

import pytest

from advisor.knowledge_base import knowledge_base
from advisor.korean import final_consonant, has_marker, particle, resolve_particles

KB = knowledge_base()
_POLITE_END = re.compile(r"(니다|세요|까요|나요|어요|아요|해요|에요|예요|시겠어요)[.?!]?$")
_RAW_ID = re.compile(r"\b[a-z]+_[a-z_]+\b")


@pytest.mark.parametrize(
    ("word", "marker", "expected"),
    [
        ("모델", "은(는)", "은"),
        ("데이터", "은(는)", "는"),
        ("서울", "(으)로", "로"),
        ("파인튜닝", "(으)로", "으로"),
        ("분류기", "(으)로", "로"),
        ("정확도", "을(를)", "를"),
        ("CNN", "이(가)", "이"),
        ("FID", "와(과)", "와"),
        ("35%", "이(가)", "가"),
        ("3", "이(가)", "이"),
        ("10", "을(를)", "을"),
        ("Unpaired Data (쌍이 없는 데이터)", "(이)", ""),
        ("Paired Data (쌍 데이터)", "은(는)", "는"),
        ("Detection", "은(는)", "은"),
        ("'유사함'", "(으)로", "으로"),
        ("accuracy", "을(를)", "를"),
    ],
)
def test_particle_follows_the_last_sound(word, marker, expected):
    assert particle(word, marker) == expected


def test_resolve_particles_replaces_every_marker():
    text = resolve_particles(
        "데이터 형태를 Only Input Data (입력만 있는 데이터)(이)라고 하셨지만 "
        "태스크를 세그멘테이션(으)로 해야 하나요? 목표 95%은(는) 높음."
    )
    assert text == (
        "데이터 형태를 Only Input Data (입력만 있는 데이터)라고 하셨지만 "
        "태스크를 세그멘테이션으로 해야 하나요? 목표 95%는 높음."
    )
    assert not has_marker(text)


def test_final_consonant_of_empty_and_symbols():
    assert final_consonant("") is None
    assert final_consonant("  ") is None
    assert final_consonant("엘") == "l"


def _rendered(rule, language):
    texts = {kind: text.get(language) for kind, text in rule.then.texts.items()}
    if rule.then.finding is not None:
        texts["finding"] = rule.then.finding.text.get(language)
    for example in rule.must_fire:
        for kind, text in texts.items():
            yield kind, KB.render(text, example, language)


@pytest.mark.parametrize("rule", KB.rules, ids=[r.id for r in KB.rules])
def test_every_korean_rule_text_reads_as_written_by_hand(rule):
    for kind, text in _rendered(rule, "ko"):
        assert not has_marker(text), text
        assert "비쌍" not in text, text
        assert not _RAW_ID.findall(text), text
        # Questions to the client are polite; everything else is the report's plain style.
        assert bool(_POLITE_END.search(text.strip())) == (kind == "question"), (kind, text)
    for text in (rule.title.ko, rule.why.ko, rule.limits.ko):
        assert not has_marker(text) and "비쌍" not in text, text


def test_locale_texts_fit_particles_to_the_inserted_word():
    from advisor.i18n import t

    assert t("app.data.stored", "ko", name="모델") == "모델을 프로젝트에 저장했습니다."
    assert t("app.data.stored", "ko", name="데이터") == "데이터를 프로젝트에 저장했습니다."
