"""The intake queue and batched routing: concurrent contacts share transactions, each stored once on a case."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import col, select

from contact_center.dispatch import Dispatcher, RouteRequest, task_id_for
from contact_center.errors import InvalidInput, NotFound
from contact_center.hub import EventHub
from contact_center.intake_queue import IntakeQueue
from contact_center.models import Case, Channel, Contact
from contact_center.services.contacts import ContactIntake
from routing.memory import MemoryBackend
from routing.redis_backend import RedisBackend
from routing.workflows import RoutingRules
from tests.routing.conftest import REDIS_URL, delete_prefix, new_prefix


@pytest.fixture(params=["memory", "redis"])
async def routing_backend(request):
    if request.param == "memory":
        yield MemoryBackend(RoutingRules())
        return
    client, prefix = Redis.from_url(REDIS_URL), new_prefix()
    yield RedisBackend(client, RoutingRules(), prefix=prefix)
    await delete_prefix(client, prefix)
    await client.aclose()


def text(number: int, sid: str | None = None, sender: str | None = None) -> ContactIntake:
    return ContactIntake(
        channel=Channel.SMS,
        external_id=sid or f"SM{number:04d}",
        address=sender or f"+1415555{number % 7:04d}",
        body=f"Order {number}?",
    )


async def stored(database) -> dict[str, int]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(Contact.external_id, func.count())
            .join(Case, col(Case.id) == Contact.case_id)
            .group_by(Contact.external_id)
        )
        return {str(sid): int(count) for sid, count in rows.all()}


async def test_concurrent_contacts_share_batches_and_each_caller_gets_its_own(database, clock):
    queue = IntakeQueue(database)
    # Twilio delivering some texts twice at once: the repeat gets the first contact, never a second.
    intakes = [text(n) for n in range(30)] + [text(n) for n in range(0, 30, 5)]
    results = await asyncio.gather(*(queue.receive(i, clock.now()) for i in intakes))
    assert [r.contact.external_id for r in results] == [i.external_id for i in intakes]
    by_sid = {r.contact.external_id: r.contact.id for r in results[:30]}
    assert all(by_sid[r.contact.external_id] == r.contact.id for r in results[30:])
    assert await stored(database) == {f"SM{n:04d}": 1 for n in range(30)}
    assert queue.batches.batches < len(intakes)  # they did share


async def test_a_contact_that_cannot_be_stored_fails_only_its_own_caller(database, clock):
    queue = IntakeQueue(database)
    intakes = [text(1), text(2, sender="not a phone number"), text(3)]
    results = await asyncio.gather(*(queue.receive(i, clock.now()) for i in intakes), return_exceptions=True)
    assert isinstance(results[1], InvalidInput)
    assert await stored(database) == {"SM0001": 1, "SM0003": 1}


async def test_an_intake_without_an_external_id_is_refused_before_it_joins_a_batch(database, clock):
    with pytest.raises(InvalidInput):
        await IntakeQueue(database).receive(text(1, sid=" "), clock.now())


async def test_concurrent_submits_are_routed_together_and_a_missing_contact_fails_alone(database, clock):
    queue = IntakeQueue(database)
    dispatcher = Dispatcher(MemoryBackend(RoutingRules()), database, clock, EventHub())
    results = await asyncio.gather(*(queue.receive(text(n), clock.now()) for n in range(8)))
    requests = [
        RouteRequest(
            contact_id=r.contact.id or 0, case_id=r.case.id or 0, customer_id=r.customer.id or 0, channel=Channel.SMS
        )
        for r in results
    ]
    missing = RouteRequest(contact_id=999_999, case_id=1, customer_id=1, channel=Channel.SMS)
    outcomes = await asyncio.gather(
        *(dispatcher.submit(r) for r in [*requests[:4], missing, *requests[4:], requests[0]]), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [type(None)] * 4 + [NotFound] + [type(None)] * 5
    for request in requests:
        assert await dispatcher.backend.get_task(task_id_for(request.contact_id)) is not None
    assert dispatcher._submits.batches < len(outcomes)


async def test_a_batch_with_contacts_already_queued_routes_the_new_ones_and_leaves_the_rest(
    database, clock, routing_backend
):
    """A batch is one pipelined submit without a look-up first: the engine's refusal of a held task is no error."""
    queue = IntakeQueue(database)
    dispatcher = Dispatcher(routing_backend, database, clock, EventHub())
    results = await asyncio.gather(*(queue.receive(text(n), clock.now()) for n in range(6)))
    requests = [
        RouteRequest(
            contact_id=r.contact.id or 0, case_id=r.case.id or 0, customer_id=r.customer.id or 0, channel=Channel.SMS
        )
        for r in results
    ]
    await dispatcher.submit_many(requests[:3])
    # Retried webhooks of the first three, in one batch with three new contacts (and one given twice).
    await dispatcher.submit_many([*requests, requests[4]])
    for request in requests:
        assert await dispatcher.backend.get_task(task_id_for(request.contact_id)) is not None
    # The first three kept their places; nothing was queued twice.
    assert [await dispatcher.position(r.contact_id) for r in requests] == [1, 2, 3, 4, 5, 6]


async def test_a_hint_naming_a_case_opened_earlier_in_the_same_batch_still_joins_it(database, clock):
    # The case has no id until its batch is written, so the hint fails the batch; the batch is then taken in
    # item by item, in order, and the hint finds the case the first item just committed, as one by one would.
    queue = IntakeQueue(database, writers=1)
    first = text(1)
    hinted = ContactIntake(
        channel=Channel.SMS, external_id="SM-hint", address=first.address, body="About that order", case_id=1
    )
    opened, joined = await asyncio.gather(queue.receive(first, clock.now()), queue.receive(hinted, clock.now()))
    assert (queue.batches.batches, queue.batches.items) == (1, 2)  # they were taken in together first
    assert opened.created
    assert opened.case.id == 1
    assert joined.created
    assert joined.joined_existing_case
    assert joined.case.id == 1
    assert await stored(database) == {"SM0001": 1, "SM-hint": 1}
