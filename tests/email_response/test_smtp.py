"""The SMTP sender against a real aiosmtpd server running in the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from email_response.composing import compose_message
from email_response.smtp import SendError, SmtpSender

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Mailroom:
    """Accepts mail, except: "unknown-*" recipients (550), "full-*" recipients (452), "reject" subjects (554)."""

    def __init__(self) -> None:
        self.delivered: list[Envelope] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address.startswith("unknown"):
            return "550 5.1.1 no such user"
        if address.startswith("full"):
            return "452 4.2.2 mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if b"Subject: reject" in (envelope.content or b""):
            return "554 5.6.0 message refused"
        self.delivered.append(envelope)
        return "250 OK queued"


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"help", b"secret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
async def mailroom() -> AsyncIterator[tuple[Mailroom, int]]:
    room = Mailroom()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(room, authenticator=authenticate, auth_require_tls=False), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    yield room, port
    server.close()
    await server.wait_closed()


def mail(*to: str, subject: str = "Re: Printer [CS-000123]") -> Any:
    return compose_message(
        sender=("Support", "help@example.test"),
        to=list(to),
        subject=subject,
        text="Hello Ann, 您好",
        html="<p>Hello Ann</p>",
        message_id="<out-1@example.test>",
        date=NOW,
    )


async def test_sends_and_returns_the_message_id(mailroom: tuple[Mailroom, int]) -> None:
    room, port = mailroom
    sender = SmtpSender("127.0.0.1", port, timeout=5, envelope_sender="bounces@example.test")
    assert await sender.send(mail("ann@example.org")) == "<out-1@example.test>"
    (envelope,) = room.delivered
    assert envelope.mail_from == "bounces@example.test"
    assert envelope.rcpt_tos == ["ann@example.org"]
    assert b"Message-ID: <out-1@example.test>" in (envelope.content or b"")


async def test_login_and_a_wrong_password(mailroom: tuple[Mailroom, int]) -> None:
    room, port = mailroom
    await SmtpSender("127.0.0.1", port, username="help", password="secret", timeout=5).send(mail("ann@example.org"))
    assert len(room.delivered) == 1
    with pytest.raises(SendError) as caught:
        await SmtpSender("127.0.0.1", port, username="help", password="wrong", timeout=5).send(mail("a@example.org"))
    # Our configuration is wrong, not the message: it waits in the outbox instead of being dropped.
    assert not caught.value.permanent
    assert caught.value.code == 535


async def test_a_refused_recipient_is_permanent(mailroom: tuple[Mailroom, int]) -> None:
    _, port = mailroom
    with pytest.raises(SendError) as caught:
        await SmtpSender("127.0.0.1", port, timeout=5).send(mail("unknown@example.org"))
    assert caught.value.permanent
    assert caught.value.refused == {"unknown@example.org": (550, "5.1.1 no such user")}


async def test_a_4xx_refusal_is_transient(mailroom: tuple[Mailroom, int]) -> None:
    _, port = mailroom
    with pytest.raises(SendError) as caught:
        await SmtpSender("127.0.0.1", port, timeout=5).send(mail("full@example.org"))
    assert not caught.value.permanent


async def test_refused_data_is_permanent(mailroom: tuple[Mailroom, int]) -> None:
    _, port = mailroom
    with pytest.raises(SendError) as caught:
        await SmtpSender("127.0.0.1", port, timeout=5).send(mail("ann@example.org", subject="reject me"))
    assert caught.value.permanent
    assert caught.value.code == 554


async def test_some_recipients_refused_is_a_delivery_with_a_report(mailroom: tuple[Mailroom, int]) -> None:
    room, port = mailroom
    report = await SmtpSender("127.0.0.1", port, timeout=5).send_report(mail("ann@example.org", "unknown@example.org"))
    assert report.message_id == "<out-1@example.test>"
    assert report.refused == {"unknown@example.org": (550, "5.1.1 no such user")}
    assert room.delivered[0].rcpt_tos == ["ann@example.org"]


async def test_a_server_that_is_down_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SendError) as caught:
        await SmtpSender("127.0.0.1", port, timeout=2).send(mail("ann@example.org"))
    assert not caught.value.permanent


async def test_a_server_that_does_not_answer_times_out_as_transient() -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(SendError) as caught:
            await SmtpSender("127.0.0.1", port, timeout=0.3).send(mail("ann@example.org"))
        assert not caught.value.permanent
    finally:
        release.set()
        server.close()
        await server.wait_closed()


async def test_a_message_without_an_id_is_a_programming_error() -> None:
    message = mail("ann@example.org")
    del message["Message-ID"]
    with pytest.raises(ValueError, match="Message-ID"):
        await SmtpSender("127.0.0.1", 1).send(message)
