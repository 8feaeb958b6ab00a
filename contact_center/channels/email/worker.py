"""The IMAP intake: one reader per configured mailbox, each message taken in before it is flagged done.

The reader (`email_response.imap.ImapReader`) takes each batch of new messages in within one transaction
(`BatchTransaction`, a savepoint per message, so a message that fails undoes only itself) and marks the batch's
messages done on the server only after that transaction committed. Its
UIDVALIDITY and last UID live in the `imap_state` table, so a restart resumes where the last one stopped.
`IMAP_MAILBOXES` lists the mailboxes (each may name the queue its cases go to); each has its own reader and
connection, so a slow or broken mailbox does not hold the others up.

`contact-center email worker` runs the intake as a process of its own (`--once`: read what is there and stop).
Each mailbox is read by one process at a time, under a lease of its own (`contact_center.leases`): a second
worker waits and takes over when the first dies. Intake stays idempotent by Message-ID all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.channels.email.articles import article_suggester
from contact_center.channels.email.config import email_intake
from contact_center.channels.email.intake import (
    EmailIntake,
    IntakeResult,
    Suggest,
    do_take_in_message,
    take_in_message,
)
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, RouteRequest
from contact_center.models import ImapState
from contact_center.settings import Settings
from email_response.imap import ImapAccount, ImapReader

__all__ = ["BatchTransaction", "ImapStateTable", "build_imap_reader", "build_imap_readers", "run_imap_intake"]


class ImapStateTable:
    """The IMAP reader's state store (`email_response.imap.ImapStateStore`) over the `imap_state` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, mailbox: str) -> tuple[int, int] | None:
        """Return (uidvalidity, last_uid) of a mailbox, or None for one never read."""
        async with self._db.transaction() as session:
            row = (await session.scalars(select(ImapState).where(ImapState.key == mailbox))).first()
        return (row.uidvalidity, row.last_uid) if row is not None else None

    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Remember that every message of a mailbox up to last_uid is committed."""
        async with self._db.transaction() as session:
            row = (await session.scalars(select(ImapState).where(ImapState.key == mailbox))).first()
            if row is None:
                session.add(ImapState(key=mailbox, uidvalidity=uidvalidity, last_uid=last_uid))
            else:
                row.uidvalidity, row.last_uid = uidvalidity, last_uid


def build_imap_reader(
    db: Database,
    settings: Settings,
    router: ContactRouter | None,
    clock: Clock,
    *,
    mailbox: str = "INBOX",
    intake: EmailIntake | None = None,
) -> ImapReader:
    """Return a reader of the configured mailbox whose handler takes each message in as a contact."""
    if not settings.imap_host or not settings.imap_username:
        raise ValueError("IMAP_HOST and IMAP_USERNAME are needed to read mail")
    account = ImapAccount(
        host=settings.imap_host,
        port=settings.imap_port,
        username=settings.imap_username,
        password=settings.imap_password or "",
        mailbox=mailbox,
        # Port 993 is IMAP over TLS (RFC 8314); anything else is plain, as for a local Dovecot.
        use_tls=settings.imap_port == 993,
    )

    intake = intake or email_intake(settings)
    if not db.is_sqlite:
        # PostgreSQL takes independent messages side by side, each in a transaction of its own: on spare cores
        # that beats one transaction per batch (which wins on a loaded machine); see the README's figures.
        async def handle_alone(_uid: int, raw: bytes) -> None:
            await take_in_message(
                db,
                raw,
                clock.now(),
                router=router,
                auto_reply=True,
                smtp_from=settings.smtp_from,
                region=settings.default_phone_region,
                source="imap",
                intake=intake,
            )

        return ImapReader(account, ImapStateTable(db), handle_alone, concurrency=8)
    batch = BatchTransaction(db, router)

    async def handle(_uid: int, raw: bytes) -> None:
        # Written in the batch's transaction; the reader flags the batch done on the server after its commit.
        await batch.take_in(
            raw,
            clock.now(),
            auto_reply=True,
            smtp_from=settings.smtp_from,
            region=settings.default_phone_region,
            source="imap",
            intake=intake,
        )

    # SQLite has one writer: one transaction (and so one session) per batch, its messages one after another.
    return ImapReader(account, ImapStateTable(db), handle, batch_scope=batch.scope)


class BatchTransaction:
    """One transaction per IMAP batch with a savepoint per message: one commit for many, a failure undoes one.

    Route requests wait for the commit, so an agent is never offered a case that is not there yet.
    """

    def __init__(self, db: Database, router: ContactRouter | None) -> None:
        self._db = db
        self._router = router
        self._session: AsyncSession | None = None
        self._routes: list[RouteRequest] = []

    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[None]:
        """Open the batch's transaction; commit it on exit, then submit the batch's route requests."""
        self._routes = []
        async with self._db.transaction() as session:
            self._session = session
            try:
                yield
            finally:
                self._session = None
        routes, self._routes = self._routes, []
        if self._router is not None:
            for route in routes:
                await self._router.submit(route)

    async def take_in(
        self,
        raw: bytes,
        now: datetime,
        *,
        auto_reply: bool,
        smtp_from: str,
        region: str,
        source: str,
        intake: EmailIntake,
    ) -> IntakeResult:
        """Take one message in within the batch's transaction, in a savepoint of its own."""
        if self._session is None:
            raise RuntimeError("take_in outside a batch scope")
        async with self._session.begin_nested():
            result, route = await do_take_in_message(
                self._session,
                raw,
                now,
                auto_reply=auto_reply,
                smtp_from=smtp_from,
                region=region,
                source=source,
                intake=intake,
            )
        if route is not None:
            self._routes.append(route)
        return result


def build_imap_readers(
    db: Database, settings: Settings, router: ContactRouter | None, clock: Clock, *, suggest: Suggest | None = None
) -> list[ImapReader]:
    """Return one reader per mailbox of IMAP_MAILBOXES, each sending its cases to the mailbox's queue.

    Acknowledgements offer knowledge-base articles (`article_suggester`) unless `suggest` says otherwise.
    """
    rules = email_intake(settings).rules
    suggest = suggest or article_suggester(settings)
    return [
        build_imap_reader(
            db,
            settings,
            router,
            clock,
            mailbox=mailbox,
            intake=email_intake(settings, queue=queue, rules=rules, suggest=suggest),
        )
        for mailbox, queue in settings.imap_mailboxes
    ]


async def run_imap_intake(
    db: Database, settings: Settings, router: ContactRouter | None, clock: Clock, *, suggest: Suggest | None = None
) -> None:
    """Read every configured mailbox until cancelled, taking every new message in."""
    readers = build_imap_readers(db, settings, router, clock, suggest=suggest)
    await asyncio.gather(*(reader.run() for reader in readers))
