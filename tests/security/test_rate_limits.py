"""Rate limits on guessing: staff passwords per account and per client, portal links and codes per client.

The counts live in memory for one process or in Redis for many; both are tried, and the window's end lets
people in again.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from contact_center.portal.web import PORTAL_CODES_PER_CLIENT, PORTAL_REQUESTS_PER_CLIENT
from contact_center.throttle import MemoryThrottle, RedisThrottle, Rule
from contact_center.web.limits import LOGIN_PER_ACCOUNT, LOGIN_PER_CLIENT
from tests.conftest import PASSWORD, PERSONAS, START
from tests.routing.conftest import REDIS_URL, delete_prefix, new_prefix


@pytest.fixture(params=["memory", "redis"])
async def settings(request, settings):
    """The security settings, with the counts in memory or in Redis under a fresh prefix."""
    if request.param == "memory":
        yield settings
        return
    prefix = new_prefix()
    yield dataclasses.replace(settings, redis_url=REDIS_URL, redis_prefix=prefix)
    client = Redis.from_url(REDIS_URL)
    await delete_prefix(client, prefix)
    await client.aclose()


async def _login(client, username: str, password: str) -> int:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return response.status


async def test_an_account_pauses_after_its_failures_until_the_window_ends(app_client, users, clock):
    client = await app_client()
    for _ in range(LOGIN_PER_ACCOUNT.limit):
        assert await _login(client, "bob@example.test", "guess-guess") == 401
    # Even the right password waits now, so a guesser learns nothing from the answer.
    assert await _login(client, "BOB@example.test", PASSWORD) == 429
    assert await _login(client, "sam@example.test", PASSWORD) == 200
    clock.advance(LOGIN_PER_ACCOUNT.window)
    assert await _login(client, "bob@example.test", PASSWORD) == 200


async def test_a_client_pauses_after_failing_on_many_accounts(app_client, users, clock):
    client = await app_client()
    # Spread over the personas so no account reaches its own limit (unknown names would cost a full Argon2 hash).
    personas = list(PERSONAS)
    assert LOGIN_PER_CLIENT.limit / len(personas) < LOGIN_PER_ACCOUNT.limit
    for n in range(LOGIN_PER_CLIENT.limit):
        assert await _login(client, f"{personas[n % len(personas)]}@example.test", "guess-guess") == 401
    response = await client.post("/api/v1/auth/login", json={"username": "sam@example.test", "password": PASSWORD})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "rate_limited"
    assert response.headers["Retry-After"] == str(int(LOGIN_PER_CLIENT.window.total_seconds()))
    # The sign-in page shares the count.
    page = await client.get("/login")
    csrf = page.cookies["cc_login_csrf"].value
    form = {"username": "sam@example.test", "password": PASSWORD, "csrf_token": csrf}
    assert (await client.post("/login", data=form, allow_redirects=False)).status == 429


async def test_the_sign_in_page_counts_failures_too(app_client, users):
    client = await app_client()
    csrf = (await client.get("/login")).cookies["cc_login_csrf"].value
    form = {"username": "bob@example.test", "password": "guess-guess", "csrf_token": csrf}
    for _ in range(LOGIN_PER_ACCOUNT.limit):
        assert (await client.post("/login", data=form, allow_redirects=False)).status == 401
    assert await _login(client, "bob@example.test", PASSWORD) == 429


async def test_a_client_may_ask_for_only_so_many_portal_links_and_codes(portal, clock):
    browser = await portal()
    await browser.page("/portal")
    for n in range(PORTAL_REQUESTS_PER_CLIENT.limit):
        # Unknown addresses count too: they are what an enumerating client sends.
        await browser.post("/portal/signin", {"email": f"someone{n}@example.org"}, status=200)
    await browser.post("/portal/signin", {"email": "ann@example.org"}, status=429)
    await browser.post("/portal/code", {"case": "CS-000001"}, status=429)
    clock.advance(PORTAL_REQUESTS_PER_CLIENT.window)
    await browser.post("/portal/signin", {"email": "ann@example.org"}, status=200)


async def test_a_client_may_guess_only_so_many_codes(portal):
    browser = await portal()
    await browser.page("/portal")
    for n in range(PORTAL_CODES_PER_CLIENT.limit):
        await browser.post("/portal/code/verify", {"case": f"CS-{n + 1:06d}", "code": "000000"}, status=400)
    await browser.post("/portal/code/verify", {"case": "CS-000001", "code": "123456"}, status=429)


@pytest.fixture(params=["memory", "redis"])
async def throttle(request):
    if request.param == "memory":
        yield MemoryThrottle()
        return
    client, prefix = Redis.from_url(REDIS_URL), new_prefix()
    yield RedisThrottle(client, prefix)
    await delete_prefix(client, prefix)
    await client.aclose()


async def test_counts_are_per_rule_and_key_and_start_again_each_window(throttle):
    rule, other = Rule("a", limit=2, window=timedelta(minutes=1)), Rule("b", limit=2, window=timedelta(minutes=1))
    assert await throttle.count(rule, "k", START) == 0
    assert await throttle.hit(rule, "k", START) == 1
    assert await throttle.hit(rule, "K", START + timedelta(seconds=59)) == 2  # keys ignore case
    assert await throttle.count(other, "k", START) == 0
    assert await throttle.count(rule, "j", START) == 0
    assert await throttle.count(rule, "k", START + timedelta(minutes=1)) == 0
    assert await throttle.hit(rule, "k", START + timedelta(minutes=1)) == 1


async def test_memory_counts_of_passed_windows_are_swept(monkeypatch):
    throttle = MemoryThrottle()
    monkeypatch.setattr(MemoryThrottle, "SWEEP_AT", 10)
    rule = Rule("a", limit=2, window=timedelta(minutes=1))
    for n in range(10):
        await throttle.hit(rule, f"guess{n}", START)
    later = START + timedelta(minutes=1)
    await throttle.hit(rule, "one more", later)
    assert await throttle.hit(rule, "another", later) == 1
    assert len(throttle._counts) == 2


async def test_while_redis_is_away_each_process_keeps_counting_on_its_own():
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)  # nothing listens there
    throttle, rule = RedisThrottle(client, new_prefix()), Rule("a", limit=2, window=timedelta(minutes=1))
    try:
        assert await throttle.hit(rule, "k", START) == 1
        assert await throttle.hit(rule, "k", START) == 2
        assert await throttle.count(rule, "k", START) == 2
    finally:
        await client.aclose()
