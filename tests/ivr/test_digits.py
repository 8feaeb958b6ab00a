"""Numbers from keypads and voices: reading, checking and writing them the case store's way."""

from __future__ import annotations

import pytest

from ivr.digits import BUILTIN_CHECKSUMS, accept_digits, digits_from_speech, luhn_valid
from ivr.models import CollectNode, Retry

RETRY = Retry(no_input=None, invalid=None, max_attempts=3, on_failure="x")


def collect(**options: object) -> CollectNode:
    return CollectNode("ask", prompt=None, save_as="n", next="x", retry=RETRY, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("123", "123"),
        ("one two three", "123"),
        ("It's oh four two", "042"),
        ("一二三", "123"),
        ("幺零零八六", "10086"),
        ("none of these", ""),
        ("phone", ""),
    ],
)
def test_digits_from_speech(said: str, digits: str) -> None:
    assert digits_from_speech(said) == digits


@pytest.mark.parametrize(("number", "valid"), [("79927398713", True), ("79927398710", False), ("0", False)])
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("typed", "value"), [("123", "CS-000123"), ("000123", "CS-000123"), ("1234567", None), ("000", None), ("", None)]
)
def test_case_numbers(typed: str, value: str | None) -> None:
    assert accept_digits(collect(format="case_number", max_length=7), typed, {}) == value


def test_account_numbers_length_pattern_and_checksum() -> None:
    node = collect(min_length=8, max_length=8, pattern=r"[1-9]\d+", checksum="luhn")
    assert accept_digits(node, "12345674", BUILTIN_CHECKSUMS) == "12345674"
    assert accept_digits(node, "12345678", BUILTIN_CHECKSUMS) is None  # checksum
    assert accept_digits(node, "02345674", BUILTIN_CHECKSUMS) is None  # pattern
    assert accept_digits(node, "1234567", BUILTIN_CHECKSUMS) is None  # length
    assert accept_digits(node, "１２３４５６７４", BUILTIN_CHECKSUMS) is None  # noqa: RUF001 - full-width digits
    # A checksum nobody supplied cannot vouch for anything.
    assert accept_digits(node, "12345674", {}) is None
