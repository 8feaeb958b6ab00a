"""One raw message in: stored, threaded into a case, acknowledged per RFC 3834, routed; on both databases."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from contact_center.channels.email.intake import IntakeLimits, IntakeOutcome, take_in_message
from contact_center.models import (
    Case,
    Contact,
    EmailAttachment,
    EmailAutoReply,
    EmailUnprocessable,
    OutboxChannel,
    OutboxMessage,
    StoredEmail,
)

from .conftest import HELP, mfs

ANN_FIRST = mfs("""\
    From: Ann Archer <ann@example.org>
    To: Help <help@example.test>
    Subject: Printer on fire
    Message-ID: <first@example.org>
    Date: Mon, 23 Nov 2026 09:00:00 +0000

    My printer is on fire. Please advise.
    """)

ANN_REPLY = mfs("""\
    From: Ann Archer <ann@example.org>
    To: Help <help@example.test>
    Subject: Re: Printer on fire
    Message-ID: <second@example.org>
    In-Reply-To: <first@example.org>
    References: <first@example.org>

    It is still burning.
    """)

MALLORY_FORGED = mfs("""\
    From: Mallory <mallory@example.net>
    To: help@example.test
    Subject: Re: Printer on fire
    Message-ID: <forged@example.net>
    In-Reply-To: <first@example.org>
    References: <first@example.org>

    Show me Ann's case.
    """)


async def take(database, clock, raw, *, router=None, auto_reply=True, limits=None):
    return await take_in_message(
        database, raw, clock.now(), router=router, auto_reply=auto_reply, smtp_from=HELP, limits=limits
    )


async def rows(database, model, *where):
    async with database.transaction() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def test_a_new_message_becomes_a_case_with_an_acknowledgement(database, clock, router):
    result = await take(database, clock, ANN_FIRST, router=router)

    assert result.outcome is IntakeOutcome.NEW_CASE
    assert result.acknowledged
    [case] = await rows(database, Case)
    assert case.id == result.case_id
    assert case.subject == "Printer on fire"
    [contact] = await rows(database, Contact)
    assert (contact.external_id, contact.address, contact.case_id) == (
        "<first@example.org>",
        "ann@example.org",
        case.id,
    )
    [stored] = await rows(database, StoredEmail)
    assert stored.raw == ANN_FIRST
    assert set(stored.participants) == {"ann@example.org"}  # our own address is not a participant
    [ack] = await rows(database, OutboxMessage)
    assert (ack.channel, ack.to_address, ack.case_id) == (OutboxChannel.EMAIL, "ann@example.org", case.id)
    assert ack.headers["Auto-Submitted"] == "auto-replied"
    assert ack.headers["In-Reply-To"] == "<first@example.org>"
    assert ack.subject == f"Re: Printer on fire [CS-{case.id:06d}]"
    assert f"CS-{case.id:06d}" in ack.body
    assert "Ann Archer" in ack.body
    [auto] = await rows(database, EmailAutoReply)
    assert auto.outbox_id == ack.id
    assert [r.contact_id for r in router.submitted] == [contact.id]


async def test_a_reply_threads_into_the_same_case_without_a_second_acknowledgement(database, clock, router):
    first = await take(database, clock, ANN_FIRST, router=router)
    reply = await take(database, clock, ANN_REPLY, router=router)

    assert reply.outcome is IntakeOutcome.THREADED
    assert reply.reason == "in-reply-to"
    assert reply.case_id == first.case_id
    assert not reply.acknowledged
    assert len(await rows(database, Case)) == 1
    assert len(await rows(database, Contact)) == 2
    assert len(await rows(database, OutboxMessage)) == 1


async def test_a_forged_reference_from_another_sender_starts_its_own_case(database, clock):
    first = await take(database, clock, ANN_FIRST)
    forged = await take(database, clock, MALLORY_FORGED)

    assert forged.outcome is IntakeOutcome.NEW_CASE
    assert forged.case_id != first.case_id
    [mallory] = await rows(database, Contact, Contact.address == "mallory@example.net")
    assert mallory.case_id == forged.case_id


async def test_the_case_number_in_the_subject_threads_only_for_a_participant(database, clock):
    first = await take(database, clock, ANN_FIRST)
    tag = f"[CS-{first.case_id:06d}]"
    ann = mfs(f"""\
        From: ann@example.org
        To: help@example.test
        Subject: Printer {tag}
        Message-ID: <by-number@example.org>

        New mail, no references, but the case number.
        """)
    stranger = mfs(f"""\
        From: eve@example.net
        To: help@example.test
        Subject: Printer {tag}
        Message-ID: <guess@example.net>

        Guessing a case number.
        """)

    assert (await take(database, clock, ann)).case_id == first.case_id
    assert (await take(database, clock, stranger)).case_id != first.case_id


async def test_the_same_message_twice_is_one_contact(database, clock, router):
    first = await take(database, clock, ANN_FIRST, router=router)
    again = await take(database, clock, ANN_FIRST, router=router)

    assert again.outcome is IntakeOutcome.DUPLICATE
    assert len(await rows(database, Contact)) == 1
    assert len(await rows(database, StoredEmail)) == 1
    assert len(await rows(database, OutboxMessage)) == 1
    assert [r.contact_id for r in router.submitted] == [first.contact_id]


@pytest.mark.parametrize(
    "extra",
    [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "List-Id: <printers.lists.example.org>",
    ],
)
async def test_automatic_and_list_mail_gets_no_acknowledgement(database, clock, extra):
    raw = mfs(f"""\
        From: ann@example.org
        To: help@example.test
        Subject: Out of office
        Message-ID: <auto@example.org>
        {extra}

        I am away.
        """)
    result = await take(database, clock, raw)

    assert result.outcome is IntakeOutcome.NEW_CASE
    assert not result.acknowledged
    assert await rows(database, OutboxMessage) == []


async def test_a_message_without_headers_is_kept_as_unprocessable(database, clock):
    raw = b"\x00\x01 this is not a mail message at all"
    result = await take(database, clock, raw)
    again = await take(database, clock, raw)

    assert result.outcome is IntakeOutcome.UNPROCESSABLE
    assert again.outcome is IntakeOutcome.DUPLICATE
    [kept] = await rows(database, EmailUnprocessable)
    assert kept.raw == raw
    assert kept.reason == "no message headers found"
    assert await rows(database, Case) == []


async def test_attachments_are_stored_with_size_and_type(database, clock):
    raw = mfs("""\
        From: ann@example.org
        To: help@example.test
        Subject: Photo of the printer
        Message-ID: <photo@example.org>
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="b"

        --b
        Content-Type: text/plain

        See the attachments.
        --b
        Content-Type: image/png
        Content-Disposition: attachment; filename="printer.png"
        Content-Transfer-Encoding: base64

        iVBORw0KGgo=
        --b
        Content-Type: application/pdf
        Content-Disposition: attachment; filename="manual.pdf"
        Content-Transfer-Encoding: base64

        JVBERi0xLjQKJeLjz9MKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK
        --b--
        """)
    await take(database, clock, raw, limits=IntakeLimits(max_attachment_bytes=20))

    found = {a.filename: a for a in await rows(database, EmailAttachment)}
    assert found["printer.png"].content == b"\x89PNG\r\n\x1a\n"
    assert (found["printer.png"].content_type, found["printer.png"].size) == ("image/png", 8)
    assert found["manual.pdf"].too_large
    assert found["manual.pdf"].content is None
    assert found["manual.pdf"].size > 20


async def test_an_oversize_message_is_kept_raw_and_its_sender_told(database, clock):
    raw = ANN_FIRST + b"x" * 2000
    result = await take(database, clock, raw, limits=IntakeLimits(max_message_bytes=1000))

    assert result.outcome is IntakeOutcome.OVERSIZE
    [stored] = await rows(database, StoredEmail)
    assert stored.oversize
    assert stored.raw == raw
    assert stored.case_id is None
    [notice] = await rows(database, OutboxMessage)
    assert notice.to_address == "ann@example.org"
    assert notice.headers["Auto-Submitted"] == "auto-replied"
    assert await rows(database, Case) == []


async def test_an_oversize_bulk_message_gets_no_notice(database, clock):
    raw = (
        mfs("""\
        From: news@example.org
        To: help@example.test
        Subject: Newsletter
        Message-ID: <news@example.org>
        Precedence: bulk

        """)
        + b"x" * 2000
    )
    result = await take(database, clock, raw, limits=IntakeLimits(max_message_bytes=1000))

    assert result.outcome is IntakeOutcome.OVERSIZE
    assert not result.acknowledged
    assert await rows(database, OutboxMessage) == []


async def test_acknowledgements_are_rate_limited_per_sender(database, clock):
    for number in range(5):
        raw = mfs(f"""\
            From: ann@example.org
            To: help@example.test
            Subject: Question {number}
            Message-ID: <q{number}@example.org>

            Question {number}.
            """)
        await take(database, clock, raw)

    acks = await rows(database, OutboxMessage, col(OutboxMessage.channel) == OutboxChannel.EMAIL)
    assert len(acks) == 3  # RFC 3834 §2: a responder does not keep answering one sender
    assert len(await rows(database, Case)) == 5
