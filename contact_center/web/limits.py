"""Rate limits on signing in: wrong passwords per account and per client address.

Guessing is stopped at both ends: per account, so one password cannot be tried against many guesses, and per
client, so one machine cannot try a few passwords against every account. Only failures count, so people who
sign in often are never slowed down. The client is the TCP peer; behind a reverse proxy configure it to
connect per client (or extend `client_address`), else every caller shares the proxy's count.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from contact_center.errors import RateLimited
from contact_center.throttle import Rule
from contact_center.web.keys import CLOCK, THROTTLE

__all__ = [
    "LOGIN_PER_ACCOUNT",
    "LOGIN_PER_CLIENT",
    "check_limit",
    "check_login",
    "client_address",
    "count_attempt",
    "count_failed_login",
]

LOGIN_PER_ACCOUNT = Rule("login-account", limit=10, window=timedelta(minutes=15))
LOGIN_PER_CLIENT = Rule("login-client", limit=30, window=timedelta(minutes=15))


def client_address(request: web.Request) -> str:
    """Return the address the request came from."""
    return request.remote or "unknown"


async def check_limit(request: web.Request, rule: Rule, key: str, message: str) -> None:
    """Raise 429 if `key` has used up `rule` in the current window."""
    if await request.app[THROTTLE].count(rule, key, request.app[CLOCK].now()) >= rule.limit:
        raise RateLimited(message, retry_after_seconds=int(rule.window.total_seconds()))


async def count_attempt(request: web.Request, rule: Rule, key: str, message: str) -> None:
    """Count one attempt for `key`, raising 429 once it goes beyond `rule`."""
    if await request.app[THROTTLE].hit(rule, key, request.app[CLOCK].now()) > rule.limit:
        raise RateLimited(message, retry_after_seconds=int(rule.window.total_seconds()))


_LOGIN_PAUSED = "too many failed sign-ins; wait a few minutes and try again"


async def check_login(request: web.Request, username: str) -> None:
    """Raise 429 before checking a password if the account or the client failed too often lately."""
    await check_limit(request, LOGIN_PER_ACCOUNT, username.strip(), _LOGIN_PAUSED)
    await check_limit(request, LOGIN_PER_CLIENT, client_address(request), _LOGIN_PAUSED)


async def count_failed_login(request: web.Request, username: str) -> None:
    """Count a wrong username or password against the account and the client."""
    now, throttle = request.app[CLOCK].now(), request.app[THROTTLE]
    await throttle.hit(LOGIN_PER_ACCOUNT, username.strip(), now)
    await throttle.hit(LOGIN_PER_CLIENT, client_address(request), now)
