"""The outbox: outbound email and SMS are stored first, then claimed, sent and retried until delivered.

A claim is a lease: a sender that dies mid-send leaves a message whose lease expires, and another sender takes it.
On PostgreSQL, claims use `FOR UPDATE SKIP LOCKED`, so several senders never take the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import InvalidInput
from contact_center.models import OutboxAttachment, OutboxChannel, OutboxMessage, OutboxStatus

__all__ = ["Outbound", "attachments_of", "claim_due", "do_enqueue", "mark_failed", "mark_sent", "retry_delay"]

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


async def do_enqueue(session: AsyncSession, outbound: Outbound, now: datetime, *, flush: bool = True) -> OutboxMessage:
    """Store a message for sending; it leaves only once its transaction commits.

    `flush=False` leaves the INSERT (and so the id) to the session's next flush, which writes many at once.
    """
    if not outbound.to_address.strip():
        raise InvalidInput("an outbound message needs a recipient", field="to")
    if not outbound.body.strip():
        raise InvalidInput("an outbound message needs a body", field="body")
    message = OutboxMessage(
        channel=outbound.channel,
        case_id=outbound.case_id,
        to_address=outbound.to_address,
        subject=outbound.subject,
        body=outbound.body,
        headers=outbound.headers or {},
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    if flush:
        await session.flush()
    return message


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
