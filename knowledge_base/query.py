"""What a reader typed, parsed once and written out for each database (pure).

Readers type web-search syntax: words, "quoted phrases", -excluded words and OR. Plain words are OR-ed, not
AND-ed: a help-desk question ("my printer shows offline after the update") rarely has every word in the one
article that answers it, and bm25 / ts_rank already rank articles matching more words first. A quoted phrase must
match as a phrase; an excluded word must not occur.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge_base.text import Token, tokens

__all__ = ["Query", "message_query", "parse_query"]

_PARTS = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Longest query we look at: a pasted email is cut here, not searched as a whole.
MAX_TERMS = 32


@dataclass(frozen=True)
class Query:
    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    cjk_terms: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        """Tell whether nothing is left to search for."""
        return not self.terms and not self.phrases

    @property
    def highlight_terms(self) -> tuple[str, ...]:
        """Return every word a snippet should mark."""
        words = list(self.terms)
        for phrase in self.phrases:
            words.extend(phrase)
        return tuple(dict.fromkeys(words))

    def with_terms(self, terms: tuple[str, ...]) -> Query:
        """Return this query with its plain words replaced (by spelling corrections)."""
        return Query(terms=terms, phrases=self.phrases, excluded=self.excluded, cjk_terms=self.cjk_terms)

    def fts5(self) -> str:
        """Write the query in SQLite FTS5 MATCH syntax (every token quoted, so no input is an operator)."""
        alternatives = [_quoted(term) for term in self.terms]
        alternatives += [_quoted(" ".join(phrase)) for phrase in self.phrases]
        expression = " OR ".join(alternatives)
        if self.phrases and self.terms:
            # A phrase is a requirement; loose words only add to the rank of articles that have the phrase.
            required = " AND ".join(_quoted(" ".join(phrase)) for phrase in self.phrases)
            expression = f"({required}) AND ({expression})"
        elif self.phrases:
            expression = " AND ".join(_quoted(" ".join(phrase)) for phrase in self.phrases)
        for word in self.excluded:
            expression = f"({expression}) NOT {_quoted(word)}"
        return expression

    def websearch(self) -> str:
        """Write the query in PostgreSQL's websearch_to_tsquery syntax."""
        words = " or ".join(_websafe(term) for term in self.terms)
        phrases = " ".join(f'"{" ".join(_websafe(w) for w in phrase)}"' for phrase in self.phrases)
        excluded = " ".join(f"-{_websafe(word)}" for word in self.excluded)
        if phrases and words:
            # websearch_to_tsquery binds "or" tighter than the implicit AND, so this is phrases AND (w1 | w2 ...).
            return " ".join(part for part in (phrases, words, excluded) if part)
        return " ".join(part for part in (phrases or words, excluded) if part)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _websafe(word: str) -> str:
    # Tokens are letters, digits and apostrophes only; an apostrophe would split a word in websearch syntax.
    return word.replace("'", "")


def _words(part: str) -> list[Token]:
    return tokens(part, drop_stopwords=True)


def parse_query(text: str) -> Query:
    """Parse web-search syntax into words, phrases and exclusions, dropping stopwords."""
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    cjk: set[str] = set()
    for match in _PARTS.finditer(text):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            phrase_tokens = tokens(quoted)
            cjk.update(token.text for token in phrase_tokens if token.cjk)
            words = tuple(token.text for token in phrase_tokens)
            if negated:
                excluded.extend(words)
            elif len(words) > 1:
                phrases.append(words)
            elif words:
                terms.extend(words)
            continue
        assert bare is not None
        if bare.lower() == "or":
            continue
        if bare.startswith("-") and len(bare) > 1:
            excluded.extend(token.text for token in tokens(bare[1:]))
            continue
        found = _words(bare)
        cjk.update(token.text for token in found if token.cjk)
        terms.extend(token.text for token in found)
    unique_terms = tuple(dict.fromkeys(terms))[:MAX_TERMS]
    return Query(
        terms=unique_terms,
        phrases=tuple(dict.fromkeys(phrases)),
        excluded=tuple(dict.fromkeys(excluded)),
        cjk_terms=frozenset(cjk),
    )


# How many of a message's words a suggestion searches for: the most frequent carry its topic.
SUGGESTION_TERMS = 12


def message_query(text: str) -> Query:
    """Turn a case's or an email's text into a query: its most frequent words, quoted replies and signature cut."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.strip() in ("--", "-- "):
            break  # RFC 3676 §4.3: the signature follows "-- ".
        if not line.lstrip().startswith(">"):
            kept.append(line)
    found = tokens("\n".join(kept), drop_stopwords=True)
    counts: dict[str, int] = {}
    for token in found:
        counts[token.text] = counts.get(token.text, 0) + 1
    # Most frequent first; among equals, the earliest (a subject line comes first).
    ordered = sorted(counts, key=lambda word: -counts[word])[:SUGGESTION_TERMS]
    return Query(terms=tuple(ordered), cjk_terms=frozenset(token.text for token in found if token.cjk))
