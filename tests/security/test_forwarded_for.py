"""Behind a reverse proxy, rate limits count the client it forwarded, and only a trusted proxy is believed."""

from __future__ import annotations

import dataclasses
from ipaddress import ip_network

import pytest

from contact_center.portal.web import PORTAL_REQUESTS_PER_CLIENT
from contact_center.settings import ConfigError, Settings
from contact_center.web.limits import forwarded_client

PROXIES = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"))


def test_the_client_is_the_first_untrusted_address_from_the_right() -> None:
    assert forwarded_client("127.0.0.1", ["203.0.113.5"], PROXIES) == "203.0.113.5"
    # A client that writes its own header gains nothing: the proxies' appended address is the one believed.
    assert forwarded_client("127.0.0.1", ["198.51.100.1, 203.0.113.5"], PROXIES) == "203.0.113.5"
    assert forwarded_client("127.0.0.1", ["203.0.113.5, 10.1.2.3"], PROXIES) == "203.0.113.5"
    assert forwarded_client("127.0.0.1", ["203.0.113.5", "10.1.2.3"], PROXIES) == "203.0.113.5"
    # An untrusted peer's header is ignored, and a malformed hop stops at the last proxy that wrote it.
    assert forwarded_client("192.0.2.9", ["203.0.113.5"], PROXIES) == "192.0.2.9"
    assert forwarded_client("127.0.0.1", ["junk"], PROXIES) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", [], PROXIES) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", ["2001:db8::1"], PROXIES) == "2001:db8::1"


def test_trusted_proxies_are_read_from_the_environment(tmp_path) -> None:
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert settings.trusted_proxies == PROXIES
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.0/33"})


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, trusted_proxies=PROXIES)


async def test_portal_limits_count_each_forwarded_client_on_its_own(portal):
    browser = await portal()
    await browser.page("/portal")
    first = {"X-Forwarded-For": "203.0.113.5"}
    for n in range(PORTAL_REQUESTS_PER_CLIENT.limit):
        await browser.post("/portal/signin", {"email": f"someone{n}@example.org"}, status=200, headers=first)
    await browser.post("/portal/signin", {"email": "ann@example.org"}, status=429, headers=first)
    spoofed = {"X-Forwarded-For": "198.51.100.77, 203.0.113.5"}
    await browser.post("/portal/signin", {"email": "ann@example.org"}, status=429, headers=spoofed)
    await browser.post(
        "/portal/signin", {"email": "ann@example.org"}, status=200, headers={"X-Forwarded-For": "203.0.113.6"}
    )
