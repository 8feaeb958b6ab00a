"""The IMAP intake against a real Dovecot: a message appended becomes a case, flagged only after the commit."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import select

from contact_center.channels.email.worker import ImapStateTable, build_imap_reader
from contact_center.models import Case, Contact, ImapState, OutboxMessage
from email_response.imap import DONE_KEYWORD

from .conftest import HELP, RecordingRouter, mfs

QUESTION = mfs("""\
    From: Ann <ann@example.org>
    To: help@example.test
    Subject: Printer jammed
    Message-ID: <jammed@example.org>

    Paper everywhere.
    """)


class CheckingRouter(RecordingRouter):
    """Records, at each submission, whether the contact is committed and whether the server shows it done."""

    def __init__(self, database, dovecot, mailbox):
        super().__init__()
        self.database, self.dovecot, self.mailbox = database, dovecot, mailbox
        self.seen: list[tuple[bool, bool]] = []

    async def submit(self, request):
        async with self.database.transaction() as session:
            committed = await session.get(Contact, request.contact_id) is not None
        flags = await self.dovecot.flags(self.mailbox)
        self.seen.append((committed, any(DONE_KEYWORD in f for f in flags.values())))
        await super().submit(request)


async def test_an_appended_message_becomes_a_case_flagged_after_commit(database, clock, settings, dovecot, mailbox):
    settings = replace(
        settings,
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_username=dovecot.user,
        imap_password=dovecot.password,
        smtp_from=HELP,
    )
    await dovecot.append(mailbox, QUESTION)
    router = CheckingRouter(database, dovecot, mailbox)
    reader = build_imap_reader(database, settings, router, clock, mailbox=mailbox)

    assert await reader.run_once() == 1

    assert router.seen == [(True, False)]  # committed first, not yet flagged done on the server
    flags = await dovecot.flags(mailbox)
    assert DONE_KEYWORD in flags[1]
    assert "\\Seen" in flags[1]
    async with database.transaction() as session:
        [case] = (await session.scalars(select(Case))).all()
        assert case.subject == "Printer jammed"
        [ack] = (await session.scalars(select(OutboxMessage))).all()
        assert ack.headers["Auto-Submitted"] == "auto-replied"
        [state] = (await session.scalars(select(ImapState))).all()
    assert state.last_uid == 1
    assert await ImapStateTable(database).get(state.key) == (state.uidvalidity, 1)

    # A restart (a new reader on the same table) finds nothing new and makes no second case.
    again = build_imap_reader(database, settings, router, clock, mailbox=mailbox)
    assert await again.run_once() == 0
    assert len(router.submitted) == 1
