"""What every outbound channel adapter implements, the one error type they raise, and what a reply leaves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contact_center.models import CaseEvent, OutboxChannel, OutboxMessage

__all__ = ["SentMessage", "Transport", "TransportError"]


@dataclass(frozen=True)
class SentMessage:
    """An agent's message to a customer, stored in the outbox and on the case's timeline."""

    outbox_id: int
    to: str
    event: CaseEvent


class TransportError(Exception):
    """A send that failed; `permanent` says whether retrying could ever help (a bad address cannot)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    """Sends one stored outbound message and returns the provider's id for it."""

    channel: OutboxChannel

    async def send(self, message: OutboxMessage) -> str | None:
        """Deliver the message to the provider; raise TransportError on failure."""
        ...
