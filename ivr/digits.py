"""Numbers callers give on the keypad or by voice: reading them, checking them, writing them the store's way.

A case number is printed as CS-000123 but nobody types letters on a phone keypad, so the caller types 123 and
this module writes the canonical form. Speech recognisers return "one two three", "123" or "一二三" depending on
the language; all of them mean the same digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ivr.models import CASE_NUMBER_PREFIX, CASE_NUMBER_WIDTH, Checksum, CollectNode

__all__ = ["BUILTIN_CHECKSUMS", "accept_digits", "digits_from_speech", "luhn_valid"]

_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "零": "0",
    "〇": "0",  # noqa: RUF001 - the ideographic zero callers' speech comes back with
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
# Longest words first so "one" is never read as "o" + "ne"; ASCII words must stand alone, Chinese numerals not.
_TOKEN = re.compile(r"[0-9]|[零〇一幺二两三四五六七八九]|\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b")


def digits_from_speech(text: str) -> str:
    """Return the digits a caller said, in order, ignoring every other word."""
    return "".join(_WORDS.get(token, token) for token in _TOKEN.findall(text.lower()))


def luhn_valid(digits: str) -> bool:
    """Check the Luhn (mod 10) check digit, which catches every single mistyped digit."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


#: Checksums every flow may name; apps pass their own mapping to `ivr.loader.load_flow` to add more.
BUILTIN_CHECKSUMS: Mapping[str, Checksum] = {"luhn": luhn_valid}


def accept_digits(node: CollectNode, digits: str, checksums: Mapping[str, Checksum]) -> str | None:
    """Return the value to keep for what the caller typed, or None when the node's rules reject it."""
    if not digits.isascii() or not digits.isdigit():
        return None
    if not node.min_length <= len(digits) <= node.max_length:
        return None
    if node.pattern is not None and re.fullmatch(node.pattern, digits) is None:
        return None
    if node.checksum is not None:
        check = checksums.get(node.checksum)
        # A checksum the flow names but nobody supplied cannot vouch for anything: reject rather than let through.
        if check is None or not check(digits):
            return None
    if node.format == "case_number":
        if len(digits) > CASE_NUMBER_WIDTH or int(digits) == 0:
            return None
        return f"{CASE_NUMBER_PREFIX}{digits.zfill(CASE_NUMBER_WIDTH)}"
    return digits
