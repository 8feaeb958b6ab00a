"""The seam between channels and the routing engine: a contact that needs a person is handed over here.

Channel adapters (Twilio voice and SMS, email, chat, the portal) call `ContactRouter.submit` once their contact
and case are committed; the implementation turns it into a routing task. Keeping this a protocol lets channel
code be written and tested without knowing which routing backend runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from contact_center.models import CasePriority, Channel

__all__ = ["ContactRouter", "RouteRequest"]


@dataclass(frozen=True)
class RouteRequest:
    """What routing needs to know about a contact waiting for a person."""

    contact_id: int
    case_id: int
    customer_id: int
    channel: Channel
    queue: str | None = None
    skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None
    priority: CasePriority = CasePriority.NORMAL
    attributes: dict[str, str] = field(default_factory=dict)


class ContactRouter(Protocol):
    """Hands contacts to the routing engine and takes them back."""

    async def submit(self, request: RouteRequest) -> None:
        """Queue the contact for an agent; idempotent per contact id (a retried webhook submits once)."""
        ...

    async def withdraw(self, contact_id: int, *, reason: str) -> None:
        """Take a waiting contact out of its queue (the caller hung up, the chat was closed)."""
        ...

    async def position(self, contact_id: int) -> int | None:
        """Return the contact's 1-based place in its queue, or None if it is not waiting."""
        ...
