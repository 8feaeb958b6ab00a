"""Fixtures for the email channel: literal messages, a recording router, a real Dovecot and a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from contact_center.channels.email.intake import EmailIntake, IntakeResult
from contact_center.channels.email.worker import BatchTransaction
from tests.channels.twilio.conftest import RecordingRouter
from tests.email_response.conftest import Dovecot, dovecot, mailbox, mfs

__all__ = [
    "CORPUS",
    "HELP",
    "Dovecot",
    "Mailroom",
    "RecordingRouter",
    "batch_of",
    "dovecot",
    "mailbox",
    "mfs",
    "take_in_batch",
]

CORPUS = Path(__file__).resolve().parents[3].parent / "shared/fixtures/email"
HELP = "help@example.test"


def batch_of(database: Any, router: Any, clock: Any, intake: EmailIntake | None = None) -> BatchTransaction:
    """The IMAP worker's batch transaction, as `build_imap_reader` makes it."""
    return BatchTransaction(database, router, clock, intake=intake or EmailIntake(), smtp_from=HELP, region="US")


async def take_in_batch(batch: BatchTransaction, messages: list[bytes]) -> list[IntakeResult | None]:
    """Take messages in as one IMAP batch (UIDs 1, 2, ...) and commit; None for a message that failed."""
    results: list[IntakeResult | None] = []
    async with batch.scope(dict(enumerate(messages, start=1))):
        for uid in range(1, len(messages) + 1):
            try:
                results.append(batch.outcome(uid))
            except Exception:
                results.append(None)
    return results


@pytest.fixture
def router() -> RecordingRouter:
    return RecordingRouter()


@dataclass
class Mailroom:
    """An SMTP server's mail drop: accepts everything except recipients starting with "unknown" (550)."""

    port: int = 0
    delivered: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address.startswith("unknown"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.delivered.append(envelope)
        return "250 OK queued"


@pytest.fixture
async def mailroom() -> AsyncIterator[Mailroom]:
    """A real aiosmtpd server on a free loopback port, in the test's event loop."""
    room = Mailroom()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(room), "127.0.0.1", 0)
    room.port = server.sockets[0].getsockname()[1]
    yield room
    server.close()
    await server.wait_closed()
