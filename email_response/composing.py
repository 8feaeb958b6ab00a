"""Building outbound messages: text with an HTML alternative, a Message-ID on our domain, threading headers.

The outbox stores a message before sending it and must never send it twice, so the Message-ID is made once
(`make_message_id`) and stored with the message; `compose_message` is then called with that id every time the
worker (re)tries. Non-ASCII headers are RFC 2047 encoded and bodies get a UTF-8 transfer encoding by the standard
library's `policy.SMTP` (CRLF line ends, as SMTP wants).

    message_id = make_message_id("help.example.com")
    message = compose_message(
        sender=("Example Support", "help@example.com"), to=["ann@example.org"], subject=reply.subject,
        text=reply.text, html=reply.html, message_id=message_id, date=now, headers=acknowledgement_headers(...),
    )
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["OutboundAttachment", "compose_message", "make_message_id"]

_REFERENCES_KEPT = 20


@dataclass(frozen=True)
class OutboundAttachment:
    filename: str
    content_type: str
    content: bytes


def make_message_id(domain: str) -> str:
    """Return a new, globally unique Message-ID on our domain, e.g. <k3j...@help.example.com>."""
    return f"<{secrets.token_urlsafe(18)}@{domain.strip().lower()}>"


def _transfer_encoding(body: str) -> str | None:
    return None if body.isascii() else "base64"


def _address(value: str | tuple[str, str]) -> Address:
    if isinstance(value, tuple):
        name, addr_spec = value
        return Address(display_name=name, addr_spec=addr_spec)
    return Address(addr_spec=value)


def compose_message(
    *,
    sender: str | tuple[str, str],
    to: Sequence[str | tuple[str, str]],
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    html: str | None = None,
    cc: Sequence[str | tuple[str, str]] = (),
    reply_to: str | tuple[str, str] | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[OutboundAttachment] = (),
) -> EmailMessage:
    """Build a message: text/plain, text/html as its alternative when given, then attachments.

    A header in `headers` replaces the one built here (e.g. the Subject from `acknowledgement_headers`).
    """
    if date.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    message = EmailMessage(policy=policy.SMTP)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(date)
    message["From"] = _address(sender)
    message["To"] = [_address(value) for value in to]
    if cc:
        message["Cc"] = [_address(value) for value in cc]
    if reply_to is not None:
        message["Reply-To"] = _address(reply_to)
    # A subject is one line; a newline here would start a new header.
    message["Subject"] = " ".join(subject.split())
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    refs = list(dict.fromkeys([*references, *([in_reply_to] if in_reply_to else [])]))
    if len(refs) > _REFERENCES_KEPT:
        # RFC 5322 §3.6.4: keep the thread's first message and the most recent ones.
        refs = [refs[0], *refs[-(_REFERENCES_KEPT - 1) :]]
    if refs:
        message["References"] = " ".join(refs)
    for name, value in (headers or {}).items():
        del message[name]
        message[name] = " ".join(value.split())

    # Base64 for non-ASCII bodies: 8bit would need the 8BITMIME extension at every hop, and quoted-printable
    # triples the size of Chinese text.
    message.set_content(text, charset="utf-8", cte=_transfer_encoding(text))
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte=_transfer_encoding(html))
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename
        )
    return message
