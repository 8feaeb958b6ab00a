"""Taking in contacts: every accepted contact ends as a case, exactly once per external id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from contact_center.actors import Actor
from contact_center.addresses import normalise_address
from contact_center.db import Database
from contact_center.duplicates import CandidateCase, likely_duplicate
from contact_center.errors import InvalidInput
from contact_center.models import (
    ActorKind,
    Agent,
    Case,
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
from contact_center.services.cases import (
    REOPENED_BY_CUSTOMER,
    NewCase,
    apply_message,
    build_case,
    open_cases_of,
    opening_events,
)
from contact_center.services.customers import CustomerFields, new_customer
from contact_center.services.intake_lookups import (
    JOINABLE,
    contacts_by_external_id,
    customers_by_address,
    existing_queues,
    hinted_cases,
    thread_cases,
)
from contact_center.services.sla import load_policies
from contact_center.services.timeline import event_row, insert_events
from contact_center.sla import PolicyTerms

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
    (result,) = await do_receive_contacts(session, [(intake, now)], region=region)
    return result


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
    and an external id given twice returns the first contact both times. The statements do not grow with the
    batch: each lookup is one query for all items, each table is written with one INSERT (`_Batch`). The results'
    contacts, cases and customers belong to the session, so the caller may go on changing them.
    """
    batch = _Batch(session, region)
    return await batch.take(items)


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


_Address = tuple[IdentityKind, str]
# An event an item writes after its case's opening ones: kind, body, data, public, and whether it names the contact.
_Event = tuple[EventKind, str | None, dict[str, Any] | None, bool, bool]
# Where a contact stands on its thread: (started at, made by this batch, contact id or position in the batch).
_ThreadOrder = tuple[datetime, int, int]


@dataclass
class _Item:
    """What the batch decided for one new contact; written once every id it needs is known."""

    at: datetime
    customer: Customer
    case: Case
    contact: Contact
    joined: bool
    events: list[_Event] = field(default_factory=list)
    # The contact reopened a resolved or closed case, which so became open again (a duplicate candidate).
    reopened: bool = False


class _Batch:
    """Take in contacts with a fixed number of statements: read everything, decide in memory, write each table once.

    The reads are one query each for all items (`intake_lookups`). The decisions then run item by item, in order,
    over the rows read plus what the earlier items made, as one transaction per item would decide them. The writes
    are one multi-row INSERT per table (customers, identities, cases, contacts, events) with the new ids read back
    in the order sent; the new rows are then attached to the session as if just loaded, and the session's flush
    writes what changed on cases that existed (touched, reopened).
    """

    def __init__(self, session: AsyncSession, region: str) -> None:
        self.session = session
        self.region = region
        self.customers: dict[_Address, Customer] = {}
        self.new_customers: list[tuple[Customer, _Address, datetime]] = []
        self.hinted: dict[int, Case] = {}
        self.queues: set[int] = set()
        # (channel, thread key, id(customer)) -> the thread's contacts that a later contact could continue.
        self.threads: dict[tuple[Channel, str, int], list[tuple[_ThreadOrder, Case]]] = {}
        self.policies: list[PolicyTerms] | None = None
        # A new case flagged as a duplicate of another one opened in this batch (linked once both have ids).
        self.duplicate_links: list[tuple[Case, Case]] = []

    async def take(self, items: Sequence[tuple[ContactIntake, datetime]]) -> list[ContactResult]:
        """Return each item's result, in order; an invalid item raises when its turn comes, as one by one."""
        stored = await contacts_by_external_id(self.session, {(i.channel, i.external_id) for i, _ in items})
        addresses = [None if (i.channel, i.external_id) in stored else self._address(i) for i, _ in items]
        await self._read([(i, a) for (i, _), a in zip(items, addresses, strict=True) if isinstance(a, tuple)])
        results: list[ContactResult] = []
        made: dict[tuple[Channel, str], _Item] = {}
        for position, ((intake, at), address) in enumerate(zip(items, addresses, strict=True)):
            check_intake(intake)
            key = (intake.channel, intake.external_id)
            if key in stored:
                contact, case, customer = stored[key]
                results.append(ContactResult(contact=contact, case=case, customer=customer, created=False))
            elif key in made:
                first = made[key]
                results.append(
                    ContactResult(contact=first.contact, case=first.case, customer=first.customer, created=False)
                )
            elif isinstance(address, InvalidInput):
                raise address
            else:
                assert address is not None
                item = made[key] = await self._decide(position, intake, at, address)
                results.append(
                    ContactResult(
                        contact=item.contact,
                        case=item.case,
                        customer=item.customer,
                        created=True,
                        joined_existing_case=item.joined,
                    )
                )
        if made:
            decided = list(made.values())
            await self._flag_duplicates(decided)
            await self._write(decided)
        return results

    def _address(self, intake: ContactIntake) -> _Address | InvalidInput:
        kind = identity_kind(intake.channel, intake.address)
        try:
            return kind, normalise_address(kind, intake.address, default_region=self.region)
        except InvalidInput as exc:
            return exc

    async def _read(self, fresh: list[tuple[ContactIntake, _Address]]) -> None:
        """Read the customers, named cases, queues and threads the new contacts need."""
        session = self.session
        self.customers = await customers_by_address(session, {address for _, address in fresh})
        hints = {intake.case_id for intake, _ in fresh if intake.case_id is not None}
        self.hinted = await hinted_cases(session, hints)
        self.queues = await existing_queues(session, {i.queue_id for i, _ in fresh if i.queue_id is not None})
        by_id = {customer.id or 0: customer for customer in self.customers.values()}
        wanted = set()
        for intake, address in fresh:
            customer = self.customers.get(address)
            thread_key = _thread_key(intake, address)
            if customer is not None and thread_key is not None and intake.case_id is None:
                wanted.add((intake.channel, thread_key, customer.id or 0))
        for row in await thread_cases(session, wanted, hints):
            key = (row.channel, row.thread_key, id(by_id[row.customer_id]))
            self.threads.setdefault(key, []).append(((row.started_at, 0, row.contact_id), row.case))

    async def _decide(self, position: int, intake: ContactIntake, at: datetime, address: _Address) -> _Item:
        """Find or make the customer, join or open the case, and apply the message, as one contact alone would."""
        customer = self.customers.get(address)
        known = customer is not None
        if customer is None:
            customer = new_customer(CustomerFields(name=intake.name or intake.address, language=intake.language), at)
            self.customers[address] = customer
            self.new_customers.append((customer, address, at))
        thread_key = _thread_key(intake, address)
        # A customer created just now has no case yet to continue (unless the channel names one).
        case = self._case_to_join(intake, customer, thread_key if known else None)
        joined = case is not None
        if case is None:
            case = await self._open(intake, customer, address, at)
        contact = Contact(
            case_id=case.id or 0,
            customer_id=customer.id or 0,
            channel=intake.channel,
            direction=intake.direction,
            external_id=intake.external_id,
            address=address[1],
            thread_key=thread_key,
            queue_id=intake.queue_id,
            started_at=at,
        )
        item = _Item(at, customer, case, contact, joined)
        if thread_key is not None:
            self.threads.setdefault((intake.channel, thread_key, id(customer)), []).append(((at, 1, position), case))
        channel = {"channel": intake.channel.value}
        if joined:
            item.events.append((EventKind.CONTACT_JOINED, None, channel, False, True))
            case.updated_at = at
        if intake.body:
            inbound = intake.direction is Direction.INBOUND
            data = {**channel, "subject": intake.subject} if intake.subject else None
            item.events.append(
                (EventKind.MESSAGE_IN if inbound else EventKind.MESSAGE_OUT, intake.body, data, True, True)
            )
            case.updated_at = at
            previous = case.status
            reopened = await apply_message(self.session, case, inbound=inbound, now=at)
            if reopened is not None:
                item.events.append((EventKind.STATUS, REOPENED_BY_CUSTOMER, reopened, False, False))
                item.reopened = previous in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
        return item

    def _case_to_join(self, intake: ContactIntake, customer: Customer, thread_key: str | None) -> Case | None:
        if intake.case_id is not None:
            case = self.hinted.get(intake.case_id)
            # A case opened earlier in this batch has no id yet, so a hint cannot name it and fails here. That loses
            # and misfiles nothing: no channel can know such an id (email ends its wave before a message naming an
            # unknown case number), and a caller guessing one fails the batch, which the intake queue then takes in
            # item by item, in order, so the hint finds the case just committed, as one by one.
            if case is None:
                raise InvalidInput(f"case {intake.case_id} does not exist", field="case_id")
            # A contact may only join a case of the same customer; otherwise it starts its own.
            if case.customer_id == customer.id and case.merged_into_id is None:
                return case
            return None
        if thread_key is None:
            return None
        # The thread's latest contact whose case may still be joined (this batch may have reopened one).
        candidates = [
            (order, case)
            for order, case in self.threads.get((intake.channel, thread_key, id(customer)), [])
            if case.status in JOINABLE and case.merged_into_id is None
        ]
        return max(candidates, key=lambda candidate: candidate[0])[1] if candidates else None

    async def _open(self, intake: ContactIntake, customer: Customer, address: _Address, at: datetime) -> Case:
        if intake.queue_id is not None and intake.queue_id not in self.queues:
            raise InvalidInput(f"queue {intake.queue_id} does not exist", field="queue_id")
        if self.policies is None:
            self.policies = await load_policies(self.session)
        new = NewCase(
            customer_id=customer.id or 0,
            subject=_subject(intake, address[1]),
            channel=intake.channel,
            priority=intake.priority,
            category=intake.category,
            required_skills=intake.required_skills,
            language=intake.language,
            queue_id=intake.queue_id,
        )
        return build_case(new, customer, self.policies, at)

    async def _flag_duplicates(self, decided: list[_Item]) -> None:
        """Flag each new case that looks like an open case of its customer, counting those the batch opened."""
        known = {item.customer.id for item in decided if not item.joined and item.customer.id is not None}
        # As the store had them before this batch: what the batch changed (a case reopened) it counts itself.
        with self.session.no_autoflush:
            stored = await open_cases_of(self.session, known)
        open_now: dict[int, list[CandidateCase]] = {}
        # Cases this batch opened have no id yet: they stand in the candidates under a negative one.
        unsaved: dict[int, Case] = {}

        def candidate(case: Case) -> CandidateCase:
            if case.id is None:
                unsaved[-1 - len(unsaved)] = case
                return CandidateCase(case_id=-len(unsaved), subject=case.subject, created_at=case.created_at)
            return CandidateCase(case_id=case.id, subject=case.subject, created_at=case.created_at)

        for item in decided:
            candidates = open_now.setdefault(id(item.customer), list(stored.get(item.customer.id or 0, [])))
            if not item.joined:
                # A customer created just now has no case a new one could duplicate.
                # In id order, as the store lists them, so that a tie goes to the same (oldest) case.
                in_order = sorted(candidates, key=lambda c: (c.case_id < 0, abs(c.case_id)))
                duplicate = likely_duplicate(item.case.subject, in_order, item.at)
                if duplicate is not None and duplicate.case_id > 0:
                    item.case.duplicate_of_id = duplicate.case_id
                elif duplicate is not None:
                    self.duplicate_links.append((item.case, unsaved[duplicate.case_id]))
                candidates.append(candidate(item.case))
            elif item.reopened:
                candidates.append(candidate(item.case))

    async def _write(self, decided: list[_Item]) -> None:
        """Insert the new rows table by table, attach them to the session, and flush the changed cases."""
        session = self.session
        if self.new_customers:
            await _insert_attached(session, [customer for customer, _, _ in self.new_customers])
            identities = [
                {"customer_id": customer.id, "kind": kind, "address": address, "created_at": at}
                for customer, (kind, address), at in self.new_customers
            ]
            await session.execute(insert(_IDENTITIES), identities)
        opened = [item for item in decided if not item.joined]
        for item in opened:
            item.case.customer_id = item.customer.id or 0
        await _insert_attached(session, [item.case for item in opened])
        for case, original in self.duplicate_links:
            case.duplicate_of_id = original.id
        for item in decided:
            item.contact.case_id = item.case.id or 0
            item.contact.customer_id = item.customer.id or 0
        # A concurrent delivery of the same external id (or first contact from the same address) fails here.
        await _insert_attached(session, [item.contact for item in decided])
        rows: list[dict[str, Any]] = []
        for item in decided:
            case_id = item.case.id or 0
            actor = Actor(ActorKind.CUSTOMER, item.customer.id, item.customer.name)
            if not item.joined:
                rows.extend(
                    event_row(case_id, kind, actor, item.at, data=data) for kind, data in opening_events(item.case)
                )
            rows.extend(
                event_row(
                    case_id,
                    kind,
                    actor,
                    item.at,
                    body=body,
                    data=data,
                    contact_id=item.contact.id if names_contact else None,
                    public=public,
                )
                for kind, body, data, public, names_contact in item.events
            )
        await insert_events(session, rows)
        await session.flush()


_IDENTITIES = Identity.__table__  # type: ignore[attr-defined]


async def _insert_attached(session: AsyncSession, rows: Sequence[Case | Contact | Customer]) -> None:
    """Insert new instances in one statement, give them their ids, and attach them to the session as loaded.

    Attached this way (not added as new), the session writes no INSERT of its own for them, and a later change
    to one of them is flushed as an UPDATE like a change to any row read from the store.
    """
    if not rows:
        return
    table = type(rows[0]).__table__  # type: ignore[union-attr]
    names = [column.key for column in table.columns if not column.primary_key]
    values = [{name: getattr(row, name) for name in names} for row in rows]
    # Ids are handed out in the order of the VALUES rows (a sequence's next value per row on PostgreSQL, the next
    # rowid per row on SQLite, which BEGIN IMMEDIATE lets no one else write meanwhile), but RETURNING's own order
    # is not promised: sorted, they line up with the rows. (SQLAlchemy's `sort_by_parameter_order` makes SQLite
    # send one INSERT per row.)
    ids = sorted(await session.scalars(insert(table).returning(table.c.id), values))
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id
        make_transient_to_detached(row)
    session.add_all(rows)


def _thread_key(intake: ContactIntake, address: _Address) -> str | None:
    """Return the thread a contact continues: the channel's own key, or for texts the sender's number."""
    return intake.thread_key or (address[1] if intake.channel is Channel.SMS else None)


def _subject(intake: ContactIntake, address: str) -> str:
    if intake.subject and intake.subject.strip():
        return intake.subject.strip()
    if intake.body and intake.body.strip():
        first_line = intake.body.strip().splitlines()[0]
        return first_line[:80] + ("…" if len(first_line) > 80 else "")
    return f"{intake.channel.value} contact from {address}"
