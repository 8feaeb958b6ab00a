"""Statement budgets for taking in one contact: the inbound hot path must not silently grow its SQL.

Issue 9's load target (1,000 inbound contacts/s on two cores) is a budget of SQL round trips per contact; these
tests count every statement sent to the database (BEGIN and COMMIT aside) while a contact is taken in and routed,
and fail when a change adds one. Lower the numbers when the path gets cheaper; raise them only on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from contact_center.channels.chat.service import ChatService, ChatStart
from contact_center.channels.twilio.options import TwilioOptions
from contact_center.channels.twilio.sms import receive_sms
from contact_center.db import Database
from contact_center.dispatch import Dispatcher, RouteRequest, queue_terms, task_id_for
from contact_center.hub import EventHub
from contact_center.intake_queue import IntakeQueue
from contact_center.models import Case, Channel, Contact, IdentityKind, Role
from contact_center.services.agents import AgentFields, do_create_agent
from contact_center.services.contacts import ContactIntake, receive_contact, receive_contacts
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from contact_center.services.sla import load_policies
from contact_center.services.users import do_create_user
from routing.events import TaskAccepted
from routing.memory import MemoryBackend
from routing.models import Activity, AgentState
from routing.workflows import RoutingRules

ALICE = "+14155550111"
STRANGER = "+14155550199"

# Statements per contact, the same on PostgreSQL and SQLite (every timeline event of a batch goes in one INSERT).
# Routing to a queue without a `queues` row (here the default) costs one UPDATE more: the contact's `queue_name`,
# which a Redis restart re-queues it by (one executemany for a whole routed batch).
NEW_SMS_FROM_KNOWN_CUSTOMER = 9
SMS_JOINING_OPEN_CASE = 7
NEW_SMS_FROM_STRANGER = 9
# A retried webhook finds its contact, and routing reads it once more: new contacts, by far the most, are not
# looked up in Redis before their submit (the engine refuses a task it holds), so a batch is one round trip.
REPEATED_WEBHOOK = 2
API_CONTACT_WITHOUT_ROUTING = 6
ROUTING_TWICE = 3  # read + queue_name, then the second submit's read (refused by the engine)
CHAT_START_FROM_KNOWN_EMAIL = 13
# An agent accepting a contact and completing it: the contact with its locked case in one read, the agent's
# check, then one UPDATE of the contact, one of the case and one INSERT of its events (assigned, status); the
# completion reads and updates only the contact. It was 12 when each decision read and flushed row by row.
ACCEPT_AND_COMPLETE = 7
# Concurrent acceptances share a transaction with the same statements as one alone, however many there are.
ACCEPTED_BATCH = 5
# Statements for a whole batch of contacts of every kind (new numbers, known customers joining their case or
# opening one, a repeated id): each lookup is one query and each table one INSERT, however many contacts.
MIXED_BATCH = 10


class Statements:
    """Counts the statements a block of code sends to one database."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            self.sent.append(statement)

    def __len__(self) -> int:
        return len(self.sent)

    def report(self) -> str:
        return "\n".join(f"{n}. {s.splitlines()[0][:160]}" for n, s in enumerate(self.sent, 1))


@contextmanager
def counting(database: Database) -> Iterator[Statements]:
    statements = Statements()
    event.listen(database.engine.sync_engine, "before_cursor_execute", statements)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", statements)


def text(body: str, sid: str, sender: str = ALICE) -> dict[str, str]:
    return {"MessageSid": sid, "From": sender, "To": "+18005550100", "Body": body}


@pytest.fixture(autouse=True)
async def warm_caches(database) -> None:
    """Read the reference data once, as a running server has: the budgets are for a contact in steady state."""
    async with database.transaction() as session:
        await load_policies(session)
        await queue_terms(session)


@pytest.fixture
async def alice(database, clock) -> int:
    async with database.transaction() as session:
        customer = await do_create_customer(session, CustomerFields(name="Alice Chen", value_score=90), clock.now())
        await do_add_identity(session, customer, IdentityKind.PHONE, ALICE, clock.now())
        await do_add_identity(session, customer, IdentityKind.EMAIL, "alice@example.test", clock.now())
    return customer.id or 0


@pytest.fixture
async def dispatcher(database, clock) -> Dispatcher:
    """A dispatcher with one agent available for texts and chats, so contacts are offered as under load."""
    dispatcher = Dispatcher(MemoryBackend(RoutingRules()), database, clock, EventHub())
    agent = AgentState(id="1", activity=Activity.AVAILABLE, languages=frozenset({"en"}), capacity={"sms": 5, "chat": 5})
    await dispatcher.backend.upsert_agent(agent, dispatcher.now())
    return dispatcher


async def sms(database: Database, dispatcher: Dispatcher, clock, form: dict[str, str]) -> Statements:
    with counting(database) as statements:
        await receive_sms(database, IntakeQueue(database), dispatcher, clock, TwilioOptions(), form)
    return statements


async def test_a_new_text_from_a_known_customer_stays_within_its_statement_budget(database, dispatcher, clock, alice):
    statements = await sms(database, dispatcher, clock, text("My boiler is broken", "SM1"))
    assert len(statements) <= NEW_SMS_FROM_KNOWN_CUSTOMER, statements.report()
    assert await dispatcher.backend.get_task(task_id_for(1)) is not None


async def test_a_text_joining_the_open_case_stays_within_its_statement_budget(database, dispatcher, clock, alice):
    await sms(database, dispatcher, clock, text("My boiler is broken", "SM1"))
    statements = await sms(database, dispatcher, clock, text("It is leaking too", "SM2"))
    assert len(statements) <= SMS_JOINING_OPEN_CASE, statements.report()


async def test_a_text_from_a_stranger_stays_within_its_statement_budget(database, dispatcher, clock):
    statements = await sms(database, dispatcher, clock, text("Hello?", "SM1", sender=STRANGER))
    assert len(statements) <= NEW_SMS_FROM_STRANGER, statements.report()


async def test_a_retried_webhook_costs_one_lookup(database, dispatcher, clock, alice):
    await sms(database, dispatcher, clock, text("My boiler is broken", "SM1"))
    statements = await sms(database, dispatcher, clock, text("My boiler is broken", "SM1"))
    assert len(statements) <= REPEATED_WEBHOOK, statements.report()


async def test_an_api_contact_stays_within_its_statement_budget(database, clock, alice):
    intake = ContactIntake(channel=Channel.WEB, external_id="form-1", address="alice@example.test", body="Hi")
    with counting(database) as statements:
        result = await receive_contact(database, intake, clock.now())
    assert result.created
    assert len(statements) <= API_CONTACT_WITHOUT_ROUTING, statements.report()


async def test_routing_a_received_contact_reads_what_it_needs_once(database, dispatcher, clock, alice):
    result = await receive_contact(
        database, ContactIntake(channel=Channel.SMS, external_id="SM1", address=ALICE, body="Hi"), clock.now()
    )
    request = RouteRequest(
        contact_id=result.contact.id or 0,
        case_id=result.case.id or 0,
        customer_id=alice,
        channel=Channel.SMS,
    )
    with counting(database) as statements:
        await dispatcher.submit(request)
        await dispatcher.submit(request)
    assert len(statements) <= ROUTING_TWICE, statements.report()


async def test_a_chat_start_from_a_known_email_stays_within_its_statement_budget(database, dispatcher, clock, alice):
    chats = ChatService(database, IntakeQueue(database), dispatcher, clock, EventHub())
    with counting(database) as statements:
        started = await chats.start(ChatStart(message="Where is my parcel?", email="alice@example.test"))
    assert started.chat.customer_id == alice
    assert await dispatcher.backend.get_task(task_id_for(started.chat.contact_id)) is not None
    assert len(statements) <= CHAT_START_FROM_KNOWN_EMAIL, statements.report()


async def test_accepting_and_completing_a_contact_stays_within_its_statement_budget(database, clock, alice):
    async with database.transaction() as session:
        agent = await do_create_agent(session, AgentFields(name="Uma", email="uma@example.test"), clock.now())
        await do_create_user(
            session, username="uma", password="a long password", role=Role.AGENT, now=clock.now(), agent_id=agent.id
        )
    dispatcher = Dispatcher(MemoryBackend(RoutingRules()), database, clock, EventHub())
    state = AgentState(id=str(agent.id), activity=Activity.AVAILABLE, languages=frozenset({"en"}), capacity={"sms": 5})
    await dispatcher.backend.upsert_agent(state, dispatcher.now())
    # The first acceptance of a process reads who signs for its agents; a server under load has them already.
    await sms(database, dispatcher, clock, text("Hello?", "SM0", sender=STRANGER))
    (offer,) = await dispatcher.backend.agent_reservations(str(agent.id))
    await dispatcher.complete(await dispatcher.accept(offer.id, agent.id or 0), agent.id or 0)
    await sms(database, dispatcher, clock, text("My boiler is broken", "SM1"))
    (offer,) = await dispatcher.backend.agent_reservations(str(agent.id))
    with counting(database) as statements:
        contact_id = await dispatcher.accept(offer.id, agent.id or 0)
        await dispatcher.complete(contact_id, agent.id or 0)
    assert len(statements) <= ACCEPT_AND_COMPLETE, statements.report()
    async with database.transaction() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        case = await session.get(Case, contact.case_id)
    assert contact.ended_at is not None
    assert case is not None
    assert case.assignee_id == agent.id


def mixed_batch(size: int, tag: str, clock) -> list[tuple[ContactIntake, object]]:
    """Return `size` contacts: texts from Alice on her thread, mails from her, new numbers, and repeats."""
    items = []
    for n in range(size):
        at = clock.now() + timedelta(seconds=n)
        if n % 4 == 0:
            intake = ContactIntake(channel=Channel.SMS, external_id=f"{tag}-{n}", address=ALICE, body="Any news?")
        elif n % 4 == 1:
            intake = ContactIntake(
                channel=Channel.EMAIL, external_id=f"<{tag}-{n}@x>", address="alice@example.test", subject=f"Order {n}"
            )
        elif n % 4 == 2:
            intake = ContactIntake(
                channel=Channel.SMS,
                external_id=f"{tag}-{n}",
                address=f"+1415556{ord(tag[0]) * 10 + n:04d}",
                body="Hello",
                name=tag,
            )
        else:
            intake = items[-1][0]
        items.append((intake, at))
    return items


async def test_a_batch_of_contacts_costs_the_same_statements_whatever_its_size(database, clock, alice):
    await receive_contact(
        database, ContactIntake(channel=Channel.SMS, external_id="SM0", address=ALICE, body="Hi"), clock.now()
    )
    clock.advance(timedelta(minutes=1))
    with counting(database) as small:
        results = await receive_contacts(database, mixed_batch(4, "a", clock))
    assert [r.created for r in results] == [True, True, True, False]
    clock.advance(timedelta(minutes=1))
    with counting(database) as large:
        results = await receive_contacts(database, mixed_batch(20, "b", clock))
    # Alice's texts continue her open case; her mails (no thread) and the new numbers open cases.
    assert sum(r.joined_existing_case for r in results) == 5
    assert len(large) <= MIXED_BATCH, large.report()
    assert len(large) == len(small), large.report()


async def test_a_batch_of_acceptances_costs_the_same_statements_whatever_its_size(database, clock):
    async with database.transaction() as session:
        agent = await do_create_agent(session, AgentFields(name="Uma", email="uma@example.test"), clock.now())
    dispatcher = Dispatcher(MemoryBackend(RoutingRules()), database, clock, EventHub())
    texts = [
        (ContactIntake(channel=Channel.SMS, external_id=f"SM{n}", address=f"+1415556{n:04d}", body="Hi"), clock.now())
        for n in range(12)
    ]
    contacts = [r.contact.id or 0 for r in await receive_contacts(database, texts)]

    async def accept(batch: list[int]) -> Statements:
        events = [
            TaskAccepted(dispatcher.now(), task_id_for(c), "general", "sms", str(agent.id), f"res-{c}", 2.0)
            for c in batch
        ]
        with counting(database) as statements:
            await asyncio.gather(*(dispatcher._apply([event]) for event in events))
        return statements

    await accept(contacts[:1])  # the first acceptance of a process reads who signs for its agents
    small, large = await accept(contacts[1:3]), await accept(contacts[3:])
    assert len(large) <= ACCEPTED_BATCH, large.report()
    assert len(large) == len(small), large.report()
    async with database.transaction() as session:
        assigned = (await session.scalars(select(Case.assignee_id).where(col(Case.assignee_id) == agent.id))).all()
    assert len(assigned) == len(contacts)
