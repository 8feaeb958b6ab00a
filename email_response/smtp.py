"""Sending composed messages over SMTP with `aiosmtplib`, with errors that say whether a retry can help.

    sender = SmtpSender("smtp.example.com", 587, username="help", password="...", starttls=True)
    try:
        message_id = await sender.send(message)
    except SendError as exc:
        exc.permanent    # True: do not retry (and suppress exc.refused addresses); False: retry with backoff

Error semantics (`SendError(message, permanent=...)`, the same shape as the app's `TransportError`):
- permanent: every recipient refused with a 5xx reply, the sender or the data refused with 5xx. `refused` maps
  each refused recipient to its (code, text) so the app can suppress exactly those addresses.
- transient: connection refused or dropped, timeouts, TLS failures, any 4xx reply, and authentication failures
  (our configuration is wrong, not the message: it should wait in the outbox until an admin fixes it).
Some recipients refused while others accepted is not an error: the message went out, and retrying would send
it twice. `send_report()` returns those refusals; `send()` only the Message-ID.

The message must carry its Message-ID already (see `composing.make_message_id`): the outbox stores it first,
so a retry after an ambiguous failure (connection lost after DATA) sends the same id and the recipient's
client can recognise the duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

__all__ = ["SendError", "SendReport", "SmtpSender"]


class SendError(Exception):
    """A send that failed; `permanent` says whether retrying could ever help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: int | None = None,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.refused = refused or {}


@dataclass(frozen=True)
class SendReport:
    """A message the server accepted, and the recipients it refused while accepting the others."""

    message_id: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def _is_permanent(code: int) -> bool:
    # RFC 5321 §4.2.1: 5yz is a permanent negative completion reply, 4yz a transient one.
    return 500 <= code < 600


class SmtpSender:
    """Sends messages through one SMTP server; a connection per message (outbox volumes are modest)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout: float = 30.0,
        envelope_sender: str | None = None,
        local_hostname: str | None = None,
        validate_certs: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.use_tls = use_tls
        self.timeout = timeout
        self.envelope_sender = envelope_sender
        self.local_hostname = local_hostname
        self.validate_certs = validate_certs

    async def send(self, message: EmailMessage) -> str:
        """Send a message and return its Message-ID; raise SendError on failure."""
        return (await self.send_report(message)).message_id

    async def send_report(self, message: EmailMessage) -> SendReport:
        """Send a message; return its Message-ID and any recipients refused while others accepted it."""
        message_id = message.get("Message-ID")
        if not message_id:
            raise ValueError("the message needs a Message-ID before it is sent (see composing.make_message_id)")
        try:
            errors, _ = await aiosmtplib.send(
                message,
                sender=self.envelope_sender,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                use_tls=self.use_tls,
                timeout=self.timeout,
                local_hostname=self.local_hostname,
                validate_certs=self.validate_certs,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = {error.recipient: (error.code, error.message) for error in exc.recipients}
            permanent = all(_is_permanent(code) for code, _ in refused.values())
            raise SendError(f"all recipients refused: {refused}", permanent=permanent, refused=refused) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"SMTP authentication failed: {exc.code} {exc.message}", permanent=False, code=exc.code
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # Sender refused, data refused, HELO refused: the code says whether the server will ever take it.
            raise SendError(
                f"SMTP server replied {exc.code} {exc.message}", permanent=_is_permanent(exc.code), code=exc.code
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused or dropped, timeouts, TLS and STARTTLS failures: the server may be back later.
            raise SendError(f"SMTP connection failed: {type(exc).__name__}: {exc}", permanent=False) from exc
        refused = {address: (response.code, response.message) for address, response in errors.items()}
        return SendReport(message_id=str(message_id), refused=refused)
