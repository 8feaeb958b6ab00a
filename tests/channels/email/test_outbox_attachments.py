"""Files stored with an outbox email (an invoice's PDF) leave with it over SMTP, on every attempt."""

from __future__ import annotations

from email import message_from_bytes, policy

from contact_center.channels.email.transport import EmailTransport, stored_attachments
from contact_center.models import OutboxAttachment, OutboxChannel
from contact_center.services.outbox import Outbound, do_enqueue
from contact_center.workers.outbox import send_due
from email_response.smtp import SmtpSender

from .conftest import HELP


async def test_an_outbox_email_carries_its_stored_attachments(database, clock, mailroom):
    pdf = b"%PDF-1.4 invoice\n%%EOF\n"
    async with database.transaction() as session:
        message = await do_enqueue(
            session,
            Outbound(OutboxChannel.EMAIL, "ann@example.org", "Your invoice is attached.", subject="Invoice"),
            clock.now(),
        )
        session.add(
            OutboxAttachment(
                message_id=message.id or 0, filename="INV-2026-000001.pdf", content_type="application/pdf", content=pdf
            )
        )
        await do_enqueue(
            session, Outbound(OutboxChannel.EMAIL, "bob@example.org", "No files.", subject="Hi"), clock.now()
        )
    transport = EmailTransport(
        SmtpSender("127.0.0.1", mailroom.port, timeout=5),
        clock,
        smtp_from=f"Example Help <{HELP}>",
        attachments=stored_attachments(database),
    )

    assert await send_due(database, {OutboxChannel.EMAIL: transport}, clock) == 2

    by_recipient = {
        e.rcpt_tos[0]: message_from_bytes(e.original_content or b"", policy=policy.default) for e in mailroom.delivered
    }
    with_file = by_recipient["ann@example.org"]
    [attachment] = list(with_file.iter_attachments())
    assert attachment.get_filename() == "INV-2026-000001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    assert with_file.get_body(("plain",)).get_content().strip() == "Your invoice is attached."
    assert list(by_recipient["bob@example.org"].iter_attachments()) == []
