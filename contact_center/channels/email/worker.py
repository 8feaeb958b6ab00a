"""The IMAP intake: one reader per configured mailbox, each message taken in before it is flagged done.

The reader (`email_response.imap.ImapReader`) takes each batch of new messages in within one transaction
(`BatchTransaction`, a savepoint per message, so a message that fails undoes only itself) and marks the batch's
messages done on the server only after that transaction committed. On PostgreSQL independent messages of a batch
run side by side instead, a transaction each (`BatchReads`). Either way the batch's questions to the store are
asked once for all its messages (`lookups.BatchLookups`). Its
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
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction
from sqlmodel import select

from contact_center.channels.email.articles import article_suggester
from contact_center.channels.email.config import email_intake
from contact_center.channels.email.intake import (
    EmailIntake,
    IntakeLimits,
    IntakeResult,
    Suggest,
    do_queue_deferred_replies,
    do_take_in_message,
    take_in_message,
)
from contact_center.channels.email.lookups import BatchLookups, MessageLookups
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, RouteRequest
from contact_center.models import ImapState
from contact_center.settings import Settings
from email_response.imap import ImapAccount, ImapReader

log = logging.getLogger(__name__)

__all__ = [
    "BatchReads",
    "BatchTransaction",
    "ImapStateTable",
    "build_imap_reader",
    "build_imap_readers",
    "run_imap_intake",
]


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
        reads = BatchReads(db, intake.limits)

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
                lookups=reads.message(),
            )

        return ImapReader(account, ImapStateTable(db), handle_alone, concurrency=8, batch_scope=reads.scope)
    batch = BatchTransaction(db, router, intake.limits)

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


async def _load(
    session: AsyncSession, messages: Mapping[int, bytes], limits: IntakeLimits, *, defer_replies: bool = False
) -> BatchLookups:
    return await BatchLookups.load(
        session,
        messages.values(),
        max_attachment_bytes=limits.max_attachment_bytes,
        max_message_bytes=limits.max_message_bytes,
        defer_replies=defer_replies,
    )


class BatchReads:
    """The batch scope of messages taken in side by side, a transaction each: the batch's lookups only."""

    def __init__(self, db: Database, limits: IntakeLimits) -> None:
        self._db = db
        self._limits = limits
        self._lookups: BatchLookups | None = None

    @contextlib.asynccontextmanager
    async def scope(self, messages: Mapping[int, bytes]) -> AsyncIterator[None]:
        """Read what the batch's messages will ask about, for the time the batch is handled."""
        async with self._db.transaction() as session:
            self._lookups = await _load(session, messages, self._limits)
        try:
            yield
        finally:
            self._lookups = None

    def message(self) -> MessageLookups | None:
        """Return one message's view of the batch's lookups (None outside a batch)."""
        return self._lookups.message() if self._lookups is not None else None


@dataclass(frozen=True)
class _Call:
    """One message a batch took in, as it was asked for: enough to take it in again."""

    raw: bytes
    now: datetime
    auto_reply: bool
    smtp_from: str
    region: str
    source: str
    intake: EmailIntake


class BatchTransaction:
    """One transaction per IMAP batch: one commit for many messages, and a message that fails undoes only itself.

    Given the batch's messages (as the IMAP reader does), the batch runs in one savepoint and its messages need
    none of their own: a savepoint per message is two statements more for each, for failures that hardly ever
    happen. When one fails, the batch's savepoint is rolled back and the messages taken in before it are taken in
    again, each in a savepoint of its own, as is every message after it; if one of those fails this time, the
    whole batch fails (the reader offers all of it again). Without the messages (`scope()`), every message has
    its savepoint from the start.

    Route requests wait for the commit, so an agent is never offered a case that is not there yet.
    """

    def __init__(self, db: Database, router: ContactRouter | None, limits: IntakeLimits | None = None) -> None:
        self._db = db
        self._router = router
        self._limits = limits or IntakeLimits()
        self._session: AsyncSession | None = None
        self._messages: Mapping[int, bytes] = {}
        self._lookups: BatchLookups | None = None
        self._shared: AsyncSessionTransaction | None = None
        self._taken: list[_Call] = []
        self._isolated = True
        self._retake_failed = False
        self._routes: list[RouteRequest] = []

    @contextlib.asynccontextmanager
    async def scope(self, messages: Mapping[int, bytes] | None = None) -> AsyncIterator[None]:
        """Open the batch's transaction; commit it on exit, then submit the batch's route requests.

        With the batch's `messages`, what they will ask the store is read once, in the batch's transaction, and
        their automatic replies are written together at the end, before the commit.
        """
        self._routes, self._taken, self._retake_failed = [], [], False
        self._messages = messages or {}
        async with self._db.transaction() as session:
            self._session = session
            try:
                if messages:
                    self._lookups = await _load(session, messages, self._limits, defer_replies=True)
                    self._shared = await session.begin_nested()
                    self._isolated = False
                yield
                if self._retake_failed:
                    raise RuntimeError("a message of the batch failed when it was taken in again")
                if self._shared is not None:
                    await self._shared.commit()
                if self._lookups is not None:
                    await do_queue_deferred_replies(session, self._lookups.deferred_replies())
            finally:
                self._session = self._lookups = self._shared = None
                self._isolated = True
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
        """Take one message in within the batch's transaction; if it fails, nothing of it stays.

        The result of a message taken in again after a later one failed is that of its first attempt (on
        PostgreSQL the ids it names were rolled back with it); the reader needs only to know that it succeeded.
        """
        if self._session is None:
            raise RuntimeError("take_in outside a batch scope")
        call = _Call(raw, now, auto_reply, smtp_from, region, source, intake)
        if self._isolated:
            return await self._take_in_alone(self._session, call)
        try:
            result = await self._take_in(self._session, call)
        except Exception:
            try:
                await self._isolate(self._session)
            except Exception:
                # The messages before this one are undone and not taken in again: the batch must not commit.
                self._retake_failed = True
                raise
            return await self._take_in_alone(self._session, call)
        self._taken.append(call)
        return result

    async def _take_in(self, session: AsyncSession, call: _Call, *, savepoint: bool = False) -> IntakeResult:
        lookups = self._lookups.message() if self._lookups is not None else None
        async with session.begin_nested() if savepoint else contextlib.nullcontext():
            result, route = await do_take_in_message(
                session,
                call.raw,
                call.now,
                auto_reply=call.auto_reply,
                smtp_from=call.smtp_from,
                region=call.region,
                source=call.source,
                intake=call.intake,
                lookups=lookups,
            )
        # The message's writes stand (its savepoint, if any, released), so later messages of the batch see them.
        if lookups is not None:
            lookups.keep()
        if route is not None:
            self._routes.append(route)
        return result

    async def _take_in_alone(self, session: AsyncSession, call: _Call) -> IntakeResult:
        return await self._take_in(session, call, savepoint=True)

    async def _isolate(self, session: AsyncSession) -> None:
        """Undo the batch so far and take its messages in again, each in a savepoint of its own from now on."""
        assert self._shared is not None
        await self._shared.rollback()
        self._shared = None
        self._isolated = True
        self._routes = []
        # What the batch read and noted included the undone writes: read it again.
        self._lookups = None
        self._lookups = await _load(session, self._messages, self._limits, defer_replies=True)
        taken, self._taken = self._taken, []
        for call in taken:
            try:
                await self._take_in_alone(session, call)
            except Exception:
                # The reader was told this message is in; it must not be flagged done without it.
                log.exception("email: a message taken in before a failure failed when taken in again")
                self._retake_failed = True


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
