"""Classification rules and language detection."""
# ruff: noqa: RUF001 - Chinese and Russian text is the point of these tests, full-width punctuation included.

from __future__ import annotations

import pytest

from email_response.classification import RulesError, classify, detect_language, load_rules

RULES = load_rules(
    {
        "billing": {
            "keywords": ["invoice", "refund", "发票", "退款"],
            "patterns": [r"\border\s+#?\d{5,}"],
            "skills": {"billing": 1},
            "priority": "normal",
        },
        "outage": {"keywords": ["down", "outage", "无法访问"], "skills": {"technical": 2}, "priority": "urgent"},
    }
)


def test_keywords_and_patterns_pick_the_category() -> None:
    result = classify("Refund for order #123456", "Please refund my invoice.", RULES)
    assert (result.category, result.required_skills, result.priority, result.language) == (
        "billing",
        {"billing": 1},
        "normal",
        "en",
    )
    assert "refund" in result.matched


def test_the_most_matches_win() -> None:
    assert classify("Site down", "Outage! Everything is down, also my invoice.", RULES).category == "outage"


def test_keywords_match_whole_words_only() -> None:
    assert classify("Downloads", "where are my downloads", RULES).category is None


def test_chinese_keywords_and_language() -> None:
    result = classify("申请退款", "您好，我需要退款，发票号码 12345。", RULES)
    assert (result.category, result.language) == ("billing", "zh")


def test_no_match() -> None:
    result = classify("Hello", "Just saying hi", RULES)
    assert (result.category, result.required_skills, result.priority) == (None, {}, None)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello, my printer is broken, please help", "en"),
        ("您好，我的打印机坏了，请帮忙 (HP LaserJet 4000)", "zh"),
        ("Здравствуйте, мой принтер сломался", "ru"),
        ("プリンターが壊れました", "ja"),
        ("프린터가 고장났어요", "ko"),
        ("Hola, mi impresora no funciona, por favor ayuda", "es"),
        ("Bonjour, je ne peux pas imprimer, merci pour votre aide", "fr"),
        ("Hallo, mein Drucker ist kaputt, bitte helfen Sie mir", "de"),
        ("12345 !!!", "en"),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_quoted_text_does_not_decide_the_language() -> None:
    assert detect_language("Thanks, that fixed it!\n\n> 您好，请重新启动打印机。\n> 谢谢") == "en"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"x": []}, "expected a mapping"),
        ({"x": {"keywords": ["a"], "colour": "red"}}, "unknown keys"),
        ({"x": {"patterns": ["("]}}, "not a valid regex"),
        ({"x": {"keywords": ["a"], "skills": {"billing": "high"}}}, "skills"),
        ({"x": {"keywords": ["a"], "priority": "asap"}}, "priority"),
        ({"x": {}}, "needs keywords or patterns"),
    ],
)
def test_bad_rules_are_refused_with_their_name(config: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError, match=message) as caught:
        load_rules(config)
    assert "'x'" in str(caught.value)
