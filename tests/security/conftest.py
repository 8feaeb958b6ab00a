"""Security fixtures: the app with Twilio configured (so webhooks check signatures), personas and customers."""

from __future__ import annotations

import dataclasses

import pytest

from contact_center.settings import Settings
from tests.portal.conftest import Portal, customers, portal

__all__ = ["Portal", "customers", "portal"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with Twilio credentials, so its webhooks refuse unsigned requests rather than 503."""
    return dataclasses.replace(
        settings,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="security-test-token",
        public_base_url="http://cc.example.test",
    )
