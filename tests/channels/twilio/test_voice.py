"""Calls through the IVR over signed webhooks: self-service, queues, voicemail, retries, status, the store down."""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from sqlmodel import col, select

from contact_center.actors import SYSTEM
from contact_center.channels.twilio.web import TWILIO, replayer
from contact_center.models import CaseEvent, CasePriority, Channel, Contact, EventKind, TwilioCall, TwilioCallTurn
from contact_center.services.cases import NewCase, do_create_case
from tests.channels.twilio.conftest import ALICE, BOB, OUR_NUMBER, STRANGER

SID = "CA" + "a" * 32


def call(sid: str = SID, caller: str = ALICE, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "From": caller, "To": OUR_NUMBER, "AccountSid": "AC" + "0" * 32, **extra}


def next_url(twiml: str, verb: str = "Gather") -> str:
    """Return the path of the webhook a TwiML verb points Twilio to."""
    match = re.search(rf"<{verb} [^>]*action=\"https://cc\.example\.test([^\"]+)\"", twiml)
    assert match, twiml
    return match.group(1).replace("&amp;", "&")


async def make_case(database, clock, customer_id: int) -> str:
    async with database.transaction() as session:
        case = await do_create_case(
            session, NewCase(customer_id=customer_id, subject="Boiler", channel=Channel.VOICE), SYSTEM, clock.now()
        )
        return case.number


async def test_a_whole_call_menu_case_number_and_status_read_back(twilio, database, clock, customers):
    number = await make_case(database, clock, customers["alice"])
    digits = number.removeprefix("CS-").lstrip("0")
    first = await twilio.twiml("/twilio/voice", call())
    assert "Hello Alice Chen, thank you for calling Acme Support." in first
    menu = next_url(first)
    assert menu == "/twilio/voice/gather?turn=1"
    ask = await twilio.twiml(menu, call(Digits="1"))
    assert "enter the digits of your case number" in ask
    status = await twilio.twiml(next_url(ask), call(Digits=digits + "#"))
    assert f"Case {number}: received, and waiting for an agent." in status
    assert "For the status of a case" in status  # back at the menu


async def test_another_callers_case_is_not_found(twilio, database, clock, customers):
    number = await make_case(database, clock, customers["bob"])
    first = await twilio.twiml("/twilio/voice", call())
    ask = await twilio.twiml(next_url(first), call(Digits="1"))
    answer = await twilio.twiml(next_url(ask), call(Digits=number.removeprefix("CS-").lstrip("0") + "#"))
    assert f"I couldn't find case {number} for this phone number." in answer


async def test_a_retried_webhook_gets_the_same_twiml_and_writes_nothing_twice(twilio, database, router, customers):
    first = await twilio.twiml("/twilio/voice", call())
    assert await twilio.twiml("/twilio/voice", call()) == first
    queued = await twilio.twiml(next_url(first), call(Digits="4"))
    again = await twilio.twiml(next_url(first), call(Digits="4"))
    assert again == queued
    async with database.transaction() as session:
        assert len((await session.scalars(select(TwilioCall))).all()) == 1
        assert len((await session.scalars(select(TwilioCallTurn))).all()) == 2
        assert len((await session.scalars(select(Contact))).all()) == 1
    assert len(router.submitted) == 1


async def test_a_caller_who_wants_a_person_is_queued_and_hears_the_position(twilio, database, router, customers):
    first = await twilio.twiml("/twilio/voice", call(caller=BOB))
    assert "Bob Li" in first
    assert 'language="cmn-CN"' in first
    queued = await twilio.twiml(next_url(first), call(caller=BOB, Digits="4"))
    assert "<Enqueue " in queued
    assert ">technical</Enqueue>" in queued
    [request] = router.submitted
    assert request.channel is Channel.VOICE
    assert request.queue == "technical"
    assert request.skills == {"technical": 2, "mandarin": 1}
    assert request.language == "zh"
    assert request.priority is CasePriority.NORMAL
    assert request.attributes["call_sid"] == SID
    wait = re.search(r'waitUrl="https://cc\.example\.test([^"]+)"', queued).group(1).replace("&amp;", "&")
    router.positions[request.contact_id] = 3
    hold = await twilio.twiml(wait, call(caller=BOB, QueueTime="20", QueuePosition="1"))
    assert "您目前排在第 3 位" in hold
    assert "<Play>" in hold


async def test_a_long_wait_offers_a_callback_that_becomes_a_routing_task(twilio, database, router, customers):
    first = await twilio.twiml("/twilio/voice", call())
    queued = await twilio.twiml(next_url(first), call(Digits="4"))
    wait = re.search(r'waitUrl="https://cc\.example\.test([^"]+)"', queued).group(1).replace("&amp;", "&")
    hold = await twilio.twiml(wait, call(QueueTime="400"))
    assert "Press 1 and we will call you back" in hold
    booked = await twilio.twiml(next_url(hold), call(Digits="1"))
    assert "We will call you back on this number" in booked
    assert "<Hangup />" in booked
    live, callback = router.submitted
    assert router.withdrawn == [(live.contact_id, "callback requested")]
    assert callback.attributes["callback_to"] == ALICE
    assert callback.case_id == live.case_id
    await twilio.twiml(next_url(hold), call(Digits="1"))  # pressed again on a retried webhook: booked once
    assert len(router.submitted) == 2
    async with database.transaction() as session:
        notes = (await session.scalars(select(CaseEvent.body).where(CaseEvent.kind == EventKind.NOTE))).all()
    assert notes == [f"Callback requested to {ALICE} (queue general)."]


async def test_after_hours_voicemail_lands_on_the_case(twilio, database, clock, customers):
    clock.set(datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    first = await twilio.twiml("/twilio/voice", call())
    assert "Our lines are closed" in first
    assert "<Record " in first
    recording = "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1"
    form = call(RecordingUrl=recording, RecordingDuration="42")
    bye = await twilio.twiml(next_url(first, "Record"), form)
    assert "Thank you for your message. Goodbye." in bye
    await twilio.twiml(next_url(first, "Record"), form)  # retried
    async with database.transaction() as session:
        events = (await session.scalars(select(CaseEvent).where(CaseEvent.kind == EventKind.MESSAGE_IN))).all()
    [event] = events
    assert event.body == f"Voicemail (42 s): {recording}"
    assert event.data["recording_url"] == recording


async def test_status_callbacks_never_move_a_call_backwards_and_a_hang_up_leaves_the_queue(
    twilio, database, router, customers
):
    first = await twilio.twiml("/twilio/voice", call())
    await twilio.twiml(next_url(first), call(Digits="4"))
    [request] = router.submitted
    for status in ("completed", "ringing", "in-progress", "completed"):
        await twilio.twiml("/twilio/voice/status", call(CallStatus=status))
    async with database.transaction() as session:
        row = (await session.scalars(select(TwilioCall))).one()
        contact = await session.get(Contact, request.contact_id)
    assert row.call_status == "completed"
    assert row.state["phase"] == "ended"
    assert contact.ended_at is not None
    assert router.withdrawn == [(request.contact_id, "caller hung up")]


async def test_leaving_the_queue_sends_the_caller_to_voicemail(twilio, customers):
    first = await twilio.twiml("/twilio/voice", call())
    queued = await twilio.twiml(next_url(first), call(Digits="4"))
    exit_path = next_url(queued, "Enqueue")
    left = await twilio.twiml(exit_path, call(QueueResult="leave"))
    assert "Please leave a message after the tone" in left
    bridged_call = call(sid="CA" + "b" * 32)
    first = await twilio.twiml("/twilio/voice", bridged_call)
    queued = await twilio.twiml(next_url(first), {**bridged_call, "Digits": "4"})
    done = await twilio.twiml(next_url(queued, "Enqueue"), {**bridged_call, "QueueResult": "redirected"})
    assert done == '<?xml version="1.0" encoding="UTF-8"?><Response />'


@asynccontextmanager
async def _hanging():
    await asyncio.sleep(30)
    yield None


async def test_the_store_down_during_a_call_gets_a_safe_answer_and_the_call_is_recorded_later(
    twilio, database, router, customers, monkeypatch
):
    channel = twilio.app[TWILIO]
    channel.options = replace(channel.options, store_timeout=0.3)
    monkeypatch.setattr(database, "transaction", _hanging)
    started = time.monotonic()
    answer = await twilio.twiml("/twilio/voice", call(sid="CA" + "d" * 32, caller=STRANGER))
    assert time.monotonic() - started < 5
    assert "<Enqueue " in answer
    assert ">general</Enqueue>" in answer
    assert 'waitUrl="https://cc.example.test/twilio/voice/queue-wait?degraded=1' in answer
    # While the store is still down, a long wait leaves the queue for voicemail, kept in memory.
    hold = await twilio.twiml("/twilio/voice/queue-wait?degraded=1&language=en-US", call(QueueTime="400"))
    assert "<Leave />" in hold
    left = await twilio.twiml("/twilio/voice/queue-exit?degraded=1", call(sid="CA" + "d" * 32, QueueResult="leave"))
    assert "<Record " in left
    await twilio.twiml(
        "/twilio/voice/recording?degraded=1",
        call(sid="CA" + "d" * 32, caller=STRANGER, RecordingUrl="https://rec/RE9", RecordingDuration="7"),
    )
    assert len(channel.backlog) == 2
    assert router.submitted == []

    monkeypatch.undo()  # the store is back
    assert await channel.backlog.flush(replayer(twilio.app)) == 2
    assert len(channel.backlog) == 0
    async with database.transaction() as session:
        contact = (await session.scalars(select(Contact).where(col(Contact.external_id) == "CA" + "d" * 32))).one()
        bodies = (await session.scalars(select(CaseEvent.body).where(CaseEvent.case_id == contact.case_id))).all()
    assert contact.address == STRANGER
    assert "Voicemail (7 s): https://rec/RE9" in bodies
    [request] = router.submitted
    assert (request.contact_id, request.queue) == (contact.id, "general")


async def test_a_full_backlog_answers_503_keeps_what_it_promised_and_answers_again_once_replay_frees_room(
    twilio, database, router, customers, monkeypatch
):
    channel = twilio.app[TWILIO]
    channel.options = replace(channel.options, store_timeout=0.3)
    channel.backlog.limit = 1
    monkeypatch.setattr(database, "transaction", _hanging)
    first, second = "CA" + "e" * 32, "CA" + "f" * 32
    assert "<Enqueue " in await twilio.twiml("/twilio/voice", call(sid=first, caller=STRANGER))
    # The backlog is full: the next call and a text are refused, so that Twilio retries or uses the fallback URL.
    refused = await twilio.post("/twilio/voice", call(sid=second, caller=BOB))
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "5"
    text = {"MessageSid": "SM" + "e" * 32, "From": ALICE, "To": OUR_NUMBER, "Body": "Hello?"}
    assert (await twilio.post("/twilio/sms", text)).status == 503
    assert len(channel.backlog) == 1

    monkeypatch.undo()  # the store is back long enough for the replay
    assert await channel.backlog.flush(replayer(twilio.app)) == 1
    monkeypatch.setattr(database, "transaction", _hanging)  # and away again when Twilio retries the call
    assert "<Enqueue " in await twilio.twiml("/twilio/voice", call(sid=second, caller=BOB))
    monkeypatch.undo()
    assert await channel.backlog.flush(replayer(twilio.app)) == 1
    async with database.transaction() as session:
        calls = (await session.scalars(select(Contact.external_id).where(Contact.channel == Channel.VOICE))).all()
    assert sorted(calls) == [first, second]
    assert [request.attributes["call_sid"] for request in router.submitted] == [first, second]


async def test_a_stranger_is_greeted_without_a_name(twilio, customers):
    first = await twilio.twiml("/twilio/voice", call(caller=STRANGER))
    assert "Thank you for calling Acme Support." in first
    assert "Hello" not in first
