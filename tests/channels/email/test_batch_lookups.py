"""A batch read once (`lookups.BatchLookups`): messages that depend on each other within one batch are taken in
exactly as one at a time, and what a failed message would have written is not seen by the rest of its batch."""

from __future__ import annotations

import pytest
from sqlmodel import select

from contact_center.channels.email import intake as intake_module
from contact_center.channels.email.intake import IntakeOutcome
from contact_center.models import Case, EmailAutoReply, OutboxMessage, StoredEmail
from contact_center.models.email import SentEmail

from .conftest import batch_of, mfs, take_in_batch

CHINESE = "发票".encode()


@pytest.fixture(autouse=True)
def chinese_mail_fails(monkeypatch):
    """A message about 发票 fails once it has written everything it would (as a store error at the end would),
    whether it is written with others of its batch or alone."""
    real = intake_module._record

    async def failing(session, wave, *args, **kwargs):
        recorded = await real(session, wave, *args, **kwargs)
        if any(CHINESE in message.raw for message, _ in wave):
            raise RuntimeError("the store said no")
        return recorded

    monkeypatch.setattr(intake_module, "_record", failing)


def mail(n: int, sender: str, subject: str, *headers: str, body: str = "Hello, please help.") -> bytes:
    extra = "".join(f"        {header}\n" for header in headers)
    return mfs(f"""\
        From: {sender}
        To: Help <help@example.test>
        Subject: {subject}
        Message-ID: <m{n}@example.org>
{extra}
        {body}
        """)


ALICE = "Alice <alice@example.org>"
BOB = "Bob <bob@example.org>"
CAROL = "Carol <carol@example.org>"

# In UID order. The store is empty, so Alice's first case is case 1 (CS-000001).
BATCH = [
    mail(1, ALICE, "Invoice is wrong"),
    mail(2, ALICE, "Re: Invoice is wrong", "In-Reply-To: <m1@example.org>", "References: <m1@example.org>"),
    mail(3, BOB, "Re: Invoice is wrong", "In-Reply-To: <m1@example.org>"),
    mail(4, ALICE, "Re: [CS-000001] one more thing"),
    mail(5, CAROL, "Re: [CS-000001] me too"),
    mail(1, ALICE, "Invoice is wrong"),
    mail(6, ALICE, "Router keeps rebooting"),
    mail(7, ALICE, "Cannot sign in"),
    mail(8, ALICE, "Refund for order 1234"),
    mail(9, "Away <away@example.org>", "Out of office", "Auto-Submitted: auto-replied"),
]


async def test_messages_of_one_batch_thread_onto_each_other_and_share_the_rate_limit(database, clock):
    results = await take_in_batch(batch_of(database, None, clock), BATCH)

    outcomes = [(r.outcome, r.case_id, r.acknowledged, r.reason) for r in results if r is not None]
    assert outcomes == [
        (IntakeOutcome.NEW_CASE, 1, True, "new-case"),
        (IntakeOutcome.THREADED, 1, False, "in-reply-to"),
        # Bob refers to Alice's message but takes no part in her case: a case of his own.
        (IntakeOutcome.NEW_CASE, 2, True, "new-case"),
        (IntakeOutcome.THREADED, 1, False, "subject-case-number"),
        (IntakeOutcome.NEW_CASE, 3, True, "new-case"),
        (IntakeOutcome.DUPLICATE, None, False, None),
        (IntakeOutcome.NEW_CASE, 4, True, "new-case"),
        (IntakeOutcome.NEW_CASE, 5, True, "new-case"),
        # Alice's fourth acknowledgement within the hour is one too many (three per sender and hour).
        (IntakeOutcome.NEW_CASE, 6, False, "new-case"),
        (IntakeOutcome.NEW_CASE, 7, False, "new-case"),
    ]
    async with database.transaction() as session:
        outbox = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        sent = (await session.scalars(select(SentEmail).order_by(SentEmail.id))).all()
        replies = (await session.scalars(select(EmailAutoReply).order_by(EmailAutoReply.id))).all()
        stored = (await session.scalars(select(StoredEmail))).all()
    assert [m.to_address for m in outbox] == [
        "alice@example.org",
        "bob@example.org",
        "carol@example.org",
        "alice@example.org",
        "alice@example.org",
    ]
    assert [(s.outbox_id, s.case_id, s.to_address) for s in sent] == [(m.id, m.case_id, m.to_address) for m in outbox]
    assert [(r.outbox_id, r.address, r.kind) for r in replies] == [
        (m.id, m.to_address, "acknowledgement") for m in outbox
    ]
    assert all(m.headers["Message-ID"] == s.message_id for m, s in zip(outbox, sent, strict=True))
    assert len(stored) == 9


async def test_what_a_failed_message_wrote_is_not_seen_by_the_rest_of_its_batch(database, clock):
    failing = mail(1, ALICE, "发票有误", body="您好\uff0c我的发票金额不对。")
    messages = [
        failing,
        mail(2, ALICE, "Re: the invoice", "In-Reply-To: <m1@example.org>"),
        failing,
        mail(3, ALICE, "Invoice is wrong"),
    ]
    results = await take_in_batch(batch_of(database, None, clock), messages)

    # The message about 发票 fails, each time it comes (its second copy is no duplicate of what was undone), and
    # its reply waits with it (as the reader's lanes make it wait).
    assert results[:3] == [None, None, None]
    # Alice's next message was never acknowledged before: the failed acknowledgement is not counted.
    assert results[3] is not None
    assert (results[3].outcome, results[3].reason, results[3].acknowledged) == (
        IntakeOutcome.NEW_CASE,
        "new-case",
        True,
    )
    async with database.transaction() as session:
        stored = sorted((await session.scalars(select(StoredEmail.message_id))).all())
        cases = (await session.scalars(select(Case))).all()
    assert stored == ["<m3@example.org>"]
    assert len(cases) == 1


async def test_a_failure_after_others_undoes_only_itself_and_routes_each_message_once(database, clock, router):
    messages = [
        mail(1, ALICE, "Invoice is wrong"),
        mail(2, ALICE, "Re: Invoice is wrong", "In-Reply-To: <m1@example.org>"),
        mail(3, BOB, "发票有误", body="您好\uff0c我的发票金额不对。"),
        mail(4, ALICE, "Re: Invoice is wrong", "In-Reply-To: <m2@example.org>"),
        mail(5, CAROL, "Cannot sign in"),
    ]
    results = await take_in_batch(batch_of(database, router, clock), messages)

    # The first two are taken in again (each on its own) after Bob's fails; nothing of his stays.
    assert [(r.outcome, r.acknowledged) if r else None for r in results] == [
        (IntakeOutcome.NEW_CASE, True),
        (IntakeOutcome.THREADED, False),
        None,
        (IntakeOutcome.THREADED, False),
        (IntakeOutcome.NEW_CASE, True),
    ]
    async with database.transaction() as session:
        stored = dict((await session.execute(select(StoredEmail.message_id, StoredEmail.case_id))).all())
        outbox = (await session.scalars(select(OutboxMessage.to_address).order_by(OutboxMessage.id))).all()
        sent = len((await session.scalars(select(SentEmail))).all())
        cases = len((await session.scalars(select(Case))).all())
    alice, carol = stored["<m1@example.org>"], stored["<m5@example.org>"]
    assert stored == {
        "<m1@example.org>": alice,
        "<m2@example.org>": alice,
        "<m4@example.org>": alice,
        "<m5@example.org>": carol,
    }
    assert cases == 2
    assert list(outbox) == ["alice@example.org", "carol@example.org"]
    assert sent == 2
    # Routed after the commit, once per message: the first attempt's requests went with it.
    assert sorted(request.case_id for request in router.submitted) == sorted([alice, alice, alice, carol])


async def test_a_message_that_fails_only_when_taken_in_again_is_offered_again_and_nothing_else(
    database, clock, monkeypatch
):
    first, second, third = mail(1, ALICE, "Invoice is wrong"), mail(2, BOB, "Cannot sign in"), mail(3, CAROL, "Hi")
    real = intake_module._record
    calls = 0

    async def flaky(session, wave, *args, **kwargs):
        nonlocal calls
        calls += 1
        # The batch fails as a whole; then Alice's message fails again on its own, and the others go in.
        if calls == 1 or any(message.raw == first for message, _ in wave):
            raise RuntimeError("the store said no")
        return await real(session, wave, *args, **kwargs)

    monkeypatch.setattr(intake_module, "_record", flaky)
    results = await take_in_batch(batch_of(database, None, clock), [first, second, third])

    assert [r.outcome if r else None for r in results] == [None, IntakeOutcome.NEW_CASE, IntakeOutcome.NEW_CASE]
    async with database.transaction() as session:
        stored = sorted((await session.scalars(select(StoredEmail.message_id))).all())
    assert stored == ["<m2@example.org>", "<m3@example.org>"]


async def test_a_reply_waits_with_the_question_that_failed(database, clock):
    messages = [
        mail(1, ALICE, "发票有误", body="您好\uff0c我的发票金额不对。"),
        mail(2, ALICE, "Re: 发票有误", "In-Reply-To: <m1@example.org>"),
        mail(3, BOB, "Cannot sign in"),
    ]
    results = await take_in_batch(batch_of(database, None, clock), messages)

    # The reply is not taken in without its question (the reader's lanes skip it too): next round, both again.
    assert [r.outcome if r else None for r in results] == [None, None, IntakeOutcome.NEW_CASE]
    async with database.transaction() as session:
        assert (await session.scalars(select(StoredEmail.message_id))).all() == ["<m3@example.org>"]
