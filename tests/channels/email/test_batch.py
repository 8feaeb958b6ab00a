"""The IMAP worker's batch transaction: many messages, one commit; a message that fails undoes only itself."""

from __future__ import annotations

import pytest
from sqlmodel import select

from contact_center.channels.email import intake as intake_module
from contact_center.channels.email.intake import IntakeOutcome
from contact_center.models import Case, Contact, OutboxMessage, StoredEmail

from .conftest import RecordingRouter, batch_of, mfs


def question(n: int, subject: str, body: str) -> bytes:
    return mfs(f"""\
        From: Customer {n} <c{n}@example.org>
        To: Help <help@example.test>
        Subject: {subject}
        Message-ID: <q{n}@example.org>

        {body}
        """)


@pytest.fixture
def failing_acknowledgement(monkeypatch):
    """Make the last write of customer 2's message (its acknowledgement) fail, after everything else is written."""
    original = intake_module._queue_auto_reply

    async def queue(session, to, *args, **kwargs):
        if to == "c2@example.org":
            raise RuntimeError("the outbox write failed")
        await original(session, to, *args, **kwargs)

    monkeypatch.setattr(intake_module, "_queue_auto_reply", queue)


async def test_a_failing_message_undoes_only_itself_and_routes_wait_for_the_commit(
    database, clock, failing_acknowledgement
):
    router = RecordingRouter()
    batch = batch_of(database, router, clock)
    messages = {
        1: question(1, "Invoice is wrong", "Hello, the invoice is wrong."),
        2: question(2, "发票有误", "您好\uff0c我的发票金额不对\uff0c请帮忙查看。"),
        3: question(3, "Cannot sign in", "Hello, I cannot sign in."),
    }
    async with batch.scope(messages):
        assert batch.outcome(1).outcome == IntakeOutcome.NEW_CASE
        with pytest.raises(RuntimeError, match="outbox"):
            batch.outcome(2)
        assert batch.outcome(3).outcome == IntakeOutcome.NEW_CASE
        assert router.submitted == []  # nothing is offered to agents before the commit

    async with database.transaction() as session:
        stored = sorted((await session.scalars(select(StoredEmail.message_id))).all())
        case_ids = sorted((await session.scalars(select(StoredEmail.case_id))).all())
        contacts = sorted((await session.scalars(select(Contact.external_id))).all())
        cases = len((await session.scalars(select(Case))).all())
        outbox = len((await session.scalars(select(OutboxMessage))).all())
    assert stored == contacts == ["<q1@example.org>", "<q3@example.org>"]
    assert (cases, outbox) == (2, 2)
    assert sorted(request.case_id for request in router.submitted) == case_ids


async def test_a_batch_that_does_not_commit_leaves_nothing(database, clock):
    batch = batch_of(database, None, clock)

    async def die_before_the_commit() -> None:
        async with batch.scope({1: question(1, "Invoice is wrong", "Hello, the invoice is wrong.")}):
            assert batch.outcome(1).outcome == IntakeOutcome.NEW_CASE
            raise RuntimeError("the process dies before the commit")

    with pytest.raises(RuntimeError, match="dies"):
        await die_before_the_commit()
    async with database.transaction() as session:
        assert (await session.scalars(select(StoredEmail))).all() == []
        assert (await session.scalars(select(Contact))).all() == []
    with pytest.raises(RuntimeError, match="not in the open batch"):
        batch.outcome(1)
