"""Simulated agents: each signs in, opens the real desktop WebSocket, goes available and accepts every offer.

An accepted contact is completed at once (no wrap-up), so the agent takes the next offer. Every accept that the
server answered 200 is remembered: a contact accepted twice, by one agent or two, is a double assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["AgentFloor", "sign_in"]

log = logging.getLogger(__name__)


async def sign_in(session: aiohttp.ClientSession, base_url: str, username: str, password: str) -> str:
    """Sign in on this session (its cookie jar keeps the session); return the CSRF token."""
    async with session.post(
        f"{base_url}/api/v1/auth/login", json={"username": username, "password": password}
    ) as response:
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"sign-in of {username} failed: {response.status} {body}")
        return str(body["csrf_token"])


@dataclass
class AgentFloor:
    """The agents of one run, and what their accepts did."""

    base_url: str
    origin: str
    accepted: dict[int, list[int]] = field(default_factory=dict)  # contact id -> agents whose accept got 200
    outcomes: Counter[str] = field(default_factory=Counter)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def start(self, accounts: list[tuple[str, str, int]]) -> None:
        """Sign every agent in (username, password, agent id), open their desktops and make them available."""
        ready: list[asyncio.Future[None]] = []
        for username, password, agent_id in accounts:
            # Unsafe: the cookie jar must keep cookies of an IP-address host such as 127.0.0.1.
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30), cookie_jar=aiohttp.CookieJar(unsafe=True)
            )
            self._sessions.append(session)
            csrf = await sign_in(session, self.base_url, username, password)
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            ready.append(future)
            self._tasks.append(asyncio.create_task(self._work(session, csrf, agent_id, future)))
        await asyncio.wait_for(asyncio.gather(*ready), timeout=60)

    async def stop(self) -> None:
        """Close the desktops and sign the sessions out."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self._sessions:
            await session.close()

    async def _work(
        self, session: aiohttp.ClientSession, csrf: str, agent_id: int, ready: asyncio.Future[None]
    ) -> None:
        headers = {"X-CSRF-Token": csrf}
        async with session.ws_connect(f"{self.base_url}/desktop/ws", headers={"Origin": self.origin}) as ws:
            async with session.post(
                f"{self.base_url}/api/v1/me/activity", json={"activity": "available"}, headers=headers
            ) as response:
                if response.status != 200:
                    ready.set_exception(RuntimeError(f"agent {agent_id} could not go available: {response.status}"))
                    return
            ready.set_result(None)
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame: dict[str, Any] = message.json()
                offers = frame.get("offers", []) if frame.get("type") == "hello" else [frame]
                for offer in offers:
                    if offer.get("type", "offer") == "offer" and offer.get("reservation_id"):
                        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                            await self._take(session, headers, agent_id, offer)

    async def _take(
        self, session: aiohttp.ClientSession, headers: dict[str, str], agent_id: int, offer: dict[str, Any]
    ) -> None:
        url = f"{self.base_url}/api/v1/reservations/{offer['reservation_id']}/accept"
        async with session.post(url, headers=headers) as response:
            if response.status != 200:
                self.outcomes[f"accept {response.status}"] += 1
                return
            contact_id = int((await response.json())["contact_id"])
        self.outcomes["accepted"] += 1
        self.accepted.setdefault(contact_id, []).append(agent_id)
        async with session.post(
            f"{self.base_url}/api/v1/contacts/{contact_id}/complete", json={"wrap_up_seconds": 0}, headers=headers
        ) as response:
            self.outcomes["completed" if response.status == 200 else f"complete {response.status}"] += 1
