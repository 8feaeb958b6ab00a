"""Open-loop traffic: requests leave at a fixed arrival rate whether or not earlier ones have been answered.

Each arrival is one of: a signed Twilio voice webhook (a call queued by the bench IVR flow), a signed Twilio SMS
webhook, a web chat opened on its WebSocket, or an API call (the supervisor's case list). A request's latency
counts from when it was due to leave, not from when the client got round to sending it, so a client or server
that falls behind shows in the figures instead of hiding (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

__all__ = ["KINDS", "Recorded", "Target", "drive", "percentile"]

# One arrival in twenty of each kind per slot: 7 calls, 7 texts, 3 chats, 3 API calls.
KINDS = ("voice", "sms", "chat", "api", "voice", "sms", "voice", "sms", "chat", "api") * 2
_PATHS = {"voice": "/twilio/voice", "sms": "/twilio/sms", "chat": "/chat/ws", "api": "/api/v1/cases"}
OUR_NUMBER = "+18005550100"
# Callers and texters come from a few thousand numbers, so some are known customers with open cases.
_CALLERS = 5000


@dataclass(frozen=True)
class Target:
    """Where the traffic goes and what it signs with."""

    base_url: str
    public_base_url: str
    auth_token: str
    #: The supervisor's session cookie for the API calls (None against the ceiling server).
    api_cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    """What one run saw: latencies per endpoint, errors, and what the server accepted."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    accepted_calls: list[str] = field(default_factory=list)
    accepted_texts: list[str] = field(default_factory=list)
    started_chats: list[str] = field(default_factory=list)
    sent: int = 0
    elapsed: float = 0.0

    def note(self, kind: str, seconds: float) -> None:
        """Record one answered request."""
        self.latencies.setdefault(kind, []).append(seconds * 1000.0)

    def summary(self) -> dict[str, Any]:
        """Return throughput and latency figures as plain data."""
        answered = sum(len(v) for v in self.latencies.values())
        contacts = len(self.accepted_calls) + len(self.accepted_texts) + len(self.started_chats)
        elapsed = max(self.elapsed, 1e-9)
        return {
            "sent": self.sent,
            "answered": answered,
            "throughput_per_s": round(answered / elapsed, 1),
            "contacts_accepted": contacts,
            "contacts_per_s": round(contacts / elapsed, 1),
            "errors": dict(self.errors),
            "endpoints": {
                kind: {
                    "count": len(values),
                    "p50_ms": round(percentile(values, 50), 1),
                    "p99_ms": round(percentile(values, 99), 1),
                    "max_ms": round(max(values), 1),
                }
                for kind, values in sorted(self.latencies.items())
            },
        }


def percentile(values: list[float], pct: float) -> float:
    """Return the nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)) - 1, 0)
    return ordered[rank]


class _Driver:
    def __init__(self, session: aiohttp.ClientSession, target: Target, recorded: Recorded) -> None:
        self.session = session
        self.target = target
        self.recorded = recorded
        self.validator = RequestValidator(target.auth_token)
        self.run_id = secrets.token_hex(4)

    async def send(self, kind: str, number: int, due: float) -> None:
        try:
            if kind == "chat":
                await self._chat(number, due)
            else:
                await self._post_or_get(kind, number, due)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.recorded.errors[f"{kind}: {type(exc).__name__}"] += 1

    async def _post_or_get(self, kind: str, number: int, due: float) -> None:
        path = _PATHS[kind]
        url = self.target.base_url + path
        if kind == "api":
            async with self.session.get(
                url, params={"limit": "20"}, cookies=self.target.api_cookies or None
            ) as response:
                await response.read()
                self._answered(kind, response.status, due)
            return
        caller = f"+1415{5_000_000 + number % _CALLERS:07d}"
        sid = f"{'CA' if kind == 'voice' else 'SM'}{self.run_id}{number:024d}"
        if kind == "voice":
            form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": OUR_NUMBER}
            form.update(CallStatus="ringing", Direction="inbound")
        else:
            form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": OUR_NUMBER}
            form.update(Body=f"Where is my order {number}?", NumMedia="0")
        signature = self.validator.compute_signature(self.target.public_base_url + path, form)
        async with self.session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as response:
            await response.read()
            if self._answered(kind, response.status, due):
                (self.recorded.accepted_calls if kind == "voice" else self.recorded.accepted_texts).append(sid)

    async def _chat(self, number: int, due: float) -> None:
        origin = self.target.public_base_url
        async with self.session.ws_connect(
            self.target.base_url + _PATHS["chat"], headers={"Origin": origin}, timeout=aiohttp.ClientWSTimeout(10)
        ) as ws:
            await ws.send_json({"type": "start", "message": f"Chat number {number}", "name": f"Visitor {number}"})
            while True:
                frame = await ws.receive_json(timeout=10)
                if frame.get("type") == "started":
                    self.recorded.note("chat", time.monotonic() - due)
                    self.recorded.started_chats.append(str(frame["chat"]))
                    return

    def _answered(self, kind: str, status: int, due: float) -> bool:
        if status != 200:
            self.recorded.errors[f"{kind}: HTTP {status}"] += 1
            return False
        self.recorded.note(kind, time.monotonic() - due)
        return True


async def drive(target: Target, *, rate: float, duration: float, max_in_flight: int = 2000) -> Recorded:
    """Send `rate` arrivals a second for `duration` seconds and wait for the answers; return what was seen."""
    recorded = Recorded()
    connector = aiohttp.TCPConnector(limit=max_in_flight, force_close=False)
    timeout = aiohttp.ClientTimeout(total=15)
    total = int(rate * duration)
    pending: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        driver = _Driver(session, target, recorded)
        start = time.monotonic() + 0.1
        sent = 0
        while sent < total:
            due_now = min(int((time.monotonic() - start) * rate) + 1, total)
            while sent < due_now:
                kind = KINDS[sent % len(KINDS)]
                if len(pending) >= max_in_flight:
                    # The server (or this client) is this far behind: count it, do not queue without bound.
                    recorded.errors[f"{kind}: client gave up (too many in flight)"] += 1
                else:
                    task = asyncio.create_task(driver.send(kind, sent, start + sent / rate))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.002)
        recorded.sent = sent
        if pending:
            await asyncio.wait(pending)
        recorded.elapsed = time.monotonic() - start
    return recorded
