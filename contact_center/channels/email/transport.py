"""The outbox's email channel: a stored message composed and sent over SMTP, with a Message-ID that never changes.

The Message-ID is derived from the outbox row (its id and creation instant), so every retry of one message sends
the same id: after an ambiguous failure (the connection lost after DATA) the recipient's client sees a duplicate
it can recognise, not a second message. A header stored with the message (`Message-ID`, threading, RFC 3834's
`Auto-Submitted`) is sent as stored. An address on the suppression list (a permanent bounce) is not sent to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol

from contact_center.channels.base import TransportError
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.models import OutboxChannel, OutboxMessage
from contact_center.services.outbox import attachments_of
from email_response.composing import OutboundAttachment, compose_message
from email_response.smtp import SendError

__all__ = ["EmailTransport", "outbox_message_id", "stored_attachments"]

AttachmentLoader = Callable[[int], Awaitable[Sequence[OutboundAttachment]]]


class MailSender(Protocol):
    """What sends a composed message: `SmtpSender`, or a `MailDrop` where there is no mail server."""

    async def send(self, message: EmailMessage) -> str:
        """Send the message and return its Message-ID; raise SendError on failure."""
        ...


def outbox_message_id(message: OutboxMessage, domain: str) -> str:
    """Return the Message-ID of an outbox message: the same on every attempt, unique across databases."""
    created = int(message.created_at.timestamp() * 1000)
    return f"<outbox-{message.id}.{created}@{domain.strip().lower()}>"


class EmailTransport:
    """Sends outbox emails through one SMTP server (or a mail drop); one attempt per call, the outbox worker retries."""

    channel = OutboxChannel.EMAIL

    def __init__(
        self,
        sender: MailSender,
        clock: Clock,
        *,
        smtp_from: str,
        suppressed: Callable[[str], Awaitable[bool]] | None = None,
        attachments: AttachmentLoader | None = None,
    ) -> None:
        self._sender = sender
        self._suppressed = suppressed
        self._attachments = attachments
        self._clock = clock
        name, address = parseaddr(smtp_from)
        self._from: str | tuple[str, str] = (name, address) if name else address
        self._domain = address.rpartition("@")[2] or "localhost"

    async def send(self, message: OutboxMessage) -> str | None:
        """Compose and send one stored email; return its Message-ID."""
        if self._suppressed is not None and await self._suppressed(message.to_address):
            # A permanent bounce said this address takes no mail; sending again would only bounce again.
            raise TransportError(f"{message.to_address} is suppressed after a permanent failure", permanent=True)
        headers = {str(key): str(value) for key, value in (message.headers or {}).items()}
        message_id = headers.pop("Message-ID", None) or outbox_message_id(message, self._domain)
        files = await self._attachments(message.id) if self._attachments is not None and message.id else ()
        try:
            composed = compose_message(
                sender=self._from,
                to=[message.to_address],
                subject=message.subject or "",
                text=message.body,
                message_id=message_id,
                date=self._clock.now(),
                headers=headers,
                attachments=files,
            )
        except (ValueError, TypeError) as exc:
            # A header or address the standard library refuses will be refused on every attempt.
            raise TransportError(f"cannot compose outbox {message.id}: {exc}", permanent=True) from exc
        try:
            return await self._sender.send(composed)
        except SendError as exc:
            raise TransportError(str(exc), permanent=exc.permanent) from exc


def stored_attachments(db: Database) -> AttachmentLoader:
    """Return the transport's "which files go with this message?" question over the database."""

    async def load(message_id: int) -> list[OutboundAttachment]:
        async with db.transaction() as session:
            stored = await attachments_of(session, message_id)
        return [OutboundAttachment(a.filename, a.content_type, a.content) for a in stored]

    return load
