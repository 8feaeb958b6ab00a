"""Every change to a case, each writing its timeline event in the same transaction.

Views and channel adapters parse and authorise, then call a `do_*` function here; nothing else assigns to a
case's fields. That keeps the timeline complete and the SLA clock consistent with the status.
"""

from __future__ import annotations

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
from contact_center.services.timeline import add_event, new_event, record_event
from contact_center.sla import PolicyTerms, choose_policy, due_times, paused_business_seconds

__all__ = [
    "OPEN_STATUSES",
    "CaseChanges",
    "NewCase",
    "do_add_note",
    "do_assign_case",
    "do_change_status",
    "do_create_case",
    "do_merge_cases",
    "do_record_message",
    "do_update_case",
    "get_case",
    "open_case",
    "timeline",
]

OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.ON_HOLD)


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
    case, events = await open_case(session, new, actor, now)
    session.add_all(events)
    return case


async def open_case(
    session: AsyncSession,
    new: NewCase,
    actor: Actor,
    now: datetime,
    *,
    open_cases: list[CandidateCase] | None = None,
) -> tuple[Case, list[CaseEvent]]:
    """Insert a case as `do_create_case` does, but hand back its timeline events for the caller to add.

    The inbound path inserts the contact before it adds them, so that all of a contact's events share one INSERT.
    `open_cases` are the customer's open cases when the caller knows them (none for a customer created just now).
    """
    customer = await session.get(Customer, new.customer_id)
    if customer is None:
        raise InvalidInput(f"customer {new.customer_id} does not exist", field="customer_id")
    await _check_references(session, queue_id=new.queue_id, team_id=new.team_id)
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
    # Read before the case exists, so the query needs no flush of it and cannot find it.
    if open_cases is None:
        open_cases = await _open_cases_of(session, new.customer_id)
    duplicate = likely_duplicate(case.subject, open_cases, now)
    await _apply_sla_policy(session, case, customer)
    session.add(case)
    await session.flush()
    created = {"channel": case.channel.value, "subject": case.subject}
    events = [new_event(case, EventKind.CREATED, actor, now, data=created)]
    if duplicate is not None:
        case.duplicate_of_id = duplicate.case_id
        flagged = {"duplicate_of_case_id": duplicate.case_id}
        events.append(new_event(case, EventKind.DUPLICATE_FLAGGED, actor, now, data=flagged))
    return case, events


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
        await _apply_sla_policy(session, case, customer)
    await record_event(session, case, EventKind.UPDATED, actor, now, data={"changes": changed})
    return case


async def do_assign_case(session: AsyncSession, case: Case, agent_id: int | None, actor: Actor, now: datetime) -> Case:
    """Give a case to an agent (or take it back to the queue with None); a new case becomes open."""
    if agent_id is not None:
        agent = await session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise InvalidInput(f"agent {agent_id} does not exist or is disabled", field="agent_id")
    if case.assignee_id == agent_id:
        return case
    previous, case.assignee_id = case.assignee_id, agent_id
    await record_event(session, case, EventKind.ASSIGNED, actor, now, data={"from": previous, "to": agent_id})
    if agent_id is not None and case.status is CaseStatus.NEW:
        await do_change_status(session, case, CaseStatus.OPEN, actor, now)
    return case


async def do_change_status(
    session: AsyncSession, case: Case, target: CaseStatus, actor: Actor, now: datetime, note: str | None = None
) -> Case:
    """Move a case along the transition table, pausing or resuming the SLA clock as the status says."""
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
    await record_event(
        session, case, EventKind.STATUS, actor, now, body=note, data={"from": previous.value, "to": target.value}
    )
    return case


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
    flush: bool = True,
) -> CaseEvent:
    """Record a message on the case: an answer stops the first-response clock, a customer's message reopens.

    With `flush=False` the event waits for the transaction's next flush (the inbound path writes all at once).
    """
    event = add_event(
        session,
        case,
        EventKind.MESSAGE_IN if inbound else EventKind.MESSAGE_OUT,
        actor,
        now,
        body=body,
        data=data,
        contact_id=contact_id,
        public=True,
    )
    if flush:
        await session.flush()
    if inbound and case.status in (CaseStatus.PENDING, CaseStatus.RESOLVED, CaseStatus.CLOSED):
        await do_change_status(session, case, CaseStatus.OPEN, actor, now, note="customer replied")
    elif not inbound and case.first_responded_at is None:
        case.first_responded_at = now
    return event


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


async def _apply_sla_policy(
    session: AsyncSession, case: Case, customer: Customer, policies: list[PolicyTerms] | None = None
) -> None:
    if policies is None:
        policies = await load_policies(session)
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
        await _apply_sla_policy(session, case, customer, policies)


async def _open_cases_of(session: AsyncSession, customer_id: int) -> list[CandidateCase]:
    rows = await session.execute(
        select(Case.id, Case.subject, Case.created_at).where(
            Case.customer_id == customer_id,
            col(Case.status).in_(OPEN_STATUSES),
            col(Case.merged_into_id).is_(None),
        )
    )
    return [CandidateCase(case_id=r.id, subject=r.subject, created_at=r.created_at) for r in rows]


async def _check_references(session: AsyncSession, *, queue_id: int | None, team_id: int | None) -> None:
    if queue_id is not None and await session.get(Queue, queue_id) is None:
        raise InvalidInput(f"queue {queue_id} does not exist", field="queue_id")
    if team_id is not None and await session.get(Team, team_id) is None:
        raise InvalidInput(f"team {team_id} does not exist", field="team_id")


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
