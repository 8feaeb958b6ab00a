"""The REST adapter against a local server speaking Twilio's wire format, over real HTTP."""

from __future__ import annotations

import aiohttp
import pytest

from contact_center.channels.base import TransportError
from contact_center.channels.twilio.rest import IDEMPOTENCY_HEADER, TwilioRest
from contact_center.channels.twilio.voice import bridge_call
from tests.channels.twilio.conftest import ACCOUNT_SID, ALICE, AUTH_TOKEN, OUR_NUMBER


@pytest.fixture
async def rest(fake_twilio):
    async with aiohttp.ClientSession() as session:
        yield TwilioRest(
            session, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, base_url=fake_twilio.base_url, timeout=2.0
        )


async def test_a_text_is_sent_with_its_status_callback_and_idempotency_token(rest, fake_twilio):
    sent = await rest.send_sms(
        to=ALICE,
        body="Your technician is on the way",
        from_=OUR_NUMBER,
        status_callback="https://cb",
        idempotency_key="k1",
    )
    assert sent.sid.startswith("SM")
    assert sent.status == "queued"
    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": [ALICE],
        "Body": ["Your technician is on the way"],
        "From": [OUR_NUMBER],
        "StatusCallback": ["https://cb"],
    }
    assert request.headers[IDEMPOTENCY_HEADER] == "k1"


async def test_a_repeated_idempotency_token_sends_once(rest, fake_twilio):
    first = await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER, idempotency_key="outbox-7")
    again = await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER, idempotency_key="outbox-7")
    assert first.sid == again.sid
    assert len(fake_twilio.messages) == 1


async def test_an_invalid_number_fails_permanently_with_twilios_code(rest):
    with pytest.raises(TransportError) as caught:
        await rest.send_sms(to="+1", body="hi", from_=OUR_NUMBER)
    assert caught.value.permanent
    assert caught.value.code == 21211  # type: ignore[attr-defined]
    assert "21211" in str(caught.value)


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503), (401, 20003)])
async def test_rate_limits_server_errors_and_credentials_are_transient(rest, fake_twilio, status, code):
    fake_twilio.fail_next(1, status, code, "try later")
    with pytest.raises(TransportError) as caught:
        await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER)
    assert not caught.value.permanent
    assert (await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER)).sid


async def test_wrong_credentials_are_refused(fake_twilio):
    async with aiohttp.ClientSession() as session:
        rest = TwilioRest(session, account_sid=ACCOUNT_SID, auth_token="wrong", base_url=fake_twilio.base_url)
        with pytest.raises(TransportError) as caught:
            await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER)
    assert caught.value.status == 401  # type: ignore[attr-defined]
    assert fake_twilio.messages == {}


async def test_a_time_out_is_transient(fake_twilio):
    fake_twilio.delay = 0.5
    async with aiohttp.ClientSession() as session:
        rest = TwilioRest(
            session, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, base_url=fake_twilio.base_url, timeout=0.1
        )
        with pytest.raises(TransportError) as caught:
            await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER)
    assert not caught.value.permanent


async def test_an_unreachable_api_is_transient(unused_tcp_port):
    async with aiohttp.ClientSession() as session:
        rest = TwilioRest(
            session, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, base_url=f"http://127.0.0.1:{unused_tcp_port}"
        )
        with pytest.raises(TransportError) as caught:
            await rest.send_sms(to=ALICE, body="hi", from_=OUR_NUMBER)
    assert not caught.value.permanent


async def test_a_call_is_created_with_status_callbacks(rest, fake_twilio):
    call = await rest.create_call(
        to=ALICE, from_=OUR_NUMBER, url="https://cc/twilio/voice", status_callback="https://cc/twilio/voice/status"
    )
    assert call.sid.startswith("CA")
    [request] = fake_twilio.requests
    assert request.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert request.form["Url"] == ["https://cc/twilio/voice"]


async def test_a_queued_caller_is_bridged_to_the_agent_by_redirecting_the_live_call(rest, fake_twilio):
    sid = "CA" + "5" * 32
    fake_twilio.add_live_call(sid)
    await bridge_call(rest, sid, "client:bob", reservation="r-1")
    [request] = fake_twilio.requests
    assert request.path.endswith(f"/Calls/{sid}.json")
    assert request.form["Twiml"] == [
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="20"><Client>bob</Client></Dial></Response>'
    ]
    assert request.headers[IDEMPOTENCY_HEADER] == "bridge-r-1"
    fake_twilio.calls[sid]["status"] = "completed"
    with pytest.raises(TransportError) as caught:
        await bridge_call(rest, sid, "client:bob", reservation="r-2")
    assert caught.value.permanent
