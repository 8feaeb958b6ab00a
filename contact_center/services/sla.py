"""Loading SLA policies from the store and checking due times for warnings and breaches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import SYSTEM
from contact_center.errors import InvalidInput
from contact_center.models import CalendarRecord, Case, CaseEvent, CaseStatus, EventKind, SlaPolicy
from contact_center.reference_cache import ReferenceCache
from contact_center.services.timeline import record_event
from contact_center.services.unique import flush_or_conflict
from contact_center.sla import PolicyTerms
from routing.calendar import BusinessCalendar

__all__ = ["calendar_from_record", "check_sla", "do_create_policy", "load_policies", "sla_report"]

# Statuses in which the clock can run out: resolved and closed cases have met or missed their targets already.
_RUNNING = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.ON_HOLD)
# Warn when this share of the time to a due date has gone.
_WARN_AT = 0.75


async def do_create_policy(session: AsyncSession, policy: SlaPolicy) -> SlaPolicy:
    """Store a new SLA policy; cases opened from now on that match it get its targets."""
    if not policy.name.strip():
        raise InvalidInput("an SLA policy needs a name", field="name")
    if policy.calendar_id is not None and await session.get(CalendarRecord, policy.calendar_id) is None:
        raise InvalidInput(f"calendar {policy.calendar_id} does not exist", field="calendar_id")
    session.add(policy)
    await flush_or_conflict(session, f"SLA policy {policy.name} exists already", field="name")
    return policy


def calendar_from_record(record: CalendarRecord) -> BusinessCalendar:
    """Turn a stored calendar into the pure one the clock uses."""
    return BusinessCalendar.from_mapping(
        {"time_zone": record.time_zone, "hours": record.hours, "holidays": record.holidays}
    )


# Every new case reads the policies; they change rarely, so each process keeps them for a few seconds.
_POLICIES: ReferenceCache[list[PolicyTerms]] = ReferenceCache("sla_policies", (SlaPolicy, CalendarRecord))


async def load_policies(session: AsyncSession) -> list[PolicyTerms]:
    """Return every SLA policy with its calendar (24/7 where it has none), from this process's short-lived copy.

    A transaction of this process that changes a policy or a calendar drops the copy (see `ReferenceCache`).
    """
    return await _POLICIES.get(session, _read_policies)


async def _read_policies(session: AsyncSession) -> list[PolicyTerms]:
    calendars = {c.id: calendar_from_record(c) for c in (await session.scalars(select(CalendarRecord))).all()}
    policies = (await session.scalars(select(SlaPolicy).order_by(col(SlaPolicy.id)))).all()
    return [
        PolicyTerms(
            policy_id=p.id or 0,
            priority=p.priority,
            tier=p.tier,
            first_response_minutes=p.first_response_minutes,
            resolution_minutes=p.resolution_minutes,
            calendar=calendars[p.calendar_id] if p.calendar_id in calendars else BusinessCalendar.always_open(),
        )
        for p in policies
    ]


async def check_sla(session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
    """Write warning and breach events for running cases whose targets are near or past; return what was written.

    Each breach is recorded once: the breached flags on the case make a re-run a no-op, so the timer can run in
    several processes or twice after a restart.
    """
    written: list[tuple[int, str]] = []
    cases = (
        await session.scalars(
            select(Case)
            .where(col(Case.status).in_(_RUNNING), col(Case.sla_paused_since).is_(None))
            .where(
                or_(
                    (col(Case.first_responded_at).is_(None)) & (col(Case.first_response_due_at).is_not(None)),
                    col(Case.resolution_due_at).is_not(None),
                )
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    for case in cases:
        for target, due, met_at, flag in (
            ("first_response", case.first_response_due_at, case.first_responded_at, "first_response_breached"),
            ("resolution", case.resolution_due_at, case.resolved_at, "resolution_breached"),
        ):
            if due is None or met_at is not None or getattr(case, flag):
                continue
            if now >= due:
                setattr(case, flag, True)
                await record_event(session, case, EventKind.SLA_BREACH, SYSTEM, now, data={"target": target})
                written.append((case.id or 0, f"{target}_breach"))
            elif now >= case.created_at + (due - case.created_at) * _WARN_AT and not await _warned(
                session, case, target
            ):
                await record_event(
                    session,
                    case,
                    EventKind.SLA_WARNING,
                    SYSTEM,
                    now,
                    data={"target": target, "due_at": due.isoformat()},
                )
                written.append((case.id or 0, f"{target}_warning"))
    return written


async def _warned(session: AsyncSession, case: Case, target: str) -> bool:
    rows = await session.scalars(
        select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.SLA_WARNING)
    )
    return any(data.get("target") == target for data in rows)


async def sla_report(session: AsyncSession, since: datetime, until: datetime) -> dict[str, object]:
    """Return the share of first-response and resolution targets met, for cases created in [since, until)."""
    cases = (
        await session.scalars(
            select(Case).where(Case.created_at >= since, Case.created_at < until, col(Case.sla_policy_id).is_not(None))
        )
    ).all()

    def share(met: int, total: int) -> float | None:
        return round(met / total, 4) if total else None

    fr_total = fr_met = res_total = res_met = 0
    for case in cases:
        if case.first_responded_at is not None or case.first_response_breached:
            fr_total += 1
            fr_met += not case.first_response_breached
        if case.resolved_at is not None or case.resolution_breached:
            res_total += 1
            res_met += not case.resolution_breached
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "cases": len(cases),
        "first_response": {"measured": fr_total, "met": fr_met, "share_met": share(fr_met, fr_total)},
        "resolution": {"measured": res_total, "met": res_met, "share_met": share(res_met, res_total)},
    }
