"""Every interface text exists in both languages, and the language choice follows the rules."""

from __future__ import annotations

from contact_center.portal.i18n import MESSAGES, choose_language


def test_both_languages_have_every_text():
    assert set(MESSAGES["en"]) == set(MESSAGES["zh"])
    assert all(MESSAGES["zh"][key] != MESSAGES["en"][key] for key in MESSAGES["en"])


def test_the_switcher_wins_then_accept_language_by_quality():
    assert choose_language("zh", "en-US,en;q=0.9") == "zh"
    assert choose_language(None, "fr-FR,zh-TW;q=0.8,en;q=0.5") == "zh"
    assert choose_language(None, "en;q=0.2, zh-CN;q=0.9") == "zh"
    assert choose_language("de", "zh;q=0, en;q=0.1") == "en"
    assert choose_language(None, "garbage;q=x, ;;;") == "en"
    assert choose_language(None, None) == "en"
