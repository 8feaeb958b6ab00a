"""Delivery reports matched to what we sent, and addresses we stop sending to after a permanent failure.

A DSN (RFC 3464) names the Message-ID of the message it reports on; every email we queue has its Message-ID in
`email_sent`, so the report finds its outbox row and case. Each failed recipient becomes an `EmailBounce`; a
permanent one (status 5.x.x, RFC 3463) puts the address on the suppression list, which the outbox's email
transport, the acknowledgements and agents' replies all consult. A transient failure (4.x.x) is only recorded:
the remote server is still trying.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.actors import SYSTEM
from contact_center.db import Database
from contact_center.models import Case, EventKind
from contact_center.models.email import EmailBounce, EmailSuppression, SentEmail
from contact_center.services.timeline import record_event
from email_response.parsing import DeliveryStatus

__all__ = ["find_sent", "is_suppressed", "record_bounce", "suppression_check"]


async def find_sent(session: AsyncSession, message_id: str | None) -> SentEmail | None:
    """Return the email we queued with this Message-ID, if any."""
    if not message_id:
        return None
    found = await session.scalars(select(SentEmail).where(SentEmail.message_id == message_id))
    return found.first()


async def is_suppressed(session: AsyncSession, address: str) -> bool:
    """Return True when a permanent failure said this address does not take mail."""
    found = await session.scalars(select(EmailSuppression.id).where(EmailSuppression.address == address.lower()))
    return found.first() is not None


def suppression_check(db: Database) -> Callable[[str], Awaitable[bool]]:
    """Return the transport's "is this address suppressed?" question over the database."""

    async def check(address: str) -> bool:
        async with db.transaction() as session:
            return await is_suppressed(session, address)

    return check


async def record_bounce(
    session: AsyncSession, email_id: int, report: DeliveryStatus, sent: SentEmail, now: datetime
) -> list[EmailBounce]:
    """Store each failed recipient of a report on our message, suppress permanent failures, note it on the case."""
    bounces = []
    for recipient in report.recipients:
        if recipient.action not in ("failed", "delayed") and not recipient.status.startswith(("4", "5")):
            continue  # "delivered", "relayed", "expanded": nothing went wrong
        address = (recipient.address or sent.to_address).lower()[:320]
        bounce = EmailBounce(
            email_id=email_id,
            sent_id=sent.id,
            recipient=address,
            action=recipient.action[:32],
            status=recipient.status[:32],
            diagnostic=recipient.diagnostic,
            permanent=recipient.permanent,
            created_at=now,
        )
        session.add(bounce)
        await session.flush()
        bounces.append(bounce)
        if bounce.permanent and not await is_suppressed(session, address):
            reason = f"{recipient.status} {recipient.diagnostic or ''}".strip()
            session.add(EmailSuppression(address=address, reason=reason, bounce_id=bounce.id, created_at=now))
    if bounces and sent.case_id is not None:
        case = await session.get(Case, sent.case_id)
        if case is not None:
            summary = "; ".join(
                f"{b.recipient}: {b.status} ({'permanent, address suppressed' if b.permanent else 'temporary'})"
                for b in bounces
            )
            await record_event(
                session,
                case,
                EventKind.NOTE,
                SYSTEM,
                now,
                body=f"email not delivered: {summary}",
                data={"email": "bounce", "outbox_id": sent.outbox_id, "bounces": [b.id for b in bounces]},
            )
    await session.flush()
    return bounces
