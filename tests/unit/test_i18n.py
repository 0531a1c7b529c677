import pytest

from advisor.i18n import keys, pick, t


def test_both_languages_have_the_same_keys():
    assert keys("ko") == keys("en")


def test_translation_formats_and_falls_back():
    assert t("data.skipped", "en", n=3) == "3 file(s) were not used"
    assert "3" in t("data.skipped", "ko", n=3)
    assert pick({"en": "hello", "ko": "안녕"}, "ko") == "안녕"
    assert pick({"en": "hello"}, "ko") == "hello"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="Unsupported language"):
        t("app.title", "fr")
