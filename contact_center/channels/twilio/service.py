"""Every change to the Twilio channel's tables: call state and answers, opt-outs, delivery statuses.

Each function works in the caller's transaction, so a webhook's effects (a voicemail on the case, the call's
next state, the TwiML it was answered with) commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.channels.twilio.statuses import call_status_advances, message_status_advances
from contact_center.models import SmsDelivery, SmsOptOut, TwilioCall, TwilioCallTurn

__all__ = [
    "do_advance_call_status",
    "do_record_delivery",
    "do_save_answer",
    "do_set_opt_out",
    "get_call",
    "is_opted_out",
    "stored_answer",
]


async def is_opted_out(session: AsyncSession, address: str) -> bool:
    """Tell whether an E.164 number has opted out of texts."""
    row = (await session.scalars(select(SmsOptOut).where(SmsOptOut.address == address))).first()
    return row is not None and row.opted_out


async def do_set_opt_out(
    session: AsyncSession, address: str, *, opted_out: bool, keyword: str, message_sid: str | None, now: datetime
) -> None:
    """Record a number's STOP (or START): every later send to it follows the latest answer."""
    row = (await session.scalars(select(SmsOptOut).where(SmsOptOut.address == address).with_for_update())).first()
    if row is None:
        session.add(
            SmsOptOut(address=address, opted_out=opted_out, keyword=keyword, message_sid=message_sid, updated_at=now)
        )
    else:
        row.opted_out, row.keyword, row.message_sid, row.updated_at = opted_out, keyword, message_sid, now
    await session.flush()


async def do_record_delivery(
    session: AsyncSession,
    outbox_id: int,
    *,
    status: str,
    now: datetime,
    message_sid: str | None = None,
    error_code: str | None = None,
) -> bool:
    """Record a text's delivery status unless it would move backwards; return whether it changed."""
    row = (
        await session.scalars(select(SmsDelivery).where(SmsDelivery.outbox_id == outbox_id).with_for_update())
    ).first()
    if row is None:
        session.add(
            SmsDelivery(
                outbox_id=outbox_id, message_sid=message_sid, status=status, error_code=error_code, updated_at=now
            )
        )
        await session.flush()
        return True
    if message_sid and not row.message_sid:
        row.message_sid = message_sid
    if not message_status_advances(row.status, status):
        return False
    row.status, row.updated_at = status, now
    row.error_code = error_code or row.error_code
    await session.flush()
    return True


# Built once: every voice webhook reads its call twice, and building a query and its cache key costs more CPU than
# its round trip on a loaded server.
_CALL = select(TwilioCall).where(TwilioCall.call_sid == bindparam("sid"))
_CALL_LOCKED = _CALL.with_for_update()
_ANSWER = select(TwilioCallTurn.twiml).where(
    TwilioCallTurn.call_id == bindparam("call"), TwilioCallTurn.webhook == bindparam("webhook")
)


async def get_call(session: AsyncSession, call_sid: str, *, for_update: bool = False) -> TwilioCall | None:
    """Return a call's stored state, locked against a concurrent webhook for the same call if asked."""
    return (await session.scalars(_CALL_LOCKED if for_update else _CALL, {"sid": call_sid})).first()


async def stored_answer(session: AsyncSession, call: TwilioCall, webhook: str) -> str | None:
    """Return the TwiML a webhook ("gather:3") of this call was answered with, if it was."""
    return (await session.scalars(_ANSWER, {"call": call.id, "webhook": webhook})).first()


async def do_save_answer(
    session: AsyncSession, call: TwilioCall, state: dict[str, Any], webhook: str, twiml: str, now: datetime
) -> None:
    """Store a call's next state with the TwiML that answered the webhook, for replies to its retries."""
    call.state = state
    call.turn = int(state.get("turn", call.turn))
    call.updated_at = now
    session.add(call)
    await session.flush()
    session.add(TwilioCallTurn(call_id=call.id or 0, webhook=webhook, twiml=twiml, created_at=now))
    await session.flush()


async def do_advance_call_status(session: AsyncSession, call: TwilioCall, status: str, now: datetime) -> bool:
    """Move a call's Twilio status forward; a late or repeated callback changes nothing and returns False."""
    if not call_status_advances(call.call_status, status):
        return False
    call.call_status = status
    call.updated_at = now
    await session.flush()
    return True
