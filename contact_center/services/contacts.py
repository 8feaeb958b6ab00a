"""Taking in contacts: every accepted contact ends as a case, exactly once per external id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.addresses import normalise_address
from contact_center.db import Database
from contact_center.errors import InvalidInput
from contact_center.models import (
    ActorKind,
    Agent,
    Case,
    CaseEvent,
    CasePriority,
    CaseStatus,
    Channel,
    Contact,
    Customer,
    Direction,
    EventKind,
    Identity,
    IdentityKind,
    Queue,
)
from contact_center.services.cases import NewCase, do_record_message, open_case
from contact_center.services.customers import CustomerFields, do_create_customer, find_customer
from contact_center.services.timeline import add_event

__all__ = [
    "ContactIntake",
    "ContactResult",
    "ContactTimes",
    "check_intake",
    "do_receive_contact",
    "do_receive_contacts",
    "do_update_contact",
    "identity_kind",
    "receive_contact",
    "receive_contacts",
]

# Cases a new contact on the same thread may join; a resolved one is reopened by it, a closed one is not.
_JOINABLE = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.ON_HOLD, CaseStatus.RESOLVED)
_ATTEMPTS = 3


@dataclass
class ContactIntake:
    """One inbound (or outbound) interaction as a channel adapter or the API reports it."""

    channel: Channel
    external_id: str
    address: str
    direction: Direction = Direction.INBOUND
    name: str | None = None
    subject: str | None = None
    body: str | None = None
    thread_key: str | None = None
    # A case the channel already matched, e.g. from email References or "[CS-000123]" in a subject.
    case_id: int | None = None
    queue_id: int | None = None
    priority: CasePriority = CasePriority.NORMAL
    category: str | None = None
    required_skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None


@dataclass
class ContactResult:
    """The contact, its case and the customer they belong to (read with them, so routing needs no second look)."""

    contact: Contact
    case: Case
    customer: Customer
    created: bool
    joined_existing_case: bool = False


@dataclass
class ContactTimes:
    """Progress of a contact through queue and agent; None leaves a field unchanged."""

    queue_id: int | None = None
    agent_id: int | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    disposition: str | None = None


def identity_kind(channel: Channel, address: str) -> IdentityKind:
    """Return the kind of address a channel's contacts come from (web forms and chats may give an email address)."""
    if channel in (Channel.VOICE, Channel.SMS):
        return IdentityKind.PHONE
    if channel is Channel.EMAIL or (channel in (Channel.WEB, Channel.CHAT) and "@" in address):
        return IdentityKind.EMAIL
    return IdentityKind.CHAT


async def receive_contact(db: Database, intake: ContactIntake, now: datetime, *, region: str = "US") -> ContactResult:
    """Record a contact and the case it belongs to; the same external id twice returns the first contact.

    Two concurrent deliveries of one webhook race on the unique (channel, external id) key: the loser's whole
    transaction rolls back (no half-made case) and it returns the winner's contact.
    """
    check_intake(intake)
    for attempt in range(_ATTEMPTS):
        try:
            async with db.transaction() as session:
                return await do_receive_contact(session, intake, now, region=region)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def do_receive_contact(
    session: AsyncSession, intake: ContactIntake, now: datetime, *, region: str = "US"
) -> ContactResult:
    """Record a contact and its case in the caller's transaction; the same external id twice returns the first.

    A concurrent delivery of the same external id makes the caller's commit (or a flush) raise IntegrityError:
    the caller rolls back and tries again, which then finds the winner's contact (`receive_contact` does so).
    """
    check_intake(intake)
    existing = await _existing(session, intake)
    if existing is not None:
        return existing
    return await _receive(session, intake, now, region)


async def receive_contacts(
    db: Database, items: Sequence[tuple[ContactIntake, datetime]], *, region: str = "US"
) -> list[ContactResult]:
    """Record several contacts in one transaction, each at its own time; results in the order given.

    All or nothing: a concurrent delivery of one external id rolls the whole batch back and it is tried again,
    which then finds the winner's contact.
    """
    for intake, _at in items:
        check_intake(intake)
    for attempt in range(_ATTEMPTS):
        try:
            async with db.transaction() as session:
                return await do_receive_contacts(session, items, region=region)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def do_receive_contacts(
    session: AsyncSession, items: Sequence[tuple[ContactIntake, datetime]], *, region: str = "US"
) -> list[ContactResult]:
    """Record several contacts in the caller's transaction, as `do_receive_contact` would one after another.

    A later item sees what the earlier ones made: a second text from a new number joins the case the first opened,
    and an external id given twice returns the first contact both times.
    """
    return [await do_receive_contact(session, intake, at, region=region) for intake, at in items]


def check_intake(intake: ContactIntake) -> None:
    """Refuse an intake that could never be stored (no external id to keep it idempotent by)."""
    if not intake.external_id.strip():
        raise InvalidInput("a contact needs the channel's external id", field="external_id")


async def do_update_contact(session: AsyncSession, contact: Contact, times: ContactTimes) -> Contact:
    """Record a contact's answer, end and disposition; wait and handle times follow from the timestamps."""
    if times.agent_id is not None and await session.get(Agent, times.agent_id) is None:
        raise InvalidInput(f"agent {times.agent_id} does not exist", field="agent_id")
    if times.queue_id is not None and await session.get(Queue, times.queue_id) is None:
        raise InvalidInput(f"queue {times.queue_id} does not exist", field="queue_id")
    for name, value in vars(times).items():
        if value is not None:
            setattr(contact, name, value)
    if contact.answered_at is not None:
        if contact.answered_at < contact.started_at:
            raise InvalidInput("answered_at is before the contact started", field="answered_at")
        contact.wait_seconds = (contact.answered_at - contact.started_at).total_seconds()
    if contact.ended_at is not None:
        begin = contact.answered_at or contact.started_at
        if contact.ended_at < begin:
            raise InvalidInput("ended_at is before the contact was answered", field="ended_at")
        contact.handle_seconds = (contact.ended_at - begin).total_seconds() if contact.answered_at else 0.0
    await session.flush()
    return contact


async def _existing(session: AsyncSession, intake: ContactIntake) -> ContactResult | None:
    row = (
        await session.execute(
            select(Contact, Case, Customer)
            .join(Case, col(Case.id) == Contact.case_id)
            .join(Customer, col(Customer.id) == Case.customer_id)
            .where(Contact.channel == intake.channel, Contact.external_id == intake.external_id)
        )
    ).first()
    if row is None:
        return None
    contact, case, customer = row
    return ContactResult(contact=contact, case=case, customer=customer, created=False)


async def _receive(session: AsyncSession, intake: ContactIntake, now: datetime, region: str) -> ContactResult:
    """Take in a new contact with as few round trips as the rows allow: each table is written once, at the end.

    A known customer costs one read (identity and customer together), one for the thread's open case, and when
    a case is opened one for likely duplicates; then the case, the contact and every timeline event are inserted.
    """
    kind = identity_kind(intake.channel, intake.address)
    address = normalise_address(kind, intake.address, default_region=region)
    customer = await find_customer(session, kind, address)
    known = customer is not None
    if customer is None:
        customer = await _new_customer(session, intake, kind, address, now)
    thread_key = intake.thread_key or (address if intake.channel is Channel.SMS else None)
    actor = Actor(ActorKind.CUSTOMER, customer.id, customer.name)

    # A customer created just now has no case yet to continue (unless the channel names one).
    case = await _case_to_join(session, intake, customer, thread_key if known else None)
    joined = case is not None
    case_events: list[CaseEvent] = []
    if case is None:
        case, case_events = await open_case(
            session,
            NewCase(
                customer_id=customer.id or 0,
                subject=_subject(intake, address),
                channel=intake.channel,
                priority=intake.priority,
                category=intake.category,
                required_skills=intake.required_skills,
                language=intake.language,
                queue_id=intake.queue_id,
            ),
            actor,
            now,
            # A customer created just now has no case a new one could duplicate.
            open_cases=None if known else [],
        )
    contact = Contact(
        case_id=case.id or 0,
        customer_id=customer.id or 0,
        channel=intake.channel,
        direction=intake.direction,
        external_id=intake.external_id,
        address=address,
        thread_key=thread_key,
        queue_id=intake.queue_id,
        started_at=now,
    )
    session.add(contact)
    # The events below need the contact's id; a concurrent delivery of the same external id fails here. The case's
    # own events are added after it, so that every timeline event of this contact goes in one INSERT at the end.
    await session.flush()
    session.add_all(case_events)
    if joined:
        add_event(
            session,
            case,
            EventKind.CONTACT_JOINED,
            actor,
            now,
            contact_id=contact.id,
            data={"channel": intake.channel.value},
        )
    if intake.body:
        await do_record_message(
            session,
            case,
            inbound=intake.direction is Direction.INBOUND,
            body=intake.body,
            actor=actor,
            now=now,
            contact_id=contact.id,
            data={"channel": intake.channel.value, "subject": intake.subject} if intake.subject else None,
            flush=False,
        )
    await session.flush()
    return ContactResult(contact=contact, case=case, customer=customer, created=True, joined_existing_case=joined)


async def _new_customer(
    session: AsyncSession, intake: ContactIntake, kind: IdentityKind, address: str, now: datetime
) -> Customer:
    customer = await do_create_customer(
        session, CustomerFields(name=intake.name or intake.address, language=intake.language), now
    )
    # find_customer has just found no identity in this transaction, so it is added without asking again.
    session.add(Identity(customer_id=customer.id or 0, kind=kind, address=address, created_at=now))
    return customer


async def _case_to_join(
    session: AsyncSession, intake: ContactIntake, customer: Customer, thread_key: str | None
) -> Case | None:
    if intake.case_id is not None:
        case = await session.get(Case, intake.case_id)
        if case is None:
            raise InvalidInput(f"case {intake.case_id} does not exist", field="case_id")
        # A contact may only join a case of the same customer; otherwise it starts its own.
        if case.customer_id == customer.id and case.merged_into_id is None:
            return case
        return None
    if thread_key is None:
        return None
    row = (
        await session.execute(
            select(Case)
            .join(Contact, col(Contact.case_id) == Case.id)
            .where(
                Contact.channel == intake.channel,
                Contact.thread_key == thread_key,
                Contact.customer_id == customer.id,
                col(Case.status).in_(_JOINABLE),
                col(Case.merged_into_id).is_(None),
            )
            .order_by(col(Contact.started_at).desc(), col(Contact.id).desc())
            .limit(1)
        )
    ).first()
    return row[0] if row else None


def _subject(intake: ContactIntake, address: str) -> str:
    if intake.subject and intake.subject.strip():
        return intake.subject.strip()
    if intake.body and intake.body.strip():
        first_line = intake.body.strip().splitlines()[0]
        return first_line[:80] + ("…" if len(first_line) > 80 else "")
    return f"{intake.channel.value} contact from {address}"
