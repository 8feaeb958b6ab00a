"""Security fixtures: the app with Twilio configured (so webhooks check signatures), personas and customers."""

from __future__ import annotations

import dataclasses

import pytest

from contact_center.settings import Settings
from tests.portal.conftest import Portal, customers  # noqa: F401  (the fixture is used by the tests here)

__all__ = ["Portal"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with Twilio credentials, so its webhooks refuse unsigned requests rather than 503."""
    return dataclasses.replace(
        settings,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="security-test-token",
        public_base_url="http://cc.example.test",
    )


@pytest.fixture
def portal(app_client, database, customers):  # noqa: F811
    """Return a function that opens a customer's browser, signed in through the emailed link when given an address."""

    async def make(address: str | None = None) -> Portal:
        browser = Portal(await app_client(), database)
        if address:
            await browser.sign_in(address)
        return browser

    return make
