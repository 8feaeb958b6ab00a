"""Rate limits on signing in: wrong passwords per account and per client address.

Guessing is stopped at both ends: per account, so one password cannot be tried against many guesses, and per
client, so one machine cannot try a few passwords against every account. Only failures count, so people who
sign in often are never slowed down. The client is the TCP peer, or, when the peer is one of TRUSTED_PROXIES,
the nearest address in X-Forwarded-For that is not itself a trusted proxy (a client can write anything into the
header, so only what trusted proxies appended is believed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from ipaddress import ip_address

from aiohttp import web

from contact_center.errors import RateLimited
from contact_center.settings import IPNetwork
from contact_center.throttle import Rule
from contact_center.web.keys import CLOCK, SETTINGS, THROTTLE

__all__ = [
    "LOGIN_PER_ACCOUNT",
    "LOGIN_PER_CLIENT",
    "check_limit",
    "check_login",
    "client_address",
    "count_attempt",
    "count_failed_login",
    "forwarded_client",
]

LOGIN_PER_ACCOUNT = Rule("login-account", limit=10, window=timedelta(minutes=15))
LOGIN_PER_CLIENT = Rule("login-client", limit=30, window=timedelta(minutes=15))


def client_address(request: web.Request) -> str:
    """Return the address the request came from (behind trusted proxies, the client they forwarded)."""
    peer = request.remote or "unknown"
    trusted = request.app[SETTINGS].trusted_proxies
    if not trusted:
        return peer
    return forwarded_client(peer, request.headers.getall("X-Forwarded-For", []), trusted)


def forwarded_client(peer: str, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str:
    """Return the client behind a chain of trusted proxies: X-Forwarded-For read from the right.

    Each proxy appends the address it was connected from, so walking back from the peer, the first address that
    is not a trusted proxy is the client; a malformed entry ends the walk at the last proxy that wrote it.
    """

    def is_trusted(address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in trusted)

    current = peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(current):
            break
        try:
            ip_address(hop)
        except ValueError:
            break
        current = hop
    return current


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
