"""When preventive maintenance is due: plain data in, due dates out, no I/O and no clock.

A plan is either calendar-based (every N days since the last service) or meter-based (every N units of the asset's
meter since the last service). A meter plan's due date is the day a reading first reached the threshold or, before
that, a projection from the rate of use the readings since the last service show. A plan's work order is created
``lead_days`` before its due date; once the due date is known a plan is never skipped: a run after a gap of any
length still creates the overdue work order, and a plan with an open work order gets no second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["Due", "PlanView", "Reading", "advance", "due_on", "plans_due", "service_window"]

# A projection further out than this is "not in sight": a meter that hardly moves.
_HORIZON = timedelta(days=3650)


@dataclass(frozen=True)
class Reading:
    """One meter reading of an asset."""

    at: datetime
    value: float


@dataclass(frozen=True)
class PlanView:
    """What deciding a plan's due date needs to know of it."""

    id: int
    asset_id: int
    last_service_on: date
    interval_days: int | None = None
    meter_interval: float | None = None
    last_service_meter: float | None = None
    lead_days: int = 14
    has_open_order: bool = False
    active: bool = True


@dataclass(frozen=True)
class Due:
    """A plan whose work order should exist now, for its due date."""

    plan_id: int
    due_on: date


def due_on(plan: PlanView, readings: Sequence[Reading]) -> date | None:
    """Return the plan's next due date, or None for a meter plan whose readings show no use yet."""
    if plan.interval_days is not None:
        return plan.last_service_on + timedelta(days=plan.interval_days)
    if plan.meter_interval is None:
        return None
    since = sorted((r for r in readings if r.at.astimezone(UTC).date() >= plan.last_service_on), key=lambda r: r.at)
    points = list(since)
    if plan.last_service_meter is not None:
        points.insert(0, Reading(datetime.combine(plan.last_service_on, time(0), tzinfo=UTC), plan.last_service_meter))
    if not points:
        return None
    threshold = points[0].value + plan.meter_interval
    for reading in points:
        if reading.value >= threshold:
            return reading.at.astimezone(UTC).date()
    first, last = points[0], points[-1]
    days = (last.at - first.at).total_seconds() / 86400
    if days <= 0 or last.value <= first.value:
        return None
    rate = (last.value - first.value) / days
    ahead = timedelta(days=(threshold - last.value) / rate)
    if ahead > _HORIZON:
        return None
    return (last.at + ahead).astimezone(UTC).date()


def plans_due(plans: Sequence[PlanView], readings: Mapping[int, Sequence[Reading]], on: date) -> list[Due]:
    """Return the plans that need a work order created on ``on``: due within their lead time, none open yet."""
    found = []
    for plan in plans:
        if not plan.active or plan.has_open_order:
            continue
        due = due_on(plan, readings.get(plan.asset_id, ()))
        if due is not None and due - timedelta(days=plan.lead_days) <= on:
            found.append(Due(plan.id, due))
    return found


def advance(plan: PlanView, completed_on: date, meter: float | None) -> PlanView:
    """Return the plan moved on by a completed service: the next cycle counts from the completion.

    A meter plan counts from the meter as read at completion; without a reading, from the threshold it was due at.
    """
    if plan.meter_interval is not None and meter is None and plan.last_service_meter is not None:
        meter = plan.last_service_meter + plan.meter_interval
    return replace(
        plan,
        last_service_on=completed_on,
        last_service_meter=meter if plan.meter_interval is not None else plan.last_service_meter,
        has_open_order=False,
    )


def service_window(due: date, on: date, window_days: int) -> tuple[datetime, datetime]:
    """Return the appointment window of a plan's work order: ``window_days`` either side of the due date (UTC).

    An overdue plan's window runs from the due date's window to ``window_days`` after ``on``, so it can still be
    planned.
    """
    start = datetime.combine(due - timedelta(days=window_days), time(0), tzinfo=UTC)
    end = datetime.combine(max(due, on) + timedelta(days=window_days + 1), time(0), tzinfo=UTC)
    return start, end
