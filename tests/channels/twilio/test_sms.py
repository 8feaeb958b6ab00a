"""Texts: in to a case and routing, keywords, an agent's reply through the outbox and Twilio, delivery statuses."""

from __future__ import annotations

from sqlmodel import col, select

from contact_center.channels.twilio.web import sms_transport
from contact_center.models import (
    CaseEvent,
    CasePriority,
    Channel,
    Contact,
    EventKind,
    OutboxChannel,
    OutboxMessage,
    OutboxStatus,
    SmsDelivery,
)
from contact_center.services.outbox import Outbound, do_enqueue
from contact_center.workers.outbox import send_due
from tests.channels.twilio.conftest import ALICE, OUR_NUMBER, STRANGER


def text(body: str, sid: str, sender: str = ALICE) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": OUR_NUMBER,
        "Body": body,
    }


async def contacts(database) -> list[Contact]:
    async with database.transaction() as session:
        return list((await session.scalars(select(Contact).order_by(col(Contact.id)))).all())


async def reply(database, clock, case_id: int, to: str = ALICE, body: str = "We have booked a technician.") -> int:
    async with database.transaction() as session:
        message = await do_enqueue(session, Outbound(OutboxChannel.SMS, to, body, case_id=case_id), clock.now())
    return message.id or 0


async def load(database, model, key):
    async with database.transaction() as session:
        return await session.get(model, key)


async def test_a_text_becomes_a_contact_on_a_case_and_is_routed_once(twilio, database, router, customers):
    assert await twilio.twiml("/twilio/sms", text("My boiler is broken", "SM1")) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response />'
    )
    await twilio.twiml("/twilio/sms", text("My boiler is broken", "SM1"))  # Twilio retried the webhook
    [contact] = await contacts(database)
    assert contact.channel is Channel.SMS
    assert contact.external_id == "SM1"
    assert contact.customer_id == customers["alice"]
    [request] = router.submitted
    assert request.contact_id == contact.id
    assert request.channel is Channel.SMS
    assert request.priority is CasePriority.HIGH  # Alice is a high-value customer
    assert request.language == "en"
    # A second text joins the open case on the same thread.
    await twilio.twiml("/twilio/sms", text("It is leaking too", "SM2"))
    first, second = await contacts(database)
    assert first.case_id == second.case_id


async def test_an_agent_reply_goes_out_through_the_outbox_and_its_status_comes_back(
    twilio, database, clock, fake_twilio, customers
):
    await twilio.twiml("/twilio/sms", text("When is my visit?", "SM1"))
    [contact] = await contacts(database)
    message_id = await reply(database, clock, contact.case_id)
    transport = sms_transport(twilio.app)
    assert await send_due(database, {OutboxChannel.SMS: transport}, clock) == 1
    message = await load(database, OutboxMessage, message_id)
    assert message.status is OutboxStatus.SENT
    [sent] = fake_twilio.messages.values()
    assert message.provider_id == sent["sid"]
    assert sent["to"] == ALICE
    assert sent["from"] == OUR_NUMBER
    [request] = fake_twilio.requests
    assert request.headers["I-Twilio-Idempotency-Token"] == f"outbox-{message_id}"
    callback = request.form["StatusCallback"][0]
    assert callback == f"https://cc.example.test/twilio/sms/status?outbox={message_id}"
    path = callback.removeprefix("https://cc.example.test")

    def status(value: str, **extra: str) -> dict[str, str]:
        return {"MessageSid": sent["sid"], "MessageStatus": value, "To": ALICE, "From": OUR_NUMBER, **extra}

    await twilio.twiml(path, status("sent"))
    await twilio.twiml(path, status("delivered"))
    await twilio.twiml(path, status("sent"))  # late and out of order
    await twilio.twiml(path, status("undelivered", ErrorCode="30003"))  # cannot follow a delivery
    async with database.transaction() as session:
        delivery = (await session.scalars(select(SmsDelivery).where(SmsDelivery.outbox_id == message_id))).one()
    assert delivery.status == "delivered"
    assert delivery.message_sid == sent["sid"]


async def test_a_failed_delivery_is_final_and_noted_on_the_case(twilio, database, clock, fake_twilio, customers):
    await twilio.twiml("/twilio/sms", text("Hello", "SM1"))
    [contact] = await contacts(database)
    message_id = await reply(database, clock, contact.case_id)
    await send_due(database, {OutboxChannel.SMS: sms_transport(twilio.app)}, clock)
    path = f"/twilio/sms/status?outbox={message_id}"
    sid = next(iter(fake_twilio.messages))
    await twilio.twiml(path, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    await twilio.twiml(path, {"MessageSid": sid, "MessageStatus": "delivered"})
    delivery = await _delivery(database, message_id)
    assert (delivery.status, delivery.error_code) == ("undelivered", "30003")
    async with database.transaction() as session:
        notes = (
            await session.scalars(
                select(CaseEvent.body).where(CaseEvent.case_id == contact.case_id, CaseEvent.kind == EventKind.NOTE)
            )
        ).all()
    assert notes == [f"Text to {ALICE} was not delivered: undelivered (Twilio error 30003)."]


async def _delivery(database, message_id):
    async with database.transaction() as session:
        return (await session.scalars(select(SmsDelivery).where(SmsDelivery.outbox_id == message_id))).one()


async def test_stop_is_honoured_for_every_later_send_and_start_undoes_it(
    twilio, database, clock, fake_twilio, router, customers
):
    await twilio.twiml("/twilio/sms", text("Hello", "SM1"))
    [contact] = await contacts(database)
    await twilio.twiml("/twilio/sms", text(" stop ", "SM2"))
    assert len(await contacts(database)) == 1  # a keyword is no message for an agent
    assert len(router.submitted) == 1
    message_id = await reply(database, clock, contact.case_id)
    await send_due(database, {OutboxChannel.SMS: sms_transport(twilio.app)}, clock)
    failed = await load(database, OutboxMessage, message_id)
    assert failed.status is OutboxStatus.FAILED
    assert "opted out" in failed.last_error
    assert fake_twilio.requests == []  # never reached Twilio

    answer = await twilio.twiml("/twilio/sms", text("START", "SM3"))
    assert "subscribed again" in answer
    again = await reply(database, clock, contact.case_id)
    await send_due(database, {OutboxChannel.SMS: sms_transport(twilio.app)}, clock)
    assert (await load(database, OutboxMessage, again)).status is OutboxStatus.SENT


async def test_help_gets_the_help_text_and_no_case(twilio, database, router):
    answer = await twilio.twiml("/twilio/sms", text("help", "SM1", sender=STRANGER))
    assert "<Message>Acme Support: reply to this number to reach an agent. Reply STOP to opt out.</Message>" in answer
    assert await contacts(database) == []
    assert router.submitted == []


async def test_twilio_refusing_an_unsubscribed_number_stores_the_opt_out(twilio, database, clock, fake_twilio):
    fake_twilio.fail_next(1, 400, 21610, "Attempt to send to unsubscribed recipient")
    first = await reply(database, clock, None, to=STRANGER)
    second = await reply(database, clock, None, to=STRANGER)
    await send_due(database, {OutboxChannel.SMS: sms_transport(twilio.app)}, clock)
    assert (await load(database, OutboxMessage, first)).status is OutboxStatus.FAILED
    assert (await load(database, OutboxMessage, second)).status is OutboxStatus.FAILED
    assert len(fake_twilio.requests) == 1  # the second was stopped here, not by Twilio
