"""What the Twilio channel keeps in memory while the case store cannot be reached, until it can.

A caller must hear something within seconds whatever the database is doing, so a webhook that cannot reach the
store answers with safe TwiML (the general queue, then voicemail) and leaves a note here of what it could not
write: the call's arrival, its voicemail, its end, an inbound text. A background loop replays the notes, in
order, once the store answers; every replay is idempotent (contacts are keyed by CallSid or MessageSid).

Limits: the notes live in this process only. A process that dies while the store is down loses them (Twilio
still has the call log and recordings), and at most `limit` notes are kept, oldest dropped first with an error
logged. Several processes each replay their own notes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Backlog", "CallArrived", "CallEnded", "Pending", "SmsArrived", "VoicemailLeft"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallArrived:
    """A call answered with the degraded TwiML: it needs a contact, a case and a place in the queue."""

    call_sid: str
    caller: str | None
    at: datetime


@dataclass(frozen=True)
class VoicemailLeft:
    """A voicemail recorded while the store was down: it goes on the caller's case."""

    call_sid: str
    caller: str | None
    url: str
    duration: int
    at: datetime


@dataclass(frozen=True)
class CallEnded:
    """A call that ended while the store was down: its contact ends and leaves the queue."""

    call_sid: str
    status: str
    at: datetime


@dataclass(frozen=True)
class SmsArrived:
    """A text that arrived while the store was down, with its webhook form."""

    form: Mapping[str, str]
    at: datetime


Pending = CallArrived | VoicemailLeft | CallEnded | SmsArrived


class Backlog:
    """Notes of writes the store could not take yet, replayed in order by `flush`."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._items: list[Pending] = []
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Pending) -> None:
        """Keep a note for later; beyond the limit the oldest note is dropped (and logged)."""
        self._items.append(item)
        if len(self._items) > self.limit:
            dropped = self._items.pop(0)
            log.error("Twilio backlog full: dropped %r", dropped)

    async def flush(self, apply: Callable[[Pending], Awaitable[None]]) -> int:
        """Replay notes in order until one fails (the store is still down); return how many were written."""
        async with self._lock:
            done = 0
            while self._items:
                item = self._items[0]
                try:
                    await apply(item)
                except Exception:
                    log.warning("Twilio backlog: %d notes wait for the case store", len(self._items), exc_info=True)
                    break
                self._items.pop(0)
                done += 1
            return done
