"""Routing decisions written in batches end exactly as written one by one (SQLite and PostgreSQL).

Accepts, completes, rejects and timer ticks of concurrent callers share one transaction (`Dispatcher._apply`
through a group commit). These tests apply the same mixed decisions to two identical sets of contacts, one set
caller after caller and the other all at once, and compare everything the store keeps of them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from contact_center.db import Database
from contact_center.dispatch import Dispatcher, task_id_for
from contact_center.errors import InvalidInput
from contact_center.hub import EventHub
from contact_center.models import Agent, Case, CaseEvent, Channel, Contact, Role
from contact_center.services.agents import AgentFields, do_create_agent
from contact_center.services.contacts import ContactIntake, receive_contact
from contact_center.services.users import do_create_user
from routing.events import Event, TaskAbandoned, TaskAccepted, TaskCompleted, TaskFallback
from routing.memory import MemoryBackend
from routing.workflows import RoutingRules

# Contacts by role; the two on "p" (and "p2") share a case, like a customer's second text on an open thread.
ROLES = {"p": "01", "p2": "01", "p3": "01", "q": "02", "r": "03", "r2": "03", "s": "04"}


@pytest.fixture
async def agents(database, clock) -> tuple[int, int]:
    """Two agents: the first signs in as Uma (her name signs the timeline), the second has no sign-in."""
    async with database.transaction() as session:
        uma = await do_create_agent(session, AgentFields(name="Uma", email="uma@example.test"), clock.now())
        bo = await do_create_agent(session, AgentFields(name="Bo", email="bo@example.test"), clock.now())
        await do_create_user(
            session, username="uma", password="a long password", role=Role.AGENT, now=clock.now(), agent_id=uma.id
        )
    return uma.id or 0, bo.id or 0


async def contacts_for(database: Database, clock, world: str) -> dict[str, int]:
    """Receive one text per role; roles with the same number join one case."""
    ids = {}
    for n, (role, number) in enumerate(ROLES.items()):
        intake = ContactIntake(
            channel=Channel.SMS, external_id=f"{world}-{role}", address=f"+1415555{world}0{number}", body=f"text {n}"
        )
        ids[role] = (await receive_contact(database, intake, clock.now())).contact.id or 0
    return ids


def decisions(ids: dict[str, int], uma: int, bo: int, start: float) -> list[tuple[list[Event], str | None]]:
    """Return each caller's events and reason: accepts, a hang-up, a completion, a tick's fallbacks, a reassignment.

    Several events share an instant, so the timeline's order rests on the order they are written in.
    """

    def task(role: str) -> str:
        return task_id_for(ids[role])

    def accepted(role: str, agent: int, at: float) -> TaskAccepted:
        return TaskAccepted(at, task(role), "general", "sms", str(agent), f"res-{role}", 4.0)

    later = start + 30
    return [
        ([accepted("p", uma, start)], None),
        ([TaskAbandoned(start, task("p2"), "general", 7.0)], "caller hung up"),
        ([accepted("q", bo, start)], None),
        ([TaskCompleted(later, task("p"), "general", "sms", str(uma), 30.0, 5.0)], None),
        (
            [
                TaskFallback(later, task("r"), "general", "voicemail", "timeout", 60.0),
                TaskFallback(later, task("r2"), "general", "queue", "unserviceable", 60.0),
                TaskFallback(later, task("s"), "general", "queue", "timeout", 60.0),
                TaskAbandoned(later, "contact-999999", "general", 1.0),
            ],
            None,
        ),
        ([accepted("s", uma, later)], None),
        ([accepted("r2", bo, later)], None),
        # The case of "p" passes from Uma to Bo: an assignment "from" someone, and no second status change.
        ([accepted("p3", bo, later), TaskCompleted(later, task("q"), "general", "sms", str(bo), 26.0, 0.0)], None),
    ]


async def snapshot(database: Database, ids: dict[str, int], since: datetime) -> dict[str, Any]:
    """Return what the store keeps of the contacts, their cases and the timeline events since the decisions.

    Ids are replaced by roles; the events before (the texts coming in) differ between sets by their customers.
    """
    role_of = {contact_id: role for role, contact_id in ids.items()}
    async with database.transaction() as session:
        contacts = {c.id: c for c in (await session.scalars(select(Contact).where(col(Contact.id).in_(ids.values()))))}
        case_ids = sorted({c.case_id for c in contacts.values()})
        cases = {c.id: c for c in (await session.scalars(select(Case).where(col(Case.id).in_(case_ids))))}
        events = (
            await session.scalars(
                select(CaseEvent)
                .where(col(CaseEvent.case_id).in_(case_ids), col(CaseEvent.created_at) >= since)
                .order_by(col(CaseEvent.case_id), col(CaseEvent.created_at), col(CaseEvent.id))
            )
        ).all()
    case_role = {c.case_id: role_of[c.id or 0] for c in sorted(contacts.values(), key=lambda c: c.id or 0)[::-1]}
    return {
        "contacts": {
            role_of[c.id or 0]: (c.agent_id, c.answered_at, c.wait_seconds, c.ended_at, c.handle_seconds, c.disposition)
            for c in contacts.values()
        },
        "cases": {
            case_role[case.id or 0]: (case.assignee_id, case.status, case.updated_at, case.first_response_due_at)
            for case in cases.values()
        },
        "timelines": [
            (
                case_role[e.case_id],
                e.kind,
                e.actor_kind,
                e.actor_id,
                e.actor_name,
                role_of.get(e.contact_id or 0),
                e.body,
                e.data,
                e.public,
                e.created_at,
            )
            for e in events
        ],
    }


async def test_a_batch_of_mixed_decisions_ends_as_the_decisions_applied_one_by_one(database, clock, agents):
    uma, bo = agents
    alone_ids = await contacts_for(database, clock, "1")
    together_ids = await contacts_for(database, clock, "2")
    since = clock.advance(timedelta(seconds=10))
    dispatcher = Dispatcher(MemoryBackend(RoutingRules()), database, clock, EventHub())
    calls = decisions(alone_ids, uma, bo, dispatcher.now())
    for events, reason in calls:
        await dispatcher._apply(events, reason=reason)
    assert dispatcher._decisions.batches == dispatcher._decisions.items == len(calls)  # a transaction per caller
    written = dispatcher._decisions.batches

    await asyncio.gather(
        *(
            dispatcher._apply(events, reason=reason)
            for events, reason in decisions(together_ids, uma, bo, dispatcher.now())
        )
    )
    assert dispatcher._decisions.batches - written == 1  # every caller in one transaction

    alone, together = await snapshot(database, alone_ids, since), await snapshot(database, together_ids, since)
    assert together == alone
    # The decisions did write something: the shared case went to Uma, then to Bo.
    assigned = [t[7] for t in alone["timelines"] if t[0] == "p" and t[1].value == "assigned"]
    assert assigned == [{"from": None, "to": uma}, {"from": uma, "to": bo}]
    assert alone["contacts"]["p2"][5] == "caller hung up"


async def test_a_decision_that_cannot_be_written_fails_only_its_own_caller(database, clock, agents):
    uma, bo = agents
    ids = await contacts_for(database, clock, "3")
    async with database.transaction() as session:
        disabled = await session.get(Agent, bo)
        assert disabled is not None
        disabled.active = False
    dispatcher = Dispatcher(MemoryBackend(RoutingRules()), database, clock, EventHub())
    now = dispatcher.now()
    good = TaskAccepted(now, task_id_for(ids["q"]), "general", "sms", str(uma), "res-q", 1.0)
    by_disabled = TaskAccepted(now, task_id_for(ids["r"]), "general", "sms", str(bo), "res-r", 1.0)
    hung_up = TaskAbandoned(now, task_id_for(ids["s"]), "general", 2.0)
    outcomes = await asyncio.gather(
        dispatcher._apply([good]),
        dispatcher._apply([by_disabled]),
        dispatcher._apply([hung_up], reason="caller hung up"),
        return_exceptions=True,
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], InvalidInput)
    assert outcomes[2] is None
    async with database.transaction() as session:
        rows = (await session.scalars(select(Contact).where(col(Contact.id).in_(ids.values())))).all()
        stored = {c.id: (c.agent_id, c.answered_at is not None, c.disposition) for c in rows}
    assert stored[ids["q"]] == (uma, True, None)
    assert stored[ids["r"]] == (None, False, None)
    assert stored[ids["s"]] == (None, False, "caller hung up")
