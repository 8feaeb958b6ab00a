"""Signature checks: Twilio's published test vectors, and every webhook refusing what Twilio did not sign."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func
from sqlmodel import select

from contact_center.channels.twilio.options import TwilioOptions
from contact_center.channels.twilio.signature import is_signed_by_twilio, webhook_url
from contact_center.models import Contact, TwilioCall
from contact_center.web.app import create_app
from tests.channels.twilio.conftest import ALICE, BASE_URL, OUR_NUMBER

# Twilio's published vectors, from twilio-python's own tests:
# https://github.com/twilio/twilio-python/blob/main/tests/unit/test_request_validator.py
VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}


def test_published_vector():
    assert is_signed_by_twilio(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        # Signed without the port, called with one (https).
        (VECTOR_URL.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # Signed with port 1234 over http.
        (VECTOR_URL.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        # Signed with the default port 443 spelled out.
        (VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        # Signed with the default port 80 spelled out.
        (VECTOR_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ],
)
def test_published_port_variants(url, signature):
    assert is_signed_by_twilio(VECTOR_TOKEN, url, VECTOR_PARAMS, signature)


def test_published_vector_fails_on_any_change():
    tampered = {**VECTOR_PARAMS, "Digits": "1235"}
    assert not is_signed_by_twilio(VECTOR_TOKEN, VECTOR_URL, tampered, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not is_signed_by_twilio(VECTOR_TOKEN, VECTOR_URL + "&x=1", VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not is_signed_by_twilio("54321", VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not is_signed_by_twilio(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS, None)


def test_the_url_is_the_public_base_plus_the_raw_path_and_query():
    assert webhook_url("https://cc.example.test/", "/twilio/voice/gather?turn=2") == (
        "https://cc.example.test/twilio/voice/gather?turn=2"
    )


CALL = {"CallSid": "CA" + "1" * 32, "From": ALICE, "To": OUR_NUMBER, "CallStatus": "ringing"}


async def rows(database, model) -> int:
    async with database.transaction() as session:
        return (await session.scalars(select(func.count()).select_from(model))).one()


@pytest.mark.parametrize(
    "path",
    ["/twilio/voice", "/twilio/voice/gather?turn=1", "/twilio/voice/status", "/twilio/sms", "/twilio/sms/status"],
)
async def test_unsigned_and_wrongly_signed_requests_are_refused_and_write_nothing(twilio, database, path):
    form = {**CALL, "MessageSid": "SM" + "1" * 32, "Body": "hello"}
    assert (await twilio.post(path, form, signed=False)).status == 403
    assert (await twilio.post(path, form, sign_url="https://evil.example.test" + path)).status == 403
    tampered = await twilio.client.post(
        path,
        data={**form, "Body": "tampered"},
        headers={"X-Twilio-Signature": twilio.validator.compute_signature(BASE_URL + path, form)},
    )
    assert tampered.status == 403
    assert await rows(database, TwilioCall) == 0
    assert await rows(database, Contact) == 0


async def test_a_signed_request_with_the_default_port_is_accepted(twilio):
    response = await twilio.post("/twilio/voice", CALL, sign_url="https://cc.example.test:443/twilio/voice")
    assert response.status == 200
    assert response.content_type == "text/xml"


async def test_without_an_auth_token_every_webhook_says_what_to_configure(
    aiohttp_client, twilio_settings, database, clock, caplog
):
    app = create_app(
        replace(twilio_settings, twilio_auth_token=None), database=database, clock=clock, twilio_options=TwilioOptions()
    )
    client = await aiohttp_client(app)
    assert "TWILIO_AUTH_TOKEN" in caplog.text
    for path in ("/twilio/voice", "/twilio/sms"):
        response = await client.post(path, data=CALL)
        assert response.status == 503
        body = await response.json()
        assert "TWILIO_AUTH_TOKEN" in body["error"]["message"]
        assert "PUBLIC_BASE_URL" in body["error"]["message"]
    assert await rows(database, TwilioCall) == 0
