"""Email figures per day and queue: messages in, automatic replies, first-response and resolution times.

Pure: the app passes plain records read from its tables, this module groups and summarises them.

    daily = email_figures(inbound=[...], auto_replies=[...], cases=[...])
    daily[0].day, daily[0].queue, daily[0].emails_in, daily[0].first_response.median

Times are counted per case, on the day (UTC) and in the queue the case was opened in, from the case's creation
to its first answer by a person and to its resolution. Cases still waiting are not in the times (they have none
yet) but are counted in `open_cases`, so a low median with many open cases reads as what it is. Percentiles use
the nearest-rank method, which always returns an observed value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = ["CaseTimes", "DailyFigures", "Durations", "email_figures", "nearest_rank"]

NO_QUEUE = "(none)"


@dataclass(frozen=True)
class CaseTimes:
    """One email case: when it opened (and in which queue), first answered and resolved."""

    created_at: datetime
    queue: str | None
    first_responded_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Durations:
    """Seconds: how many were measured, their median and 90th percentile (None with nothing measured)."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Durations:
        """Summarise a list of durations."""
        if not seconds:
            return cls(0, None, None)
        ordered = sorted(seconds)
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return cls(len(ordered), median, nearest_rank(ordered, 90))


@dataclass
class DailyFigures:
    day: date
    queue: str
    emails_in: int = 0
    auto_replies: int = 0
    cases_opened: int = 0
    open_cases: int = 0
    first_response: Durations = field(default_factory=lambda: Durations(0, None, None))
    resolution: Durations = field(default_factory=lambda: Durations(0, None, None))


def nearest_rank(ordered: Sequence[float], percentile: float) -> float:
    """Return the nearest-rank percentile of sorted values (at least one)."""
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def email_figures(
    *,
    inbound: Iterable[tuple[datetime, str | None]],
    auto_replies: Iterable[tuple[datetime, str | None]],
    cases: Iterable[CaseTimes],
) -> list[DailyFigures]:
    """Return the figures per (day, queue), sorted by day then queue; `inbound` and `auto_replies` are (when, queue)."""
    figures: dict[tuple[date, str], DailyFigures] = {}

    def row(at: datetime, queue: str | None) -> DailyFigures:
        key = (at.date(), queue or NO_QUEUE)
        if key not in figures:
            figures[key] = DailyFigures(day=key[0], queue=key[1])
        return figures[key]

    for at, queue in inbound:
        row(at, queue).emails_in += 1
    for at, queue in auto_replies:
        row(at, queue).auto_replies += 1
    first: dict[tuple[date, str], list[float]] = {}
    resolved: dict[tuple[date, str], list[float]] = {}
    for case in cases:
        figure = row(case.created_at, case.queue)
        key = (figure.day, figure.queue)
        figure.cases_opened += 1
        if case.first_responded_at is not None:
            first.setdefault(key, []).append((case.first_responded_at - case.created_at).total_seconds())
        if case.resolved_at is not None:
            resolved.setdefault(key, []).append((case.resolved_at - case.created_at).total_seconds())
        else:
            figure.open_cases += 1
    for key, figure in figures.items():
        figure.first_response = Durations.of(first.get(key, []))
        figure.resolution = Durations.of(resolved.get(key, []))
    return [figures[key] for key in sorted(figures)]
