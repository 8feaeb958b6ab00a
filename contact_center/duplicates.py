"""Spotting a likely duplicate case: the same customer writing about the same thing again, on any channel."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher

__all__ = ["DUPLICATE_WINDOW", "CandidateCase", "likely_duplicate", "subject_similarity"]

DUPLICATE_WINDOW = timedelta(days=7)
_THRESHOLD = 0.75
# Chinese mail clients write the reply prefix with a full-width colon.
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|回复|转发)\s*[:：]\s*)+", re.IGNORECASE)  # noqa: RUF001
_CASE_TAG = re.compile(r"\[\s*CS-\d+\s*\]", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CandidateCase:
    case_id: int
    subject: str
    created_at: datetime


def _normalise(subject: str) -> str:
    subject = _CASE_TAG.sub(" ", subject)
    subject = _REPLY_PREFIX.sub("", subject)
    return _SPACE.sub(" ", subject).strip().casefold()


def subject_similarity(a: str, b: str) -> float:
    """Return 0..1, ignoring reply prefixes, case tags, case and spacing."""
    left, right = _normalise(a), _normalise(b)
    if not left or not right:
        return 0.0
    return SequenceMatcher(None, left, right).ratio()


def likely_duplicate(
    subject: str, open_cases: Iterable[CandidateCase], now: datetime, window: timedelta = DUPLICATE_WINDOW
) -> CandidateCase | None:
    """Return the most similar open case created within the window, if similar enough to flag."""
    best: tuple[float, CandidateCase] | None = None
    for candidate in open_cases:
        if now - candidate.created_at > window:
            continue
        score = subject_similarity(subject, candidate.subject)
        if score >= _THRESHOLD and (best is None or score > best[0]):
            best = (score, candidate)
    return best[1] if best else None
