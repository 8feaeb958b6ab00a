"""Highlighted snippets: the window of an article's text with most query words, words marked (pure).

Both databases get the same snippets from the same text, so results read alike on SQLite and PostgreSQL, and the
HTML is built here with everything escaped: only our own `<mark>` tags are markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge_base.text import is_cjk, stem

__all__ = ["Snippet", "highlight", "make_snippet"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Snippet:
    html: str
    matched: int


def _spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Return the (start, end) of every occurrence of a term in text: CJK as substrings, words by stem."""
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    stems = set()
    for term in terms:
        if term and all(is_cjk(char) for char in term):
            start = lowered.find(term)
            while start != -1:
                spans.append((start, start + len(term)))
                start = lowered.find(term, start + 1)
        elif term:
            stems.add(stem(term))
    if stems:
        for match in _WORD.finditer(lowered):
            word = match.group()
            if stem(word) in stems or any(word.startswith(s) and len(s) >= 4 for s in stems):
                spans.append((match.start(), match.end()))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: Iterable[str]) -> str:
    """Escape text and wrap every query word in `<mark>`."""
    out: list[str] = []
    position = 0
    for start, end in _spans(text, terms):
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def make_snippet(text: str, terms: Iterable[str], *, width: int = 180) -> Snippet:
    """Pick the window of about `width` characters holding most matches and mark them."""
    spans = _spans(text, list(terms))
    flat = " ".join(text.split())
    if flat != text:
        return make_snippet(flat, terms, width=width)
    if not spans:
        cut = text[:width]
        return Snippet(html.escape(cut) + ("…" if len(text) > width else ""), 0)
    best_start, best_count = 0, 0
    for index, (start, _) in enumerate(spans):
        count = sum(1 for other_start, other_end in spans[index:] if other_end <= start + width)
        if count > best_count:
            best_start, best_count = start, count
    # Start a little before the first match, at a word boundary, so the reader sees its context.
    start = max(0, best_start - width // 4)
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.find(" ", end)
        end = space if space != -1 and space - end < 20 else end
    window = text[start:end]
    body = highlight(window, terms)
    return Snippet(("…" if start > 0 else "") + body + ("…" if end < len(text) else ""), best_count)
