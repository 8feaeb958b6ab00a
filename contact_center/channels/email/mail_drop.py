"""A mail drop: outbound messages written to a directory as `.eml` files instead of sent over SMTP.

For the demo and for development, where there is no mail server but a person still needs the mail the platform
sends (a portal sign-in link, a reply to a customer) to read and to click; its text is logged too. Each message
becomes one file named after its Message-ID, written under a temporary name and renamed, so a reader never sees
half a message and a retry of the same message replaces its file instead of adding a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from contact_center.channels.drop import drop_file
from email_response.smtp import SendError

__all__ = ["MailDrop"]

log = logging.getLogger(__name__)

_LOGGED_CHARS = 2000


class MailDrop:
    """Writes each message to ``directory`` as RFC 5322 text; the same interface as `SmtpSender.send`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> str:
        """Write the message and return its Message-ID; raise SendError when the directory cannot be written."""
        message_id = message.get("Message-ID")
        if not message_id:
            raise ValueError("the message needs a Message-ID before it is written (see composing.make_message_id)")
        try:
            name = f"{hashlib.sha256(str(message_id).encode()).hexdigest()[:16]}.eml"
            path = await asyncio.to_thread(drop_file, self.directory, name, message.as_bytes(policy=default))
        except OSError as exc:
            raise SendError(f"cannot write to the mail drop {self.directory}: {exc}", permanent=False) from exc
        body = message.get_body(("plain",))
        # The text decoded, as a person reads it: in the file, a long line (a sign-in link) is quoted-printable.
        text = body.get_content()[:_LOGGED_CHARS] if isinstance(body, EmailMessage) else ""
        log.info("mail to %s, %r, written to %s:\n%s", message.get("To"), message.get("Subject"), path, text)
        return str(message_id)
