"""Fixtures for the Twilio channel: an app with the Twilio routes, a fake Twilio API, signed webhooks, personas."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from contact_center.channels.twilio.options import TwilioOptions
from contact_center.channels.twilio.web import TWILIO
from contact_center.dispatch import RouteRequest
from contact_center.models import IdentityKind
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from contact_center.web.app import create_app
from contact_center.web.keys import ROUTER
from tests.fakes.twilio_api import FakeTwilio

BASE_URL = "https://cc.example.test"
AUTH_TOKEN = "fake-auth-token"
ACCOUNT_SID = "AC" + "0" * 32
OUR_NUMBER = "+18005550100"
ALICE = "+14155550111"
BOB = "+14155550122"
STRANGER = "+14155550199"


@dataclass
class RecordingRouter:
    """A ContactRouter that remembers what it was asked, with queue positions the test sets."""

    submitted: list[RouteRequest] = field(default_factory=list)
    withdrawn: list[tuple[int, str]] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)

    async def submit(self, request: RouteRequest) -> None:
        if all(r.contact_id != request.contact_id for r in self.submitted):
            self.submitted.append(request)

    async def withdraw(self, contact_id: int, *, reason: str) -> None:
        self.withdrawn.append((contact_id, reason))

    async def position(self, contact_id: int) -> int | None:
        return self.positions.get(contact_id)


@pytest.fixture
async def fake_twilio(aiohttp_server):
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    server: TestServer = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return fake


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    return replace(
        settings,
        public_base_url=BASE_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=fake_twilio.base_url,
    )


@pytest.fixture
def options():
    return TwilioOptions(sms_from=OUR_NUMBER, store_timeout=4.0, callback_offer_seconds=300)


@pytest.fixture
def router():
    return RecordingRouter()


class Twilio:
    """Plays Twilio: posts webhooks signed with the real validator, as Twilio signs them."""

    def __init__(self, client: TestClient[Any, Any], token: str = AUTH_TOKEN) -> None:
        self.client = client
        self.validator = RequestValidator(token)

    @property
    def app(self):
        return self.client.app

    async def post(self, path: str, form: dict[str, str], *, signed: bool = True, sign_url: str | None = None):
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(sign_url or BASE_URL + path, form)
        return await self.client.post(path, data=form, headers=headers)

    async def twiml(self, path: str, form: dict[str, str]) -> str:
        response = await self.post(path, form)
        assert response.status == 200, await response.text()
        assert response.content_type == "text/xml"
        return await response.text()


@pytest.fixture
async def twilio(aiohttp_client, twilio_settings, database, clock, options, router):
    app = create_app(twilio_settings, database=database, clock=clock, twilio_options=options)
    app[ROUTER] = router
    client = await aiohttp_client(app)
    return Twilio(client)


@pytest.fixture
def backlog(twilio):
    return twilio.app[TWILIO].backlog


@pytest.fixture
async def customers(database, clock):
    """Alice (high value, English) and Bob (Mandarin), each with a phone number."""
    ids = {}
    async with database.transaction() as session:
        for name, number, score, language in (("Alice Chen", ALICE, 90, "en"), ("Bob Li", BOB, 10, "zh")):
            customer = await do_create_customer(
                session, CustomerFields(name=name, value_score=score, language=language), clock.now()
            )
            await do_add_identity(session, customer, IdentityKind.PHONE, number, clock.now())
            ids[name.split()[0].lower()] = customer.id
    return ids
