"""Reports from stored contacts: per queue and per agent for a day, and counts per interval for the wallboard.

Pure: plain rows in, figures out (no SQL, no clock). A contact counts once its wait has ended: answered, or
abandoned (it ended without anyone answering). The definitions match `routing.statistics`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["AgentDay", "ContactFacts", "QueueDay", "agent_report", "csv_cell", "history", "queue_report", "to_csv"]

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such cells get a "'" first.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ContactFacts:
    queue: str
    agent: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    handle_seconds: float | None
    disposition: str | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def abandoned(self) -> bool:
        return self.answered_at is None and self.ended_at is not None


@dataclass
class QueueDay:
    queue: str
    offered: int = 0
    answered: int = 0
    answered_within_threshold: int = 0
    abandoned: int = 0
    service_level: float | None = None
    average_speed_of_answer: float | None = None
    average_handle_time: float | None = None
    abandonment_rate: float | None = None


@dataclass
class AgentDay:
    agent: str
    handled: int = 0
    completed: int = 0
    total_handle_seconds: float = 0.0
    average_handle_time: float | None = None
    dispositions: dict[str, int] = field(default_factory=dict)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def queue_report(
    rows: Iterable[ContactFacts], thresholds: Mapping[str, float], default_threshold: float = 20.0
) -> list[QueueDay]:
    """Return each queue's offered, answered, service level, ASA, AHT and abandonment over the rows."""
    by_queue: dict[str, list[ContactFacts]] = {}
    for row in rows:
        if row.answered or row.abandoned:
            by_queue.setdefault(row.queue, []).append(row)
    report = []
    for queue in sorted(by_queue):
        contacts = by_queue[queue]
        threshold = thresholds.get(queue, default_threshold)
        answered = [c for c in contacts if c.answered]
        waits = [c.wait_seconds or 0.0 for c in answered]
        handles = [c.handle_seconds for c in answered if c.ended_at is not None and c.handle_seconds is not None]
        offered = len(contacts)
        within = sum(1 for wait in waits if wait <= threshold)
        abandoned = offered - len(answered)
        report.append(
            QueueDay(
                queue=queue,
                offered=offered,
                answered=len(answered),
                answered_within_threshold=within,
                abandoned=abandoned,
                service_level=within / offered,
                average_speed_of_answer=_mean(waits),
                average_handle_time=_mean(handles),
                abandonment_rate=abandoned / offered,
            )
        )
    return report


def agent_report(rows: Iterable[ContactFacts]) -> list[AgentDay]:
    """Return each agent's handled and completed contacts, handle time and wrap-up codes over the rows."""
    by_agent: dict[str, AgentDay] = {}
    for row in rows:
        if row.agent is None or not row.answered:
            continue
        day = by_agent.setdefault(row.agent, AgentDay(agent=row.agent))
        day.handled += 1
        if row.ended_at is not None and row.handle_seconds is not None:
            day.completed += 1
            day.total_handle_seconds += row.handle_seconds
        if row.disposition:
            day.dispositions[row.disposition] = day.dispositions.get(row.disposition, 0) + 1
    for day in by_agent.values():
        day.average_handle_time = day.total_handle_seconds / day.completed if day.completed else None
    return [by_agent[name] for name in sorted(by_agent)]


def history(
    rows: Iterable[ContactFacts], start: datetime, end: datetime, step: timedelta, threshold: float = 20.0
) -> dict[str, list[Any]]:
    """Return per-interval counts (offered, answered, abandoned) and service level, by when each wait ended."""
    slots = max(int((end - start) / step), 1)
    offered, answered, abandoned, within = ([0] * slots for _ in range(4))
    for row in rows:
        ended = row.answered_at if row.answered else row.ended_at if row.abandoned else None
        if ended is None or not start <= ended < end:
            continue
        index = min(int((ended - start) / step), slots - 1)
        offered[index] += 1
        if row.answered:
            answered[index] += 1
            within[index] += int((row.wait_seconds or 0.0) <= threshold)
        else:
            abandoned[index] += 1
    return {
        "t": [(start + i * step).timestamp() for i in range(slots)],
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "service_level": [round(100 * w / o, 1) if o else None for w, o in zip(within, offered, strict=True)],
    }


def csv_cell(value: Any) -> str:
    """Return a value as CSV text that a spreadsheet shows rather than runs."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Render rows as CSV, every cell through `csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()
