"""The outbox's email transport against a real aiosmtpd server, through the outbox sender."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

from sqlmodel import select

from contact_center.channels.email.intake import take_in_message
from contact_center.channels.email.transport import EmailTransport
from contact_center.models import OutboxChannel, OutboxMessage, OutboxStatus
from contact_center.services.outbox import Outbound, do_enqueue
from contact_center.workers.outbox import send_due
from email_response.smtp import SmtpSender

from .conftest import HELP, mfs


def transport(port, clock):
    return EmailTransport(SmtpSender("127.0.0.1", port, timeout=5), clock, smtp_from=f"Example Help <{HELP}>")


async def outbox(database):
    async with database.transaction() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_an_acknowledgement_leaves_over_smtp_with_its_headers(database, clock, mailroom):
    raw = mfs("""\
        From: Ann <ann@example.org>
        To: help@example.test
        Subject: Printer
        Message-ID: <printer@example.org>

        Help.
        """)
    result = await take_in_message(database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP)

    sent = await send_due(database, {OutboxChannel.EMAIL: transport(mailroom.port, clock)}, clock)

    assert sent == 1
    [envelope] = mailroom.delivered
    assert envelope.rcpt_tos == ["ann@example.org"]
    delivered = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert delivered["Auto-Submitted"] == "auto-replied"
    assert delivered["In-Reply-To"] == "<printer@example.org>"
    assert delivered["Subject"] == f"Re: Printer [CS-{result.case_id:06d}]"
    assert delivered["From"] == f"Example Help <{HELP}>"
    [message] = await outbox(database)
    assert message.status is OutboxStatus.SENT
    assert message.provider_id == delivered["Message-ID"]


async def test_a_retry_reuses_the_message_id_and_a_refusal_is_permanent(database, clock, mailroom):
    async with database.transaction() as session:
        for to in ("bob@example.org", "unknown@example.org"):
            await do_enqueue(
                session, Outbound(OutboxChannel.EMAIL, to_address=to, body="Hello", subject="Hi"), clock.now()
            )
    down = {OutboxChannel.EMAIL: transport(1, clock)}  # nothing listens on port 1: a transient failure
    await send_due(database, down, clock)
    assert {m.status for m in await outbox(database)} == {OutboxStatus.PENDING}

    clock.advance(timedelta(minutes=5))
    await send_due(database, {OutboxChannel.EMAIL: transport(mailroom.port, clock)}, clock)
    clock.advance(timedelta(minutes=5))
    await send_due(database, {OutboxChannel.EMAIL: transport(mailroom.port, clock)}, clock)

    bob, unknown = await outbox(database)
    assert bob.status is OutboxStatus.SENT
    assert bob.provider_id is not None
    assert bob.provider_id.startswith(f"<outbox-{bob.id}.")
    assert unknown.status is OutboxStatus.FAILED  # 550: retrying cannot help
    assert len(mailroom.delivered) == 1
