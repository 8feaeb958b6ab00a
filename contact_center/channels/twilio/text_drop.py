"""A text drop: outbound SMS written to a directory instead of sent through Twilio.

For the demo and for development, where there are no Twilio credentials but a person still needs the texts the
platform sends (a portal sign-in code, an acknowledgement) to read. It stands in for `TwilioRest.send_sms` only, so
the SMS transport around it still normalises the number, refuses a number that replied STOP and records the
delivery. A text becomes one file named after the outbox row (its idempotency key), so a retry replaces it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from contact_center.channels.base import TransportError
from contact_center.channels.drop import drop_file
from contact_center.channels.twilio.rest import Resource

__all__ = ["TextDrop"]

log = logging.getLogger(__name__)


class TextDrop:
    """Writes each text to ``directory`` as ``To:`` and ``From:`` lines, a blank line and the body."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send_sms(
        self,
        *,
        to: str,
        body: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        idempotency_key: str | None = None,
    ) -> Resource:
        """Write the text and answer like Twilio would for a delivered message."""
        if not idempotency_key:
            raise ValueError("a dropped text is named after its idempotency key (the outbox row)")
        content = f"To: {to}\nFrom: {from_ or messaging_service_sid or '-'}\n\n{body}\n"
        try:
            path = await asyncio.to_thread(drop_file, self.directory, f"{idempotency_key}.txt", content.encode())
        except OSError as exc:
            raise TransportError(f"cannot write to the text drop {self.directory}: {exc}", permanent=False) from exc
        log.info("text to %s, written to %s:\n%s", to, path, body)
        return Resource(sid=f"drop-{idempotency_key}", status="delivered", data={"to": to, "body": body})
