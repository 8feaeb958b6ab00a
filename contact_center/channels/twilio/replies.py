"""An agent's text to a case's customer: stored in the outbox, recorded on the case, refused when they said STOP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.actors import Actor
from contact_center.channels.base import SentMessage
from contact_center.channels.twilio.service import is_opted_out
from contact_center.errors import Conflict, InvalidInput
from contact_center.models import Case, Channel, IdentityKind, OutboxChannel
from contact_center.services.cases import do_record_message
from contact_center.services.customers import latest_address
from contact_center.services.outbox import Outbound, do_enqueue

__all__ = ["do_send_sms_reply"]


async def do_send_sms_reply(session: AsyncSession, case: Case, text: str, actor: Actor, now: datetime) -> SentMessage:
    """Queue a text to the customer's latest phone number and record it on the case's timeline."""
    body = text.strip()
    if not body:
        raise InvalidInput("give the text to send", field="body")
    to = await latest_address(session, case.customer_id, IdentityKind.PHONE)
    if to is None:
        raise InvalidInput(f"{case.number} has no phone address to reply to", field="channel")
    if await is_opted_out(session, to):
        # The outbox would only refuse it at sending; the agent learns now, and nothing is recorded as said.
        raise Conflict(f"{to} replied STOP and gets no texts until they reply START", address=to)
    message = await do_enqueue(
        session, Outbound(channel=OutboxChannel.SMS, to_address=to, body=body, case_id=case.id), now
    )
    event = await do_record_message(
        session,
        case,
        inbound=False,
        body=body,
        actor=actor,
        now=now,
        data={"channel": Channel.SMS.value, "outbox_id": message.id, "to": to},
    )
    return SentMessage(outbox_id=message.id or 0, to=to, event=event)
