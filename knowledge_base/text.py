"""Words of an article or a query, the same way for indexing and for searching (pure).

Chinese has no spaces between words, and a word is usually two characters. Indexing overlapping character
bigrams (the CJK approach of Lucene's CJKAnalyzer) makes any two-character query match without a dictionary;
single characters are indexed too, after the bigrams, so a one-character query still finds something while a
quoted phrase of bigrams stays adjacent. Latin words are lower-cased; stemming is left to each database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "STOPWORDS",
    "Token",
    "index_text",
    "is_cjk",
    "stem",
    "tokens",
    "vocabulary_words",
]

# Words too common to say anything about what a reader wants; dropped from queries, kept in the index.
STOPWORDS = frozenset(
    """a about after all also am an and any are as at be been but by can cannot could did do does doing don't for
    from get got had has have having he her here hi his how i i'm if in into is it it's its just me my no not now of
    on or our out please she so some than thank thanks that the their them then there these they this to too up us
    was we were what when where which while who why will with would you your yours hello dear regards
    的 了 吗 呢 吧 啊 我 你 他 她 是 在 和 与 就 都 也 要 会 能 可 请 谢 么 个
    如何 怎么办 怎么 怎样 为什么 什么 我的 你们 我们 可以 一个 没有 不能 无法 请问 谢谢 您好 你好 一下""".split()  # noqa: SIM905
)

_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)
_APOSTROPHE = "\u2019"  # the typographic apostrophe, read as '
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)


def is_cjk(char: str) -> bool:
    """Tell whether a character is a CJK ideograph."""
    point = ord(char)
    return any(low <= point <= high for low, high in _CJK_RANGES)


@dataclass(frozen=True)
class Token:
    text: str
    cjk: bool


def _runs(text: str) -> Iterator[tuple[str, bool]]:
    """Split text into Latin/number words and runs of CJK characters, in order."""
    normalised = unicodedata.normalize("NFKC", text).lower()
    for match in _WORD.finditer(normalised):
        word = match.group().replace(_APOSTROPHE, "'")
        current: list[str] = []
        current_cjk: bool | None = None
        for char in word:
            cjk = is_cjk(char)
            if current and cjk != current_cjk:
                yield "".join(current), bool(current_cjk)
                current = []
            current.append(char)
            current_cjk = cjk
        if current:
            yield "".join(current), bool(current_cjk)


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokens(text: str, *, drop_stopwords: bool = False) -> list[Token]:
    """Return the searchable tokens of text: Latin words, and CJK runs as overlapping bigrams."""
    result: list[Token] = []
    for run, cjk in _runs(text):
        if not cjk:
            if not (drop_stopwords and run in STOPWORDS):
                result.append(Token(run, False))
            continue
        pieces = _without_stopwords(run) if drop_stopwords else [run]
        result.extend(Token(gram, True) for piece in pieces for gram in _bigrams(piece))
    return result


_CJK_STOPWORDS = sorted((word for word in STOPWORDS if all(is_cjk(char) for char in word)), key=len, reverse=True)


def _without_stopwords(run: str) -> list[str]:
    """Cut a CJK run at its stopwords ("如何重置我的密码" -> "重置", "密码"), longest stopword first."""
    pieces: list[str] = []
    current: list[str] = []
    position = 0
    while position < len(run):
        stop = next((word for word in _CJK_STOPWORDS if run.startswith(word, position)), None)
        if stop is None:
            current.append(run[position])
            position += 1
            continue
        if current:
            pieces.append("".join(current))
            current = []
        position += len(stop)
    if current:
        pieces.append("".join(current))
    return pieces


def index_text(text: str) -> str:
    """Return text as the index stores it: words and CJK bigrams separated by spaces, then CJK single characters."""
    words: list[str] = []
    singles: list[str] = []
    for run, cjk in _runs(text):
        if cjk:
            words.extend(_bigrams(run) if len(run) > 1 else [])
            singles.extend(run)
        else:
            words.append(run)
    return " ".join(words + singles)


def vocabulary_words(text: str) -> set[str]:
    """Return the distinct Latin words worth proposing as spelling corrections (three letters or more)."""
    return {run for run, cjk in _runs(text) if not cjk and len(run) >= 3 and run.isalpha() and run not in STOPWORDS}


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "es", "ed", "ly", "s")


def stem(word: str) -> str:
    """Cut a common English ending off a word, enough to highlight "printing" for "printers" (not a full stemmer)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
