"""Server-side fetches refuse loopback, private, link-local and reserved addresses, after DNS and redirects too."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from contact_center.net_guard import BlockedAddress, BlockedUrl, check_url, guarded_session, is_public_address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "ff02::1",
        "not an address",
    ],
)
def test_inner_addresses_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_internet_addresses_are_public(address):
    assert is_public_address(address)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://example.com/", "http:///nohost", "/path"])
def test_only_http_urls_with_a_host_are_fetched(url):
    with pytest.raises(BlockedUrl):
        check_url(url)
    assert str(check_url("https://api.twilio.com/x.mp3")) == "https://api.twilio.com/x.mp3"


@pytest.fixture
async def inner_server(aiohttp_server):
    """A server on loopback that answers /secret and redirects /hop to itself by another loopback address."""

    async def secret(_request: web.Request) -> web.Response:
        return web.Response(text="metadata credentials")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{request.url.port}/secret")

    app = web.Application()
    app.router.add_get("/secret", secret)
    app.router.add_get("/hop", hop)
    return await aiohttp_server(app, host="0.0.0.0")  # noqa: S104  (reachable as 127.0.0.1 and 127.0.0.2)


async def _fetch(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


async def _refused(session: aiohttp.ClientSession, url: str) -> BlockedAddress:
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await _fetch(session, url)
    assert isinstance(caught.value.os_error, BlockedAddress), caught.value
    return caught.value.os_error


async def test_a_loopback_address_or_a_name_resolving_to_one_is_refused(inner_server):
    async with guarded_session() as session:
        for url in (f"http://127.0.0.1:{inner_server.port}/secret", f"http://localhost:{inner_server.port}/secret"):
            error = await _refused(session, url)
            assert "not a public address" in str(error)


async def test_a_redirect_inward_is_refused(inner_server):
    # Pretend 127.0.0.1 is the internet: the first hop is fetched, the redirect to 127.0.0.2 is not.
    async with guarded_session(allowed=lambda host: host == "127.0.0.1") as session:
        assert await _fetch(session, f"http://127.0.0.1:{inner_server.port}/secret") == "metadata credentials"
        await _refused(session, f"http://127.0.0.1:{inner_server.port}/hop")
    async with aiohttp.ClientSession() as unguarded:  # the same fetch without the guard would have leaked
        assert await _fetch(unguarded, f"http://127.0.0.1:{inner_server.port}/hop") == "metadata credentials"
