"""An agent's reply to a case's customer, by email or text: the one way the API and the case page send one.

Email goes through `do_send_email_reply`, so every emailed reply is threaded under the case's mail and never sent
to an address that bounced for good; a text through `do_send_sms_reply`, which refuses a number that said STOP.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.actors import Actor
from contact_center.channels.base import SentMessage
from contact_center.channels.email.service import EmailReply, do_send_email_reply
from contact_center.channels.twilio.replies import do_send_sms_reply
from contact_center.models import Case, OutboxChannel

__all__ = ["send_reply"]


async def send_reply(
    session: AsyncSession,
    case: Case,
    channel: OutboxChannel,
    text: str,
    actor: Actor,
    now: datetime,
    *,
    smtp_from: str,
    subject: str | None = None,
) -> SentMessage:
    """Queue the reply in the outbox and record it on the case's timeline."""
    if channel is OutboxChannel.EMAIL:
        return await do_send_email_reply(
            session, case, EmailReply(text=text, subject=subject), actor, now, smtp_from=smtp_from
        )
    return await do_send_sms_reply(session, case, text, actor, now)
