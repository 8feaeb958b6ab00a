"""Text messages: inbound texts become contacts on cases, outbound ones leave through the outbox and Twilio.

Keywords (STOP, START, HELP) are handled here and never reach an agent; a STOP is stored and every later send
to that number fails permanently before it reaches Twilio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from twilio.twiml.messaging_response import MessagingResponse

from contact_center.actors import SYSTEM
from contact_center.addresses import normalise_phone
from contact_center.channels.base import TransportError
from contact_center.channels.twilio.keywords import keyword_of
from contact_center.channels.twilio.options import TwilioOptions
from contact_center.channels.twilio.rest import Resource, TwilioApiError
from contact_center.channels.twilio.service import do_record_delivery, do_set_opt_out, is_opted_out
from contact_center.channels.twilio.statuses import FINAL_MESSAGE_STATUSES
from contact_center.channels.twilio.tasks import route_language, route_priority
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, RouteRequest
from contact_center.errors import InvalidInput
from contact_center.intake_queue import IntakeQueue
from contact_center.models import Case, Channel, OutboxChannel, OutboxMessage
from contact_center.services.cases import do_add_note
from contact_center.services.contacts import ContactIntake

__all__ = ["SmsSender", "SmsTransport", "receive_sms", "record_sms_status"]

log = logging.getLogger(__name__)

# Twilio's error for a number that replied STOP to our sender: it will refuse every text until START.
_UNSUBSCRIBED = 21610


class SmsSender(Protocol):
    """What hands a text to the network: `TwilioRest`, or a `TextDrop` where Twilio is not configured."""

    async def send_sms(
        self,
        *,
        to: str,
        body: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        idempotency_key: str | None = None,
    ) -> Resource:
        """Send one text; Twilio's Message resource (or one shaped like it) comes back."""
        ...


class SmsTransport:
    """The outbox's SMS channel: one attempt per call, the outbox worker retries with back-off."""

    channel = OutboxChannel.SMS

    def __init__(
        self,
        rest: SmsSender,
        db: Database,
        clock: Clock,
        options: TwilioOptions,
        *,
        public_base_url: str | None,
        region: str = "US",
    ) -> None:
        self._rest = rest
        self._db = db
        self._clock = clock
        self._options = options
        self._base = public_base_url.rstrip("/") if public_base_url else None
        self._region = region

    async def send(self, message: OutboxMessage) -> str | None:
        """Send one stored text unless its recipient opted out; return Twilio's MessageSid."""
        try:
            to = normalise_phone(message.to_address, self._region)
        except InvalidInput as exc:
            raise TransportError(f"{message.to_address!r} is not a phone number", permanent=True) from exc
        async with self._db.transaction() as session:
            if await is_opted_out(session, to):
                raise TransportError(f"{to} opted out of text messages (replied STOP); not sent", permanent=True)
        sender = str(message.headers.get("from") or "") or self._options.sms_from
        callback = f"{self._base}/twilio/sms/status?outbox={message.id}" if self._base else None
        try:
            sent = await self._rest.send_sms(
                to=to,
                body=message.body,
                from_=sender,
                messaging_service_sid=None if sender else self._options.messaging_service_sid,
                status_callback=callback,
                # The outbox id: a send retried after a lost answer returns the first message, not a second.
                idempotency_key=f"outbox-{message.id}",
            )
        except TwilioApiError as exc:
            if exc.code == _UNSUBSCRIBED:
                await self._remember_opt_out(to)
            raise
        try:
            async with self._db.transaction() as session:
                await do_record_delivery(
                    session,
                    message.id or 0,
                    status=sent.status or "queued",
                    message_sid=sent.sid,
                    now=self._clock.now(),
                )
        except SQLAlchemyError:
            # The text left; its status callbacks will record the delivery once the store answers.
            log.warning("delivery of outbox %s not recorded", message.id, exc_info=True)
        return sent.sid

    async def _remember_opt_out(self, to: str) -> None:
        async with self._db.transaction() as session:
            await do_set_opt_out(
                session, to, opted_out=True, keyword=f"twilio-{_UNSUBSCRIBED}", message_sid=None, now=self._clock.now()
            )


async def receive_sms(
    db: Database,
    intake: IntakeQueue,
    router: ContactRouter,
    clock: Clock,
    options: TwilioOptions,
    form: Mapping[str, str],
    *,
    region: str = "US",
) -> str:
    """Take in one inbound text (idempotent per MessageSid) and return the TwiML reply."""
    reply = MessagingResponse()
    message_sid = form.get("MessageSid") or form.get("SmsSid") or ""
    body = form.get("Body", "")
    try:
        sender = normalise_phone(form.get("From", ""), region)
    except InvalidInput:
        log.warning("text %s from an unusable number %r ignored", message_sid, form.get("From"))
        return str(reply)
    keyword = keyword_of(body)
    now = clock.now()
    if keyword in ("stop", "start"):
        async with db.transaction() as session:
            await do_set_opt_out(
                session,
                sender,
                opted_out=keyword == "stop",
                keyword=body.strip().upper(),
                message_sid=message_sid,
                now=now,
            )
        # After STOP, Twilio's Advanced Opt-Out sends the carrier-required confirmation (and would refuse ours).
        if keyword == "start":
            reply.message("You are subscribed again to messages from Acme Support. Reply STOP to opt out.")
        return str(reply)
    if keyword == "help":
        reply.message(options.help_text)
        return str(reply)
    if not message_sid:
        return str(reply)
    result = await intake.receive(
        ContactIntake(channel=Channel.SMS, external_id=message_sid, address=sender, body=body or "(empty message)"),
        now,
    )
    # A case an agent already holds gets the text on its timeline; only an unowned case is routed (again).
    if result.case.assignee_id is None:
        customer = result.customer
        await router.submit(
            RouteRequest(
                contact_id=result.contact.id or 0,
                case_id=result.case.id or 0,
                customer_id=result.case.customer_id,
                channel=Channel.SMS,
                language=route_language(customer.language),
                priority=route_priority(customer.tier),
                attributes={"from": sender, "to": form.get("To", "")},
            )
        )
    return str(reply)


async def record_sms_status(db: Database, clock: Clock, outbox_id: int, form: Mapping[str, str]) -> bool:
    """Record a delivery status callback; a failed delivery leaves a note on the case for its agent."""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not status:
        return False
    error_code = form.get("ErrorCode") or None
    try:
        return await _record_status(db, clock, outbox_id, status, error_code, form)
    except IntegrityError:
        # Two callbacks (or a callback and the send itself) raced to make the row; the loser tries again.
        return await _record_status(db, clock, outbox_id, status, error_code, form)


async def _record_status(
    db: Database, clock: Clock, outbox_id: int, status: str, error_code: str | None, form: Mapping[str, str]
) -> bool:
    now = clock.now()
    async with db.transaction() as session:
        message = await session.get(OutboxMessage, outbox_id)
        if message is None:
            return False
        changed = await do_record_delivery(
            session, outbox_id, status=status, message_sid=form.get("MessageSid"), error_code=error_code, now=now
        )
        if changed and status in FINAL_MESSAGE_STATUSES and message.case_id is not None:
            case = await session.get(Case, message.case_id)
            if case is not None:
                detail = f" (Twilio error {error_code})" if error_code else ""
                await do_add_note(
                    session, case, f"Text to {message.to_address} was not delivered: {status}{detail}.", SYSTEM, now
                )
    return changed
