"""The outbox: outbound email and SMS are stored first, then claimed, sent and retried until delivered.

A claim is a lease: a sender that dies mid-send leaves a message whose lease expires, and another sender takes it.
On PostgreSQL, claims use `FOR UPDATE SKIP LOCKED`, so several senders never take the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import InvalidInput
from contact_center.models import OutboxAttachment, OutboxChannel, OutboxMessage, OutboxStatus

__all__ = [
    "Outbound",
    "attachments_of",
    "claim_due",
    "do_enqueue",
    "do_enqueue_many",
    "mark_failed",
    "mark_sent",
    "retry_delay",
]

LEASE = timedelta(minutes=2)
_MAX_DELAY = timedelta(hours=1)


@dataclass
class Outbound:
    channel: OutboxChannel
    to_address: str
    body: str
    subject: str | None = None
    case_id: int | None = None
    headers: dict[str, Any] | None = None


def retry_delay(attempts: int) -> timedelta:
    """Back off exponentially from 30 s, capped at an hour: transient failures are retried until delivered."""
    return min(timedelta(seconds=30 * 2 ** min(max(attempts - 1, 0), 10)), _MAX_DELAY)


async def do_enqueue(session: AsyncSession, outbound: Outbound, now: datetime) -> OutboxMessage:
    """Store a message for sending; it leaves only once its transaction commits."""
    message = OutboxMessage(**_row(outbound, now))
    session.add(message)
    await session.flush()
    return message


async def do_enqueue_many(session: AsyncSession, outbounds: Sequence[Outbound], now: datetime) -> list[int]:
    """Store several messages for sending in one INSERT; return their ids in the order given.

    The ORM would insert them one by one on SQLite: it needs the ids in the parameters' order, which SQLAlchemy
    guarantees there only row by row. SQLite gives the rows of one INSERT ascending rowids in the order of its
    VALUES (each the table's largest plus one, under the write lock the transaction holds), so sorting the
    returned ids restores that order; PostgreSQL is asked for it (`sort_by_parameter_order`).
    """
    if not outbounds:
        return []
    rows = [_row(outbound, now) for outbound in outbounds]
    ordered = session.get_bind().dialect.name != "sqlite"
    found = await session.execute(
        insert(OutboxMessage).returning(col(OutboxMessage.id), sort_by_parameter_order=ordered), rows
    )
    ids = [message_id or 0 for message_id in found.scalars().all()]
    return ids if ordered else sorted(ids)


def _row(outbound: Outbound, now: datetime) -> dict[str, Any]:
    if not outbound.to_address.strip():
        raise InvalidInput("an outbound message needs a recipient", field="to")
    if not outbound.body.strip():
        raise InvalidInput("an outbound message needs a body", field="body")
    return {
        "channel": outbound.channel,
        "case_id": outbound.case_id,
        "to_address": outbound.to_address,
        "subject": outbound.subject,
        "body": outbound.body,
        "headers": outbound.headers or {},
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def claim_due(
    session: AsyncSession, now: datetime, *, channels: list[OutboxChannel], limit: int = 20
) -> list[OutboxMessage]:
    """Lease up to `limit` messages that are due (or whose sender's lease ran out)."""
    rows = await session.scalars(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.channel).in_(channels),
            or_(
                and_(col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.next_attempt_at) <= now),
                and_(col(OutboxMessage.status) == OutboxStatus.SENDING, col(OutboxMessage.claimed_until) < now),
            ),
        )
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(rows.all())
    for message in claimed:
        message.status = OutboxStatus.SENDING
        message.claimed_until = now + LEASE
        message.attempts += 1
    await session.flush()
    return claimed


async def mark_sent(session: AsyncSession, message_id: int, provider_id: str | None, now: datetime) -> None:
    """Record a delivery to the provider."""
    message = await session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status is OutboxStatus.SENT:
        return
    message.status = OutboxStatus.SENT
    message.provider_id = provider_id
    message.sent_at = now
    message.claimed_until = None
    message.last_error = None


async def mark_failed(session: AsyncSession, message_id: int, error: str, *, permanent: bool, now: datetime) -> None:
    """Record a failed attempt: a permanent one stops, a transient one is retried after a back-off."""
    message = await session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status is OutboxStatus.SENT:
        return
    message.last_error = error[:2000]
    message.claimed_until = None
    if permanent:
        message.status = OutboxStatus.FAILED
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now + retry_delay(message.attempts)


async def attachments_of(session: AsyncSession, message_id: int) -> list[OutboxAttachment]:
    """Return the files stored to be sent with an outbox message, in the order they were added."""
    rows = await session.scalars(
        select(OutboxAttachment).where(OutboxAttachment.message_id == message_id).order_by(col(OutboxAttachment.id))
    )
    return list(rows.all())
