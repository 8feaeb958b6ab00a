"""A batch taken in set-based (`intake.do_take_in_batch`) ends exactly as its messages taken in one at a time.

The same mail goes into one store twice: once message by message, each in a transaction of its own, and once as
the IMAP worker takes it, 25 messages a batch, under other addresses and Message-IDs (so the two runs share no
customer, thread or rate limit). Outcomes, acknowledgements, threading reasons and which messages share a case must
be the same message for message.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from contact_center.channels.email.bench import generate_messages
from contact_center.channels.email.intake import EmailIntake, IntakeResult, take_in_message
from contact_center.models import EmailAttachment, OutboxMessage, StoredEmail
from contact_center.models.email import EmailAutoReply

from .conftest import HELP, batch_of, mfs, take_in_batch

_DOMAINS = re.compile(rb"example(\d*)\.org")


def elsewhere(raw: bytes) -> bytes:
    """The same message from other customers' domains: new addresses, new Message-IDs, the same shape."""
    return _DOMAINS.sub(rb"second\1.org", raw)


def mail(n: int, sender: str, subject: str, *headers: str) -> bytes:
    extra = "".join(f"        {header}\n" for header in headers)
    return mfs(f"""\
        From: {sender}
        To: Help <help@example.test>
        Subject: {subject}
        Message-ID: <x{n}@example.org>
{extra}
        Hello, please help.
        """)


# Dependencies inside one batch: a reply to a question of the same batch, a participant (Cc) who then writes on
# the thread, a stranger's forged reference, one sender's many questions (the rate limit), a duplicate.
TANGLED = [
    mail(1, "Ann <ann@example.org>", "Invoice is wrong", "Cc: Bea <bea@example.org>"),
    mail(2, "Ann <ann@example.org>", "Re: Invoice is wrong", "In-Reply-To: <x1@example.org>"),
    mail(3, "Bea <bea@example.org>", "Re: Invoice is wrong", "References: <x1@example.org> <x2@example.org>"),
    mail(4, "Eve <eve@example.org>", "Re: Invoice is wrong", "In-Reply-To: <x1@example.org>"),
    mail(5, "Ann <ann@example.org>", "Router keeps rebooting"),
    mail(6, "Ann <ann@example.org>", "Cannot sign in"),
    mail(1, "Ann <ann@example.org>", "Invoice is wrong", "Cc: Bea <bea@example.org>"),
    mail(7, "Ann <ann@example.org>", "Refund for order 1234"),
    mail(8, "Eve <eve@example.org>", "Re: Router keeps rebooting", "In-Reply-To: <x5@example.org>"),
    mail(9, "Ann <ann@example.org>", "Re: Refund", "In-Reply-To: <x7@example.org>"),
]


def shape(results: list[IntakeResult]) -> list[tuple[str, bool, str | None, int | None]]:
    """Each message's outcome, acknowledgement and reason, and its case as the index of the case's first message."""
    first: dict[int, int] = {}
    return [
        (
            result.outcome.value,
            result.acknowledged,
            result.reason,
            first.setdefault(result.case_id, index) if result.case_id is not None else None,
        )
        for index, result in enumerate(results)
    ]


async def counts(database, case_ids: set[int]) -> tuple[int, int, int, int]:
    async with database.transaction() as session:
        emails = await session.scalar(
            select(func.count()).select_from(StoredEmail).where(col(StoredEmail.case_id).in_(case_ids))
        )
        attachments = await session.scalar(
            select(func.count())
            .select_from(EmailAttachment)
            .join(StoredEmail, col(StoredEmail.id) == EmailAttachment.email_id)
            .where(col(StoredEmail.case_id).in_(case_ids))
        )
        outbox = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.case_id).in_(case_ids))
        )
        replies = await session.scalar(
            select(func.count()).select_from(EmailAutoReply).where(col(EmailAutoReply.case_id).in_(case_ids))
        )
    return int(emails or 0), int(attachments or 0), int(outbox or 0), int(replies or 0)


@pytest.mark.parametrize("messages", ["generated", "tangled"])
async def test_batches_end_as_one_message_after_another(database, clock, messages):
    raws = list(generate_messages(120, seed=3)) if messages == "generated" else TANGLED
    alone = [
        await take_in_message(database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP) for raw in raws
    ]
    batch = batch_of(database, None, clock, EmailIntake())
    moved = [elsewhere(raw) for raw in raws]
    found = [
        result for start in range(0, len(moved), 25) for result in await take_in_batch(batch, moved[start : start + 25])
    ]
    assert None not in found
    batched = [result for result in found if result is not None]

    assert shape(batched) == shape(alone)
    assert any(result.reason == "in-reply-to" for result in alone)
    cases_alone = {result.case_id for result in alone if result.case_id is not None}
    cases_batched = {result.case_id for result in batched if result.case_id is not None}
    assert await counts(database, cases_batched) == await counts(database, cases_alone)
