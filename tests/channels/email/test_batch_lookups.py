"""A batch read once (`lookups.BatchLookups`): messages that depend on each other within one batch are taken in
exactly as one at a time, and what a failed message would have written is not seen by the rest of its batch."""

from __future__ import annotations

import pytest
from sqlmodel import select

from contact_center.channels.email import worker
from contact_center.channels.email.intake import EmailIntake, IntakeOutcome, IntakeResult
from contact_center.channels.email.worker import BatchTransaction
from contact_center.models import Case, EmailAutoReply, OutboxMessage, StoredEmail
from contact_center.models.email import SentEmail

from .conftest import HELP, mfs

CHINESE = "发票".encode()


@pytest.fixture(autouse=True)
def chinese_mail_fails(monkeypatch):
    """A message about 发票 fails once it has written everything it would (as a store error at the end would)."""
    real = worker.do_take_in_message

    async def failing(session, raw, *args, **kwargs):
        taken = await real(session, raw, *args, **kwargs)
        if CHINESE in raw:
            raise RuntimeError("the store said no")
        return taken

    monkeypatch.setattr(worker, "do_take_in_message", failing)


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


async def take_in_batch(batch: BatchTransaction, messages: list[bytes], clock) -> list[IntakeResult | None]:
    results: list[IntakeResult | None] = []
    async with batch.scope(dict(enumerate(messages, start=1))):
        for raw in messages:
            try:
                results.append(
                    await batch.take_in(
                        raw,
                        clock.now(),
                        auto_reply=True,
                        smtp_from=HELP,
                        region="US",
                        source="imap",
                        intake=EmailIntake(),
                    )
                )
            except Exception:
                results.append(None)
    return results


async def test_messages_of_one_batch_thread_onto_each_other_and_share_the_rate_limit(database, clock):
    results = await take_in_batch(BatchTransaction(database, None), BATCH, clock)

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
    results = await take_in_batch(BatchTransaction(database, None), messages, clock)

    # The message about 发票 fails, each time it comes.
    assert results[0] is None
    assert results[2] is None
    # Its reply finds nothing to thread onto; the failed attempts are no duplicates and were never acknowledged.
    assert [(r.outcome, r.reason, r.acknowledged) for r in results if r is not None] == [
        (IntakeOutcome.NEW_CASE, "new-case", True),
        (IntakeOutcome.NEW_CASE, "new-case", True),
    ]
    async with database.transaction() as session:
        stored = sorted((await session.scalars(select(StoredEmail.message_id))).all())
        cases = (await session.scalars(select(Case))).all()
    assert stored == ["<m2@example.org>", "<m3@example.org>"]
    assert len(cases) == 2


async def test_a_failure_after_others_undoes_only_itself_and_routes_each_message_once(database, clock, router):
    messages = [
        mail(1, ALICE, "Invoice is wrong"),
        mail(2, ALICE, "Re: Invoice is wrong", "In-Reply-To: <m1@example.org>"),
        mail(3, BOB, "发票有误", body="您好\uff0c我的发票金额不对。"),
        mail(4, ALICE, "Re: Invoice is wrong", "In-Reply-To: <m2@example.org>"),
        mail(5, CAROL, "Cannot sign in"),
    ]
    results = await take_in_batch(BatchTransaction(database, router), messages, clock)

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


async def test_a_message_that_fails_when_taken_in_again_fails_the_whole_batch(database, clock, monkeypatch):
    import contact_center.channels.email.worker as worker

    first, second = mail(1, ALICE, "Invoice is wrong"), mail(2, BOB, "Cannot sign in")
    attempts: dict[bytes, int] = {}
    real = worker.do_take_in_message

    async def flaky(session, raw, *args, **kwargs):
        attempts[raw] = attempts.get(raw, 0) + 1
        # Bob's message always fails; Alice's only when it is taken in again after his failure.
        if raw == second or attempts[raw] > 1:
            raise RuntimeError("the store said no")
        return await real(session, raw, *args, **kwargs)

    monkeypatch.setattr(worker, "do_take_in_message", flaky)
    batch = BatchTransaction(database, None)
    with pytest.raises(RuntimeError, match="taken in again"):
        await take_in_batch(batch, [first, second], clock)
    # Alice's message was reported in, yet it could not be written again: nothing of the batch is committed,
    # so the reader offers all of it again instead of flagging a message that is not there.
    async with database.transaction() as session:
        assert (await session.scalars(select(StoredEmail))).all() == []
