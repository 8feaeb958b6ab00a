"""A phone call through the IVR: each Twilio webhook steps the flow from the state stored for its CallSid.

How one webhook is served (`Calls.answer`):

1. Read the call's row. A webhook already answered (same CallSid, webhook and turn: Twilio retried it) gets the
   stored TwiML back and nothing is written.
2. Step the pure interpreter (`ivr.step`) with what the caller did, answering its lookups (case status, next
   visit, callback) from the case store.
3. Carry out what needs the case store: a contact and case for a queued call, a voicemail or a callback
   (taken in through the app's `IntakeQueue`, idempotent per CallSid, so a repeat finds the first contact).
4. In one transaction, with the call's row locked: the voicemail on the case, the next state and the TwiML.
5. After the commit, hand a queued call to routing (`ContactRouter.submit`, idempotent per contact).

Transactions are never nested: on SQLite each one holds the write lock from its start.

Whatever the store does, the caller hears something within `TwilioOptions.store_timeout`: a webhook that cannot
finish in time answers with the degraded TwiML (the general queue, then voicemail) and leaves a note in the
`Backlog`, replayed by `Calls.replay` once the store is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from twilio.twiml.voice_response import Dial, VoiceResponse

from contact_center.actors import SYSTEM, Actor
from contact_center.addresses import normalise_address
from contact_center.channels.twilio.degraded import Backlog, CallArrived, CallEnded, VoicemailLeft
from contact_center.channels.twilio.options import TwilioOptions
from contact_center.channels.twilio.rest import Resource, TwilioRest
from contact_center.channels.twilio.service import do_advance_call_status, do_save_answer, get_call, stored_answer
from contact_center.channels.twilio.statuses import FINAL_CALL_STATUSES
from contact_center.channels.twilio.tasks import flow_language, route_language, route_priority
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, RouteRequest
from contact_center.errors import InvalidInput, NotFound
from contact_center.intake_queue import IntakeQueue
from contact_center.models import (
    ActorKind,
    CaseEvent,
    CaseStatus,
    Channel,
    Contact,
    Customer,
    Direction,
    EventKind,
    IdentityKind,
    TwilioCall,
)
from contact_center.services.cases import OPEN_STATUSES, do_add_note, do_record_message, get_case
from contact_center.services.contacts import (
    ContactIntake,
    ContactResult,
    ContactTimes,
    do_update_contact,
)
from contact_center.services.customers import find_customer
from ivr import CallContext, CallerHungUp, CallStarted, CallState, Enqueue, Event, Flow, Lookup, LookupResult, step
from ivr.actions import Action, StoreVoicemail
from ivr.events import RecordingDone
from ivr.models import TIERS
from ivr.twiml import Webhooks, event_from_form, render

__all__ = ["VOICE_PREFIX", "Caller", "Calls", "bridge_call", "bridge_twiml"]

log = logging.getLogger(__name__)

VOICE_PREFIX = "/twilio/voice"
WEBHOOKS = Webhooks()
Answered = Literal["voice", "gather", "recording", "queue_exit"]

# What the app itself says (the flow says everything else), per language of the flow's voices.
# Chinese punctuation is what Chinese text needs.
_WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "position": "You are number {position} in the queue. Thank you for waiting.",
        "offer": "You have been waiting a while. Press 1 and we will call you back as soon as an agent is free, "
        "or stay on the line.",
        "booked": "Thank you. We will call you back on this number as soon as an agent is free. Goodbye.",
        "stay": "Thank you. Please stay on the line.",
        "trouble": "Thank you for calling. Please hold while we connect you.",
        "message": "Please leave a message after the tone, and we will get back to you.",
        "goodbye": "Thank you for your message. Goodbye.",
    },
    "zh": {
        "position": "您目前排在第 {position} 位。感谢您的耐心等待。",
        "offer": "您已等待较长时间。按1，客服有空时我们会回拨给您；或请继续等待。",  # noqa: RUF001
        "booked": "谢谢。客服有空时会回拨此号码。再见。",
        "stay": "谢谢，请继续等待。",  # noqa: RUF001
        "trouble": "感谢您的来电，正在为您转接，请稍候。",  # noqa: RUF001
        "message": "请在提示音后留言，我们会尽快回复您。",  # noqa: RUF001
        "goodbye": "感谢您的留言。再见。",
    },
}
_STATUS_WORDS: Mapping[str, Mapping[CaseStatus, str]] = {
    "en": {
        CaseStatus.NEW: "received, and waiting for an agent",
        CaseStatus.OPEN: "open, and an agent is working on it",
        CaseStatus.PENDING: "waiting for your reply",
        CaseStatus.ON_HOLD: "on hold",
        CaseStatus.RESOLVED: "resolved",
        CaseStatus.CLOSED: "closed",
    },
    "zh": {
        CaseStatus.NEW: "已受理，正在等待客服处理",  # noqa: RUF001
        CaseStatus.OPEN: "处理中",
        CaseStatus.PENDING: "等待您的回复",
        CaseStatus.ON_HOLD: "暂停处理",
        CaseStatus.RESOLVED: "已解决",
        CaseStatus.CLOSED: "已关闭",
    },
}


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the case store knows them."""

    number: str | None
    customer_id: int | None = None
    name: str | None = None
    tier: str | None = None
    language: str | None = None


class Calls:
    """Serves one app's calls: the flow, the store, routing and the backlog of what the store could not take."""

    def __init__(
        self,
        *,
        db: Database,
        intake: IntakeQueue,
        router: ContactRouter,
        clock: Clock,
        flow: Flow,
        options: TwilioOptions,
        backlog: Backlog,
        public_base_url: str,
        region: str = "US",
    ) -> None:
        self.db = db
        self.intake = intake
        self.router = router
        self.clock = clock
        self.flow = flow
        self.options = options
        self.backlog = backlog
        self.base = public_base_url.rstrip("/") + VOICE_PREFIX
        self.region = region

    # Webhooks that step the flow ------------------------------------------------------------------------------

    async def answer(self, webhook: Answered, form: Mapping[str, str], turn: int | None) -> str:
        """Return the TwiML for a webhook of the flow, degraded if the store does not answer in time."""
        try:
            return await asyncio.wait_for(self._answer(webhook, form, turn), self.options.store_timeout)
        except (TimeoutError, SQLAlchemyError, OSError):
            log.warning("call %s: case store unavailable; degraded answer", form.get("CallSid"), exc_info=True)
            now = self.clock.now()
            sid, caller = form.get("CallSid", ""), form.get("From")
            recording = event_from_form("recording", form) if webhook == "recording" else None
            if isinstance(recording, RecordingDone) and recording.url and recording.duration > 0:
                await self.backlog.add(VoicemailLeft(sid, caller, recording.url, recording.duration, now))
                return self._goodbye()
            await self.backlog.add(CallArrived(sid, caller, now))
            return self.degraded_twiml()

    async def _answer(self, webhook: Answered, form: Mapping[str, str], turn: int | None) -> str:
        call_sid = form.get("CallSid", "")
        number = form.get("From") or None
        key = f"{webhook}:{turn or 0}"
        now = self.clock.now()
        async with self.db.transaction() as session:
            call = await get_call(session, call_sid)
            if call is not None:
                answered = await stored_answer(session, call, key)
                if answered is not None:
                    return answered
                if turn is not None and turn < call.turn:
                    # A stale webhook whose answer is gone: repeat what the call waits for now.
                    latest = await stored_answer(session, call, call.state.get("_webhook", ""))
                    if latest is not None:
                        return latest
            caller = await self._caller(session, number)
        state = (
            CallState.from_json(call.state)
            if call is not None and call.state
            else CallState.begin(self.flow, call_sid=call_sid, caller=number)
        )
        context = CallContext(
            now=now,
            known=caller.customer_id is not None,
            customer_name=caller.name,
            tier=caller.tier if caller.tier in TIERS else None,
            language=flow_language(caller.language, list(self.flow.languages)),
        )
        event: Event | None = CallStarted() if webhook == "voice" else event_from_form(webhook, form)
        actions, state = step(self.flow, state, event or CallStarted(), context)
        while actions and isinstance(actions[-1], Lookup):
            result = await self._lookup(actions[-1], caller, state)
            more, state = step(self.flow, state, result, context)
            actions = (*actions[:-1], *more)
        contact = await self._carry_out(actions, caller, state)
        twiml = render(actions, self.base, WEBHOOKS)
        saved = await self._save(call_sid, number, form.get("To"), state, key, twiml, actions, contact, now)
        if saved != twiml:
            return saved  # a concurrent delivery of the same webhook won; answer as it did
        for action in actions:
            if isinstance(action, Enqueue) and contact is not None:
                await self.router.submit(self._route_request(contact, caller, action, call_sid))
        return twiml

    async def _caller(self, session: AsyncSession, number: str | None) -> Caller:
        if not number:
            return Caller(None)
        try:
            address = normalise_address(IdentityKind.PHONE, number, default_region=self.region)
        except InvalidInput:
            return Caller(None)
        customer = await find_customer(session, IdentityKind.PHONE, address)
        if customer is None:
            return Caller(number)
        return Caller(number, customer.id, customer.name, customer.tier.value, customer.language)

    async def _save(
        self,
        call_sid: str,
        number: str | None,
        called: str | None,
        state: CallState,
        key: str,
        twiml: str,
        actions: tuple[Action, ...],
        contact: ContactResult | None,
        now: datetime,
    ) -> str:
        """Store the state and answer with the voicemail in one transaction; return the answer that stands."""
        for attempt in range(2):
            try:
                async with self.db.transaction() as session:
                    call = await get_call(session, call_sid, for_update=True)
                    if call is None:
                        # Inserted by `do_save_answer`'s flush with its state, not inserted now and updated then;
                        # a concurrent delivery's row makes that flush fail, and the retry finds the row.
                        call = TwilioCall(
                            call_sid=call_sid, caller=number, called=called, created_at=now, updated_at=now
                        )
                        session.add(call)
                    else:
                        answered = await stored_answer(session, call, key)
                        if answered is not None:
                            return answered
                    if contact is not None:
                        call.contact_id, call.case_id = contact.contact.id, contact.case.id
                    for action in actions:
                        if isinstance(action, Enqueue):
                            call.queued_at = call.queued_at or now
                        elif isinstance(action, StoreVoicemail) and contact is not None:
                            await self._record_voicemail(session, contact, action.recording_url, action.duration, now)
                    await do_save_answer(session, call, {**state.to_json(), "_webhook": key}, key, twiml, now)
                return twiml
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _carry_out(self, actions: tuple[Action, ...], caller: Caller, state: CallState) -> ContactResult | None:
        """Make sure a call that is queued or leaves a voicemail has its contact and case."""
        enqueue = next((a for a in actions if isinstance(a, Enqueue)), None)
        voicemail = any(isinstance(a, StoreVoicemail) for a in actions)
        if enqueue is None and not voicemail:
            return None
        return await self.call_contact(state.call_sid, caller.number, state, enqueue)

    async def call_contact(
        self, call_sid: str, number: str | None, state: CallState | None = None, enqueue: Enqueue | None = None
    ) -> ContactResult | None:
        """Return the call's contact and case, made on first need (idempotent per CallSid)."""
        if not number:
            log.warning("call %s from a withheld number: no contact can be recorded", call_sid)
            return None
        queue = enqueue.queue if enqueue else None
        case_id = await self._case_asked_about(number, state)
        try:
            return await self.intake.receive(
                ContactIntake(
                    channel=Channel.VOICE,
                    external_id=call_sid,
                    address=number,
                    subject=f"Call from {number}" + (f" ({queue})" if queue else ""),
                    case_id=case_id,
                    required_skills={s.name: s.level for s in enqueue.skills} if enqueue else {},
                    language=route_language(state.language) if state else None,
                ),
                self.clock.now(),
            )
        except InvalidInput:
            log.warning("call %s from %r: not a phone number, no contact recorded", call_sid, number)
            return None

    async def _case_asked_about(self, number: str, state: CallState | None) -> int | None:
        """Return the open case of this caller whose status they asked for, so the call joins it."""
        ref = state.variables.get("case_number") if state else None
        if not ref:
            return None
        async with self.db.transaction() as session:
            caller = await self._caller(session, number)
            try:
                case = await get_case(session, ref)
            except NotFound:
                return None
        if case.customer_id != caller.customer_id or case.status not in OPEN_STATUSES or case.merged_into_id:
            return None
        return case.id

    async def _record_voicemail(
        self, session: AsyncSession, contact: ContactResult, url: str, duration: int, now: datetime
    ) -> None:
        case = await get_case(session, contact.case.id or 0)
        customer = await session.get(Customer, case.customer_id)
        await do_record_message(
            session,
            case,
            inbound=True,
            body=f"Voicemail ({duration} s): {url}",
            actor=Actor(ActorKind.CUSTOMER, case.customer_id, customer.name if customer else None),
            now=now,
            contact_id=contact.contact.id,
            data={"channel": "voice", "kind": "voicemail", "recording_url": url, "duration": duration},
        )

    def _route_request(self, contact: ContactResult, caller: Caller, enqueue: Enqueue, call_sid: str) -> RouteRequest:
        return RouteRequest(
            contact_id=contact.contact.id or 0,
            case_id=contact.case.id or 0,
            customer_id=contact.case.customer_id,
            channel=Channel.VOICE,
            queue=enqueue.queue,
            skills={s.name: s.level for s in enqueue.skills},
            language=route_language(enqueue.language),
            priority=route_priority(caller.tier, enqueue.priority),
            attributes={"call_sid": call_sid, "caller": caller.number or "", "ivr_priority": str(enqueue.priority)},
        )

    # Lookups ----------------------------------------------------------------------------------------------------

    async def _lookup(self, lookup: Lookup, caller: Caller, state: CallState) -> LookupResult:
        """Answer the interpreter's question; a store failure is the flow's "error" outcome, never an exception."""
        try:
            match lookup.kind:
                case "case_status":
                    return await self._case_status(lookup, caller)
                case "callback":
                    booked = await self.book_callback(state.call_sid, caller.number, lookup.key, lookup.queue, state)
                    return LookupResult(lookup.key, "ok" if booked else "not_found")
                case _:
                    # Field service is not built yet: there is never a visit to tell about.
                    return LookupResult(lookup.key, "not_found")
        except (SQLAlchemyError, OSError):
            log.warning("lookup %s failed", lookup.key, exc_info=True)
            return LookupResult(lookup.key, "error")

    async def _case_status(self, lookup: Lookup, caller: Caller) -> LookupResult:
        if caller.customer_id is None or not lookup.case_number:
            return LookupResult(lookup.key, "not_found")
        async with self.db.transaction() as session:
            try:
                case = await get_case(session, lookup.case_number)
                while case.merged_into_id is not None:
                    case = await get_case(session, case.merged_into_id)
            except NotFound:
                return LookupResult(lookup.key, "not_found")
        # Another caller's case is "not found": a case number alone must not disclose anything.
        if case.customer_id != caller.customer_id:
            return LookupResult(lookup.key, "not_found")
        words = _STATUS_WORDS.get(route_language(lookup.language) or "en", _STATUS_WORDS["en"])
        return LookupResult(lookup.key, "ok", {"status": words[case.status], "number": case.number})

    async def book_callback(
        self, call_sid: str, number: str | None, key: str, queue: str | None, state: CallState | None = None
    ) -> bool:
        """Book a call back to the caller as a routing task on the call's case, once per key."""
        call_contact = await self.call_contact(call_sid, number, state)
        if call_contact is None or number is None:
            return False
        now = self.clock.now()
        queue = queue or self.options.fallback_queue
        callback = await self.intake.receive(
            ContactIntake(
                channel=Channel.VOICE,
                external_id=f"callback:{key}",
                address=number,
                direction=Direction.OUTBOUND,
                case_id=call_contact.case.id,
            ),
            now,
        )
        if callback.created:
            async with self.db.transaction() as session:
                case = await get_case(session, callback.case.id or 0)
                await do_add_note(session, case, f"Callback requested to {number} (queue {queue}).", SYSTEM, now)
                call = await get_call(session, call_sid, for_update=True)
                if call is not None:
                    call.callback_requested = True
        # The caller is leaving the line: the live call stops waiting, the callback waits in its place.
        await self.router.withdraw(call_contact.contact.id or 0, reason="callback requested")
        await self.router.submit(
            RouteRequest(
                contact_id=callback.contact.id or 0,
                case_id=callback.case.id or 0,
                customer_id=callback.case.customer_id,
                channel=Channel.VOICE,
                queue=queue,
                attributes={"kind": "callback", "callback_to": number, "call_sid": call_sid},
            )
        )
        return True

    # The queue ----------------------------------------------------------------------------------------------------

    async def queue_wait(self, form: Mapping[str, str], language: str, *, degraded: bool) -> str:
        """Return the hold TwiML: the caller's position, hold music, and a callback offer after a long wait."""
        words = self._words(language)
        waited = int(form.get("QueueTime", "0")) if form.get("QueueTime", "0").isdigit() else 0
        response = VoiceResponse()
        voice = self.flow.voice(language if language in self.flow.languages else self.flow.default_language)
        if degraded:
            if waited >= self.options.callback_offer_seconds:
                # Nobody can be routed to this caller until the store is back: a message is better than waiting.
                response.leave()
                return str(response)
            response.play(self.options.hold_music_url)
            return str(response)
        position: int | None = None
        offer = False
        try:
            position, offer = await asyncio.wait_for(
                self._queue_facts(form.get("CallSid", ""), waited), self.options.store_timeout
            )
        except (TimeoutError, SQLAlchemyError, OSError):
            log.warning("queue wait for %s without the case store", form.get("CallSid"), exc_info=True)
        if position is None and form.get("QueuePosition", "").isdigit():
            position = int(form["QueuePosition"])
        if position is not None:
            response.say(words["position"].format(position=position), voice=voice.voice, language=voice.say_language)
        if offer:
            gather = response.gather(
                input="dtmf",
                num_digits=1,
                timeout=5,
                action=f"{self.base}/queue-offer?{urlencode({'language': language})}",
                method="POST",
            )
            gather.say(words["offer"], voice=voice.voice, language=voice.say_language)
        response.play(self.options.hold_music_url)
        return str(response)

    async def _queue_facts(self, call_sid: str, waited: int) -> tuple[int | None, bool]:
        async with self.db.transaction() as session:
            call = await get_call(session, call_sid)
        if call is None or call.contact_id is None:
            return None, False
        position = await self.router.position(call.contact_id)
        offer = waited >= self.options.callback_offer_seconds and not call.callback_requested and bool(call.caller)
        return position, offer

    async def queue_offer(self, form: Mapping[str, str], language: str) -> str:
        """Answer the callback offer: 1 books a callback and ends the call, anything else keeps waiting."""
        words = self._words(language)
        voice = self.flow.voice(language if language in self.flow.languages else self.flow.default_language)
        response = VoiceResponse()
        call_sid = form.get("CallSid", "")
        if form.get("Digits", "").startswith("1"):
            try:
                booked = await asyncio.wait_for(
                    self.book_callback(call_sid, form.get("From"), f"{call_sid}/queue", None),
                    self.options.store_timeout,
                )
            except (TimeoutError, SQLAlchemyError, OSError):
                booked = False
            if booked:
                response.say(words["booked"], voice=voice.voice, language=voice.say_language)
                response.hangup()
                return str(response)
        response.say(words["stay"], voice=voice.voice, language=voice.say_language)
        return str(response)

    async def degraded_exit(self, form: Mapping[str, str]) -> str:
        """Answer the end of a degraded queue: nothing after an agent took the call, voicemail otherwise."""
        if form.get("QueueResult") in ("bridged", "bridging-in-process", "redirected", "hangup"):
            return str(VoiceResponse())
        words = self._words(self.flow.default_language)
        voice = self.flow.voice(self.flow.default_language)
        response = VoiceResponse()
        response.say(words["message"], voice=voice.voice, language=voice.say_language)
        response.record(action=f"{self.base}/recording?degraded=1", method="POST", max_length=120, play_beep=True)
        return str(response)

    async def degraded_recording(self, form: Mapping[str, str]) -> str:
        """Keep a voicemail left in degraded mode: on the case now if the store answers, else in the backlog."""
        item = VoicemailLeft(
            form.get("CallSid", ""),
            form.get("From"),
            form.get("RecordingUrl", ""),
            int(form["RecordingDuration"]) if form.get("RecordingDuration", "").isdigit() else 0,
            self.clock.now(),
        )
        if item.url and item.duration > 0:
            try:
                await asyncio.wait_for(self.replay(item), self.options.store_timeout)
            except (TimeoutError, SQLAlchemyError, OSError):
                await self.backlog.add(item)
        return self._goodbye()

    def degraded_twiml(self) -> str:
        """Return the safe answer when the store is unreachable: hold in the general queue, voicemail later."""
        words = self._words(self.flow.default_language)
        voice = self.flow.voice(self.flow.default_language)
        response = VoiceResponse()
        response.say(words["trouble"], voice=voice.voice, language=voice.say_language)
        wait = urlencode({"degraded": 1, "language": self.flow.default_language})
        response.enqueue(
            self.options.fallback_queue,
            action=f"{self.base}/queue-exit?degraded=1",
            method="POST",
            wait_url=f"{self.base}/queue-wait?{wait}",
            wait_url_method="POST",
        )
        return str(response)

    def _goodbye(self) -> str:
        voice = self.flow.voice(self.flow.default_language)
        response = VoiceResponse()
        response.say(self._words(self.flow.default_language)["goodbye"], voice=voice.voice, language=voice.say_language)
        response.hangup()
        return str(response)

    def _words(self, language: str) -> Mapping[str, str]:
        return _WORDS.get(route_language(language) or "en", _WORDS["en"])

    # Call status -------------------------------------------------------------------------------------------------

    async def status(self, form: Mapping[str, str]) -> None:
        """Record a call-status callback; a final one ends the contact and takes it out of the queue."""
        status = (form.get("CallStatus") or "").lower()
        call_sid = form.get("CallSid", "")
        if not status or not call_sid:
            return
        try:
            await asyncio.wait_for(self._status(call_sid, status), self.options.store_timeout)
        except (TimeoutError, SQLAlchemyError, OSError):
            log.warning("status of call %s kept for later", call_sid, exc_info=True)
            await self.backlog.add(CallEnded(call_sid, status, self.clock.now()))

    async def _status(self, call_sid: str, status: str) -> None:
        now = self.clock.now()
        ended_contact: int | None = None
        async with self.db.transaction() as session:
            call = await get_call(session, call_sid, for_update=True)
            if call is not None:
                if not await do_advance_call_status(session, call, status, now):
                    return
                if status in FINAL_CALL_STATUSES and call.state:
                    _, state = step(self.flow, CallState.from_json(call.state), CallerHungUp(), CallContext(now=now))
                    call.state = {**call.state, **state.to_json()}
            if status in FINAL_CALL_STATUSES:
                ended_contact = await self._end_contact(session, call_sid, now)
        if ended_contact is not None:
            await self.router.withdraw(ended_contact, reason="caller hung up")

    async def _end_contact(self, session: AsyncSession, call_sid: str, now: datetime) -> int | None:
        contact = (
            await session.scalars(
                select(Contact).where(Contact.channel == Channel.VOICE, col(Contact.external_id) == call_sid)
            )
        ).first()
        if contact is None:
            return None
        if contact.ended_at is None:
            await do_update_contact(session, contact, ContactTimes(ended_at=max(now, contact.started_at)))
        return contact.id

    # The backlog -------------------------------------------------------------------------------------------------

    async def replay(self, item: CallArrived | VoicemailLeft | CallEnded) -> None:
        """Write one note kept while the store was down (idempotent: contacts are keyed by CallSid)."""
        match item:
            case CallArrived():
                contact = await self.call_contact(item.call_sid, item.caller)
                if contact is not None and contact.contact.ended_at is None:
                    await self.router.submit(
                        RouteRequest(
                            contact_id=contact.contact.id or 0,
                            case_id=contact.case.id or 0,
                            customer_id=contact.case.customer_id,
                            channel=Channel.VOICE,
                            queue=self.options.fallback_queue,
                            attributes={"call_sid": item.call_sid, "caller": item.caller or "", "degraded": "yes"},
                        )
                    )
            case VoicemailLeft():
                contact = await self.call_contact(item.call_sid, item.caller)
                if contact is None:
                    return
                async with self.db.transaction() as session:
                    if not await _has_voicemail(session, contact, item.url):
                        await self._record_voicemail(session, contact, item.url, item.duration, item.at)
            case CallEnded():
                await self._status(item.call_sid, item.status)


async def _has_voicemail(session: AsyncSession, contact: ContactResult, url: str) -> bool:
    events = await session.scalars(
        select(CaseEvent.data).where(
            CaseEvent.case_id == contact.case.id,
            CaseEvent.kind == EventKind.MESSAGE_IN,
            CaseEvent.contact_id == contact.contact.id,
        )
    )
    return any(isinstance(data, dict) and data.get("recording_url") == url for data in events)


def bridge_twiml(agent: str, *, caller_id: str | None = None, timeout: int = 20) -> str:
    """Return TwiML that connects the call to an agent: "client:NAME", "sip:URI" or a phone number."""
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id, timeout=timeout) if caller_id else Dial(timeout=timeout)
    if agent.startswith("client:"):
        dial.client(agent.removeprefix("client:"))
    elif agent.startswith("sip:"):
        dial.sip(agent)
    else:
        dial.number(agent)
    response.append(dial)
    return str(response)


async def bridge_call(rest: TwilioRest, call_sid: str, agent: str, *, reservation: str) -> Resource:
    """Take a queued caller out of Twilio's queue and connect them to the agent who accepted the reservation."""
    return await rest.update_call(call_sid, twiml=bridge_twiml(agent), idempotency_key=f"bridge-{reservation}")
