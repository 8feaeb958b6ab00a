"""Spell checking an agent's reply before it is sent, in the reply's language (pyspellchecker's dictionaries).

    misspelt = check_spelling("Thank you for you're pateince", "en")
    [(m.word, m.start, m.end, m.suggestions) for m in misspelt]

Words are found with their offsets in the text, so an editor can underline them. Left alone, because they are
not misspellings in a support reply: numbers and words with digits, URLs and email addresses, case numbers,
words in capitals (product names, acronyms), and words the caller marks as known (the customer's name).

Languages: the dictionaries pyspellchecker ships (English, Spanish, French, German, Portuguese, Italian, Russian,
Dutch, Arabic, Persian, Latvian, Basque). Chinese, Japanese and Korean are written without spaces between words
and have no dictionary of this kind: a text in them has nothing flagged, which is said by `checks_language`.
Loading a dictionary takes a fraction of a second and is done once per language per process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache

from spellchecker import SpellChecker

__all__ = ["SUPPORTED", "UNSPACED", "Misspelling", "UnknownLanguage", "check_spelling", "checks_language"]

SUPPORTED = frozenset({"en", "es", "fr", "de", "pt", "it", "ru", "nl", "ar", "fa", "lv", "eu"})
# Written without spaces between words: no word list to check against.
UNSPACED = frozenset({"zh", "ja", "ko", "th"})
_MAX_SUGGESTIONS = 5
# Edit distance 2 over a long word is slow (its candidates grow with the square of its length).
_LONG_WORD = 12

_TOKEN = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\[?CS-\d+\]?|[^\W_]+(?:['\u2019][^\W\d_]+)*")
_LOCK = threading.Lock()


class UnknownLanguage(ValueError):
    """A language the spell checker has no dictionary for."""


@dataclass(frozen=True)
class Misspelling:
    word: str
    start: int
    end: int
    suggestions: tuple[str, ...]


def checks_language(language: str) -> bool:
    """Return True when words of this language are actually checked (False for Chinese and the like)."""
    return _base(language) in SUPPORTED


def _base(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-")[0]


@cache
def _checker(language: str, distance: int) -> SpellChecker:
    return SpellChecker(language=language, distance=distance)


def _loaded(language: str, distance: int) -> SpellChecker:
    # Two requests loading the same dictionary at once would each build it; the lock makes one wait.
    with _LOCK:
        return _checker(language, distance)


def _ignored(word: str) -> bool:
    return (
        any(char.isdigit() for char in word)
        or "@" in word
        or word.startswith(("http://", "https://", "www.", "[CS-", "CS-"))
        or (len(word) > 1 and word.isupper())
        or len(word) == 1
    )


def check_spelling(text: str, language: str, *, known: Collection[str] = ()) -> list[Misspelling]:
    """Return the words of `text` the language's dictionary does not know, with up to five suggestions each."""
    base = _base(language)
    if base in UNSPACED:
        return []
    if base not in SUPPORTED:
        raise UnknownLanguage(
            f"no spelling dictionary for {language!r}; choose one of {', '.join(sorted(SUPPORTED | UNSPACED))}"
        )
    checker = _loaded(base, 2)
    quick = _loaded(base, 1)
    accepted = {word.casefold() for word in known}
    found: list[Misspelling] = []
    for match in _TOKEN.finditer(text):
        word = match.group()
        if _ignored(word) or word.casefold() in accepted:
            continue
        folded = word.casefold().replace("\u2019", "'")
        if folded in checker or not checker.unknown([folded]):
            continue
        # A word with an apostrophe ("don't") is known when its parts are.
        if "'" in folded and all(part in checker for part in folded.split("'") if part):
            continue
        speller = quick if len(folded) > _LONG_WORD else checker
        candidates = speller.candidates(folded) or set()
        ranked = sorted(candidates - {folded}, key=lambda w: (-speller.word_usage_frequency(w), w))
        found.append(Misspelling(word, match.start(), match.end(), tuple(ranked[:_MAX_SUGGESTIONS])))
    return found
