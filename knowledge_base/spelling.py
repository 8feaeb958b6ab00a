"""Spelling corrections for query words: "Did you mean ...?" (pure).

A word the articles never use is replaced by the vocabulary word nearest to it by Damerau-Levenshtein distance
(one edit for short words, two for longer ones), preferring the word more articles use. The candidates come from
the database (pg_trgm on PostgreSQL, the stored vocabulary on SQLite); the choice is made here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["best_correction", "correct_terms", "edit_distance", "max_edits"]


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Return the optimal-string-alignment distance of a and b, or `limit + 1` once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return previous[-1]


def max_edits(word: str) -> int:
    """Return how many typing mistakes a word of this length may carry and still be recognised."""
    return 1 if len(word) <= 5 else 2


def best_correction(word: str, candidates: Mapping[str, int]) -> str | None:
    """Return the vocabulary word `word` most likely meant, or None if it is known or nothing is close."""
    if word in candidates or len(word) < 3 or not word.isalpha():
        return None
    limit = max_edits(word)
    scored: list[tuple[int, int, str]] = []
    for candidate, documents in candidates.items():
        distance = edit_distance(word, candidate, limit)
        if distance <= limit:
            scored.append((distance, -documents, candidate))
    if not scored:
        return None
    return min(scored)[2]


def correct_terms(terms: Sequence[str], candidates: Mapping[str, Mapping[str, int]]) -> tuple[str, ...] | None:
    """Return the terms with each misspelt one corrected, or None when nothing changed."""
    corrected = tuple(best_correction(term, candidates.get(term, {})) or term for term in terms)
    return corrected if corrected != tuple(terms) else None
