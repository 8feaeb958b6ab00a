"""What every outbound channel adapter implements, and the one error type they raise."""

from __future__ import annotations

from typing import Protocol

from contact_center.models import OutboxChannel, OutboxMessage

__all__ = ["Transport", "TransportError"]


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
