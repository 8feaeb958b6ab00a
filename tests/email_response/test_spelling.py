"""Spell checking replies: offsets, suggestions, what is left alone, languages."""

from __future__ import annotations

import pytest

from email_response.spelling import UnknownLanguage, check_spelling, checks_language


def test_misspelt_words_come_with_offsets_and_ranked_suggestions():
    text = "Thank you for you're pateince. We will recieve it tomorow."
    found = check_spelling(text, "en")
    assert [m.word for m in found] == ["pateince", "recieve", "tomorow"]
    for m in found:
        assert text[m.start : m.end] == m.word
    assert found[0].suggestions[0] == "patience"
    assert "receive" in found[1].suggestions


def test_names_numbers_links_addresses_case_numbers_and_acronyms_are_left_alone():
    text = "Dear Zyxwvut, order 12ab34 see https://exmple.test/x or mail bob@exmple.test about CS-000123 and NASA."
    assert check_spelling(text, "en", known={"zyxwvut"}) == []


def test_other_languages_use_their_dictionary_and_unknown_ones_are_refused():
    assert [m.word for m in check_spelling("Bonjour, merci pour votre pateince", "fr")] == ["pateince"]
    assert [m.word for m in check_spelling("Vielen Dank für Ihre Gedult", "de-DE")] == ["Gedult"]
    assert check_spelling("您好\uff0c请稍等。", "zh") == []
    assert not checks_language("zh")
    assert checks_language("pt-BR")
    with pytest.raises(UnknownLanguage, match="tlh"):
        check_spelling("nuqneH", "tlh")
