"""The final order of search results (pure): text relevance first, then what readers found helpful.

The databases' scores (bm25, ts_rank) are on different scales; each is divided by the best score of its own result
list, so the same rules order results on SQLite and on PostgreSQL. Helpfulness only nudges: a clearly better text
match always wins over a popular article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from knowledge_base.text import stem, tokens

__all__ = ["Candidate", "helpful_share", "rank"]

# How much a fully helpful (or unhelpful) article moves, relative to the best text match (1.0).
HELPFUL_WEIGHT = 0.1
# How much an article gains when every query word is in its title.
TITLE_WEIGHT = 0.2


@dataclass(frozen=True)
class Candidate:
    article_id: int
    relevance: float
    title: str
    helpful_yes: int = 0
    helpful_no: int = 0


def helpful_share(yes: int, no: int) -> float:
    """Return the share of "helpful" answers, smoothed towards one half while there are few (Laplace)."""
    return (yes + 1) / (yes + no + 2)


def _title_coverage(title: str, terms: Sequence[str]) -> float:
    if not terms:
        return 0.0
    title_stems = {stem(token.text) for token in tokens(title)}
    return sum(1 for term in terms if stem(term) in title_stems) / len(terms)


def rank(candidates: Sequence[Candidate], terms: Sequence[str]) -> list[tuple[Candidate, float]]:
    """Return candidates with their final scores, best first (ties keep the database's order)."""
    if not candidates:
        return []
    best = max(candidate.relevance for candidate in candidates) or 1.0
    scored = []
    for order, candidate in enumerate(candidates):
        text_score = candidate.relevance / best if best > 0 else 0.0
        helpful = (helpful_share(candidate.helpful_yes, candidate.helpful_no) - 0.5) * 2 * HELPFUL_WEIGHT
        score = text_score + TITLE_WEIGHT * _title_coverage(candidate.title, terms) + helpful
        scored.append((score, -order, candidate))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(candidate, score) for score, _, candidate in scored]
