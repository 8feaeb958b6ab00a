"""Every change to a case, each writing its timeline event in the same transaction.

Views and channel adapters parse and authorise, then call a `do_*` function here; nothing else assigns to a
case's fields. That keeps the timeline complete and the SLA clock consistent with the status.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.case_status import check_transition, pauses_sla
from contact_center.duplicates import CandidateCase, likely_duplicate
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.models import (
    Agent,
    Case,
    CaseEvent,
    CasePriority,
    CaseStatus,
    Channel,
    Contact,
    Customer,
    EventKind,
    Queue,
    Team,
    parse_case_number,
)
from contact_center.services.sla import load_policies
from contact_center.services.timeline import add_event, event_row, insert_events, new_event, record_event
from contact_center.sla import PolicyTerms, choose_policy, due_times, paused_business_seconds

__all__ = [
    "OPEN_STATUSES",
    "REOPENED_BY_CUSTOMER",
    "Assignment",
    "CaseChanges",
    "NewCase",
    "apply_message",
    "build_case",
    "do_add_note",
    "do_assign_case",
    "do_assign_cases",
    "do_change_status",
    "do_create_case",
    "do_merge_cases",
    "do_record_message",
    "do_update_case",
    "get_case",
    "move_status",
    "open_cases_of",
    "opening_events",
    "timeline",
]

OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.ON_HOLD)
# The body of the status event a customer's message writes when it reopens a case.
REOPENED_BY_CUSTOMER = "customer replied"


@dataclass
class NewCase:
    customer_id: int
    subject: str
    channel: Channel
    priority: CasePriority = CasePriority.NORMAL
    category: str | None = None
    required_skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None
    queue_id: int | None = None
    team_id: int | None = None


@dataclass
class CaseChanges:
    """Fields an agent may edit directly; None leaves a field as it is."""

    subject: str | None = None
    priority: CasePriority | None = None
    category: str | None = None
    required_skills: dict[str, int] | None = None
    language: str | None = None
    queue_id: int | None = None
    team_id: int | None = None


async def get_case(session: AsyncSession, ref: str | int, *, for_update: bool = False) -> Case:
    """Return a case by id or number (CS-000123), or raise NotFound."""
    case_id = ref if isinstance(ref, int) else parse_case_number(ref)
    case = None
    if case_id is not None:
        query = select(Case).where(Case.id == case_id)
        case = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if case is None:
        raise NotFound(f"case {ref} does not exist", resource="case")
    return case


async def do_create_case(session: AsyncSession, new: NewCase, actor: Actor, now: datetime) -> Case:
    """Open a case for a customer, start its SLA clock and flag a likely duplicate.

    The case is inserted (its id is needed); its timeline events are added, written by the next flush.
    """
    customer = await session.get(Customer, new.customer_id)
    if customer is None:
        raise InvalidInput(f"customer {new.customer_id} does not exist", field="customer_id")
    await _check_references(session, queue_id=new.queue_id, team_id=new.team_id)
    case = build_case(new, customer, await load_policies(session), now)
    # Read before the case exists, so the query needs no flush of it and cannot find it.
    open_cases = await open_cases_of(session, [new.customer_id])
    duplicate = likely_duplicate(case.subject, open_cases.get(new.customer_id, []), now)
    case.duplicate_of_id = duplicate.case_id if duplicate else None
    session.add(case)
    await session.flush()
    session.add_all(new_event(case, kind, actor, now, data=data) for kind, data in opening_events(case))
    return case


def build_case(new: NewCase, customer: Customer, policies: list[PolicyTerms], now: datetime) -> Case:
    """Return a new case of the customer with its SLA due times, not yet in any session (references unchecked)."""
    subject = new.subject.strip()
    if not subject:
        raise InvalidInput("a case needs a subject", field="subject")
    case = Case(
        customer_id=new.customer_id,
        subject=subject[:300],
        channel=new.channel,
        priority=new.priority,
        category=new.category,
        required_skills=dict(new.required_skills),
        language=new.language or customer.language,
        queue_id=new.queue_id,
        team_id=new.team_id,
        created_at=now,
        updated_at=now,
    )
    _apply_sla_policy(case, customer, policies)
    return case


def opening_events(case: Case) -> list[tuple[EventKind, dict[str, Any]]]:
    """Return the kind and data of each event that opens a case: created, then flagged if it looks a duplicate."""
    events: list[tuple[EventKind, dict[str, Any]]] = [
        (EventKind.CREATED, {"channel": case.channel.value, "subject": case.subject})
    ]
    if case.duplicate_of_id is not None:
        events.append((EventKind.DUPLICATE_FLAGGED, {"duplicate_of_case_id": case.duplicate_of_id}))
    return events


async def do_update_case(session: AsyncSession, case: Case, changes: CaseChanges, actor: Actor, now: datetime) -> Case:
    """Change a case's editable fields and record what changed; a new priority re-times the SLA."""
    await _check_references(session, queue_id=changes.queue_id, team_id=changes.team_id)
    changed: dict[str, Any] = {}
    for name, value in vars(changes).items():
        if value is not None and getattr(case, name) != value:
            old = getattr(case, name)
            setattr(case, name, value)
            changed[name] = {"from": _plain(old), "to": _plain(value)}
    if not changed:
        return case
    if "priority" in changed:
        customer = await session.get(Customer, case.customer_id)
        assert customer is not None
        _apply_sla_policy(case, customer, await load_policies(session))
    await record_event(session, case, EventKind.UPDATED, actor, now, data={"changes": changed})
    return case


@dataclass(frozen=True)
class Assignment:
    """One case given to an agent (or taken back to the queue with None), by whom and when."""

    case: Case
    agent_id: int | None
    actor: Actor
    at: datetime


async def do_assign_case(session: AsyncSession, case: Case, agent_id: int | None, actor: Actor, now: datetime) -> Case:
    """Give a case to an agent (or take it back to the queue with None); a new case becomes open."""
    await do_assign_cases(session, [Assignment(case, agent_id, actor, now)])
    await session.flush()
    return case


async def do_assign_cases(
    session: AsyncSession, assignments: Sequence[Assignment], events: list[dict[str, Any]] | None = None
) -> None:
    """Apply assignments in order, as `do_assign_case` one after another would, checking every agent in one query.

    Any agent that does not exist or is disabled fails them all (nothing is changed). The timeline events are
    written in one INSERT, in the order they happened; given ``events``, they are appended to it instead, for a
    caller that writes them with its own events of the same transaction (`insert_events`), in their order.
    """
    wanted = {a.agent_id for a in assignments if a.agent_id is not None}
    if wanted:
        active = set(
            (
                await session.scalars(select(Agent.id).where(col(Agent.id).in_(wanted), col(Agent.active).is_(True)))
            ).all()
        )
        refused = sorted(wanted - active)
        if refused:
            raise InvalidInput(f"agent {refused[0]} does not exist or is disabled", field="agent_id")
    rows: list[dict[str, Any]] = []
    for assignment in assignments:
        case, agent_id, actor, at = assignment.case, assignment.agent_id, assignment.actor, assignment.at
        if case.assignee_id == agent_id:
            continue
        assert case.id is not None, "flush the case before assigning it"
        previous, case.assignee_id = case.assignee_id, agent_id
        case.updated_at = at
        rows.append(event_row(case.id, EventKind.ASSIGNED, actor, at, data={"from": previous, "to": agent_id}))
        if agent_id is not None and case.status is CaseStatus.NEW:
            # What `do_change_status` does, without its flush: the status event follows in the same INSERT.
            data = await move_status(session, case, CaseStatus.OPEN, at)
            rows.append(event_row(case.id, EventKind.STATUS, actor, at, data=data))
    if events is None:
        await insert_events(session, rows)
    else:
        events.extend(rows)


async def do_change_status(
    session: AsyncSession, case: Case, target: CaseStatus, actor: Actor, now: datetime, note: str | None = None
) -> Case:
    """Move a case along the transition table, pausing or resuming the SLA clock as the status says."""
    data = await move_status(session, case, target, now)
    await record_event(session, case, EventKind.STATUS, actor, now, body=note, data=data)
    return case


async def move_status(session: AsyncSession, case: Case, target: CaseStatus, now: datetime) -> dict[str, str]:
    """Change a case's status and its SLA clock as `do_change_status` does; return its event's data, unwritten."""
    if case.merged_into_id is not None:
        raise Conflict(f"{case.number} was merged into case {case.merged_into_id}; change that case instead")
    previous = case.status
    check_transition(previous, target)
    case.status = target
    await _move_sla_clock(session, case, now)
    if target is CaseStatus.RESOLVED:
        case.resolved_at = now
    elif target is CaseStatus.CLOSED:
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    elif previous in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        # Reopened: the resolution target runs again from where it stopped.
        case.resolved_at = None
        case.closed_at = None
    return {"from": previous.value, "to": target.value}


async def do_add_note(
    session: AsyncSession, case: Case, body: str, actor: Actor, now: datetime, *, public: bool = False
) -> CaseEvent:
    """Add an internal (or customer-visible) note."""
    if not body.strip():
        raise InvalidInput("a note needs text", field="body")
    return await record_event(session, case, EventKind.NOTE, actor, now, body=body, public=public)


async def do_record_message(
    session: AsyncSession,
    case: Case,
    *,
    inbound: bool,
    body: str,
    actor: Actor,
    now: datetime,
    contact_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Record a message on the case: an answer stops the first-response clock, a customer's message reopens."""
    kind = EventKind.MESSAGE_IN if inbound else EventKind.MESSAGE_OUT
    event = add_event(session, case, kind, actor, now, body=body, data=data, contact_id=contact_id, public=True)
    await session.flush()
    reopened = await apply_message(session, case, inbound=inbound, now=now)
    if reopened is not None:
        await record_event(session, case, EventKind.STATUS, actor, now, body=REOPENED_BY_CUSTOMER, data=reopened)
    return event


async def apply_message(session: AsyncSession, case: Case, *, inbound: bool, now: datetime) -> dict[str, str] | None:
    """Do to a case what a message on it does; return the data of the status event when it reopened the case.

    The caller writes the message's event (public, MESSAGE_IN or MESSAGE_OUT) and, when this returns data, a
    STATUS event with `REOPENED_BY_CUSTOMER` as its body.
    """
    if inbound and case.status in (CaseStatus.PENDING, CaseStatus.RESOLVED, CaseStatus.CLOSED):
        return await move_status(session, case, CaseStatus.OPEN, now)
    if not inbound and case.first_responded_at is None:
        case.first_responded_at = now
    return None


async def do_merge_cases(session: AsyncSession, source: Case, target: Case, actor: Actor, now: datetime) -> Case:
    """Merge a duplicate into the case that continues: its contacts and timeline move, it points to the target."""
    if source.id == target.id:
        raise InvalidInput("a case cannot be merged into itself", field="into")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict("one of these cases was merged already")
    if source.customer_id != target.customer_id:
        raise Conflict("only cases of the same customer can be merged")
    await session.execute(update(Contact).where(col(Contact.case_id) == source.id).values(case_id=target.id))
    await session.execute(update(CaseEvent).where(col(CaseEvent.case_id) == source.id).values(case_id=target.id))
    await record_event(
        session, target, EventKind.MERGED, actor, now, data={"from_case": source.number, "from_case_id": source.id}
    )
    # The source keeps one event of its own, so its number still explains where its history went.
    await record_event(
        session, source, EventKind.MERGED, actor, now, data={"into_case": target.number, "into_case_id": target.id}
    )
    source.merged_into_id = target.id
    source.duplicate_of_id = None
    if source.status is not CaseStatus.CLOSED:
        source.status = CaseStatus.CLOSED
        source.closed_at = now
        source.sla_paused_since = None
        source.first_response_due_at = source.resolution_due_at = None
    if target.duplicate_of_id == source.id:
        target.duplicate_of_id = None
    if target.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        await do_change_status(session, target, CaseStatus.OPEN, actor, now, note="merged with an open case")
    return target


async def timeline(session: AsyncSession, case: Case, *, public_only: bool = False) -> list[CaseEvent]:
    """Return the case's history, oldest first."""
    query = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.created_at), col(CaseEvent.id))
    if public_only:
        query = query.where(col(CaseEvent.public).is_(True))
    return list((await session.scalars(query)).all())


def _apply_sla_policy(case: Case, customer: Customer, policies: list[PolicyTerms]) -> None:
    policy = choose_policy(policies, case.priority, customer.tier)
    case.sla_policy_id = policy.policy_id if policy else None
    if policy is None or case.sla_paused_since is not None:
        case.first_response_due_at = case.resolution_due_at = None
        return
    due = due_times(policy, case.created_at, case.sla_paused_seconds)
    case.first_response_due_at = due.first_response_due_at
    case.resolution_due_at = due.resolution_due_at


async def _move_sla_clock(session: AsyncSession, case: Case, now: datetime) -> None:
    """Pause the clock on entering a waiting-on-customer status; on leaving it, add the pause and re-time."""
    paused = pauses_sla(case.status)
    if paused and case.sla_paused_since is None:
        case.sla_paused_since = now
        case.first_response_due_at = case.resolution_due_at = None
        return
    if not paused and case.sla_paused_since is not None:
        policies = await load_policies(session)
        policy = next((p for p in policies if p.policy_id == case.sla_policy_id), None)
        if policy is not None:
            case.sla_paused_seconds += paused_business_seconds(policy.calendar, case.sla_paused_since, now)
        case.sla_paused_since = None
        customer = await session.get(Customer, case.customer_id)
        assert customer is not None
        _apply_sla_policy(case, customer, policies)


async def open_cases_of(session: AsyncSession, customer_ids: Collection[int]) -> dict[int, list[CandidateCase]]:
    """Return each customer's open cases (what a new case could duplicate), oldest first, in one query."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(Case.customer_id, Case.id, Case.subject, Case.created_at)
        .where(
            col(Case.customer_id).in_(customer_ids),
            col(Case.status).in_(OPEN_STATUSES),
            col(Case.merged_into_id).is_(None),
        )
        .order_by(col(Case.id))
    )
    found: dict[int, list[CandidateCase]] = {}
    for row in rows:
        found.setdefault(row.customer_id, []).append(
            CandidateCase(case_id=row.id, subject=row.subject, created_at=row.created_at)
        )
    return found


async def _check_references(session: AsyncSession, *, queue_id: int | None, team_id: int | None) -> None:
    if queue_id is not None and await session.get(Queue, queue_id) is None:
        raise InvalidInput(f"queue {queue_id} does not exist", field="queue_id")
    if team_id is not None and await session.get(Team, team_id) is None:
        raise InvalidInput(f"team {team_id} does not exist", field="team_id")


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
