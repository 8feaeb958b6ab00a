"""Live events for the pages that show them (agent desktop, wallboard): an in-process fan-out.

Publishing never blocks: a subscriber that falls behind loses its oldest messages, because a live
page can reload what it missed while a stalled socket must not hold up routing decisions. With several server
processes, a relay (`contact_center.relay`) carries every message to every process's hub.

A subscriber may say which messages concern it (`subscribe(wants=...)`): the others are never queued for it, so
an agent's desktop is not woken for every other agent's offers (with N desktops, each routing event would
otherwise cost N task wake-ups that end in "not mine").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["EventHub", "Wants"]

_BACKLOG = 1000

#: Tells whether a message concerns a subscriber (called for every message delivered, so it must be cheap).
Wants = Callable[[dict[str, Any]], bool]


class EventHub:
    """Fan-out of JSON-able messages to every current subscriber."""

    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue[dict[str, Any]], Wants | None] = {}
        self._relay: Callable[[dict[str, Any]], bool] | None = None

    def relay_through(self, relay: Callable[[dict[str, Any]], bool] | None) -> None:
        """Send publications through a relay that delivers them to every process (None: this process only)."""
        self._relay = relay

    def publish(self, message: dict[str, Any]) -> None:
        """Hand a message to every subscriber, through the relay when one takes it."""
        if self._relay is not None and self._relay(message):
            return
        self.deliver(message)

    def deliver(self, message: dict[str, Any]) -> None:
        """Hand a message to this process's subscribers."""
        for queue, wants in self._subscribers.items():
            if wants is not None and not wants(message):
                continue
            if queue.full():
                queue.get_nowait()  # the oldest message makes room
            queue.put_nowait(message)

    @asynccontextmanager
    async def subscribe(self, wants: Wants | None = None) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """Receive every message published while the context is open (only those `wants` accepts, if given)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_BACKLOG)
        self._subscribers[queue] = wants
        try:
            yield queue
        finally:
            self._subscribers.pop(queue, None)
