"""The outbox: stored before sending, claimed under a lease, retried with back-off until delivered."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from contact_center.channels.base import TransportError
from contact_center.models import OutboxChannel, OutboxMessage, OutboxStatus
from contact_center.services.outbox import LEASE, Outbound, claim_due, do_enqueue, retry_delay
from contact_center.workers.outbox import send_due


class FlakyProvider:
    """The outer edge: a provider that fails a number of times, then accepts."""

    channel = OutboxChannel.SMS

    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.delivered: list[int] = []

    async def send(self, message: OutboxMessage) -> str:
        if self.failures:
            self.failures -= 1
            raise TransportError("provider busy", permanent=self.permanent)
        self.delivered.append(message.id)
        return f"SM{message.id:06d}"


async def enqueue(database, clock, to="+14155550100"):
    async with database.transaction() as session:
        message = await do_enqueue(
            session, Outbound(OutboxChannel.SMS, to, "Your technician is on the way"), clock.now()
        )
    return message.id


async def load(database, message_id):
    async with database.transaction() as session:
        return await session.get(OutboxMessage, message_id)


async def test_a_message_is_retried_with_back_off_until_delivered(database, clock):
    message_id = await enqueue(database, clock)
    provider = FlakyProvider(failures=2)
    transports = {OutboxChannel.SMS: provider}
    assert await send_due(database, transports, clock) == 1
    failed_once = await load(database, message_id)
    assert failed_once.status is OutboxStatus.PENDING
    assert failed_once.next_attempt_at == clock.now() + retry_delay(1)
    assert await send_due(database, transports, clock) == 0  # not due yet
    clock.advance(retry_delay(1))
    await send_due(database, transports, clock)
    clock.advance(retry_delay(2))
    await send_due(database, transports, clock)
    sent = await load(database, message_id)
    assert sent.status is OutboxStatus.SENT
    assert sent.attempts == 3
    assert sent.provider_id == f"SM{message_id:06d}"
    assert provider.delivered == [message_id]
    clock.advance(timedelta(hours=2))
    assert await send_due(database, transports, clock) == 0  # never sent twice


async def test_a_permanent_failure_stops_and_is_kept_with_its_error(database, clock):
    message_id = await enqueue(database, clock)
    await send_due(database, {OutboxChannel.SMS: FlakyProvider(failures=1, permanent=True)}, clock)
    failed = await load(database, message_id)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "provider busy"


async def test_a_crashed_senders_claim_expires_and_another_takes_the_message(database, clock):
    message_id = await enqueue(database, clock)
    async with database.transaction() as session:
        assert [m.id for m in await claim_due(session, clock.now(), channels=[OutboxChannel.SMS])] == [message_id]
    async with database.transaction() as session:
        assert await claim_due(session, clock.now(), channels=[OutboxChannel.SMS]) == []
    clock.advance(LEASE + timedelta(seconds=1))
    provider = FlakyProvider()
    await send_due(database, {OutboxChannel.SMS: provider}, clock)
    assert provider.delivered == [message_id]


async def test_concurrent_senders_never_take_the_same_message(database, clock):
    ids = [await enqueue(database, clock, to=f"+1415555{n:04d}") for n in range(12)]

    async def claim() -> list[int]:
        async with database.transaction() as session:
            return [m.id for m in await claim_due(session, clock.now(), channels=[OutboxChannel.SMS], limit=5)]

    claimed = await asyncio.gather(*(claim() for _ in range(4)))
    flat = [message_id for batch in claimed for message_id in batch]
    assert len(flat) == len(set(flat)) == 12
    assert sorted(flat) == sorted(ids)


def test_back_off_grows_and_is_capped():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(50) == timedelta(hours=1)
