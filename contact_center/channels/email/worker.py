"""The IMAP intake: one reader per configured mailbox, each message taken in before it is flagged done.

The reader (`email_response.imap.ImapReader`) takes each batch of new messages in within one transaction
(`BatchTransaction`: the batch set-based, `intake.do_take_in_batch`, and a message that fails undoes only itself)
and marks the batch's messages done on the server only after that transaction committed, on SQLite and on
PostgreSQL alike. The batch's questions to the store are asked once for all its messages
(`lookups.BatchLookups`). Its UIDVALIDITY and last UID live in the `imap_state` table, so a restart resumes where
the last one stopped.
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
from datetime import datetime
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.channels.email.articles import article_suggester
from contact_center.channels.email.config import email_intake
from contact_center.channels.email.intake import (
    EmailIntake,
    IntakeResult,
    Suggest,
    do_queue_deferred_replies,
    do_take_in_batch,
    do_take_in_message,
)
from contact_center.channels.email.lookups import BatchLookups
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, RouteRequest
from contact_center.models import ImapState
from contact_center.settings import Settings
from email_response.imap import ImapAccount, ImapReader
from email_response.parsing import ParsedMessage
from email_response.threading import referenced_message_ids

log = logging.getLogger(__name__)

__all__ = [
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

    batch = BatchTransaction(
        db,
        router,
        clock,
        intake=intake or email_intake(settings),
        smtp_from=settings.smtp_from,
        region=settings.default_phone_region,
    )

    async def handle(uid: int, _raw: bytes) -> None:
        # Taken in when the batch's scope opened; the reader flags the batch done on the server after its commit.
        batch.outcome(uid)

    return ImapReader(account, ImapStateTable(db), handle, batch_scope=batch.scope)


class _Options(TypedDict):
    """How every message of a mailbox is taken in."""

    auto_reply: bool
    smtp_from: str
    region: str
    source: str


class BatchTransaction:
    """One transaction per IMAP batch: one commit for many messages, and a message that fails undoes only itself.

    When the scope opens, the batch's messages are taken in together (`do_take_in_batch`, in UID order) in one
    savepoint: a savepoint per message is two statements more for each, for failures that hardly ever happen.
    When one fails, that savepoint is rolled back and the messages are taken in again one by one, each in a
    savepoint of its own, so that the failure undoes only itself; a reply to a message that failed waits with it
    (as the reader's lanes make it wait), so it threads onto its question in the next round. The reader's handler
    then asks each message's `outcome`. The transaction commits when the scope exits; route requests wait for the
    commit, so an agent is never offered a case that is not there yet.
    """

    def __init__(
        self,
        db: Database,
        router: ContactRouter | None,
        clock: Clock,
        *,
        intake: EmailIntake,
        smtp_from: str,
        region: str,
        source: str = "imap",
        auto_reply: bool = True,
    ) -> None:
        self._db = db
        self._router = router
        self._clock = clock
        self._intake = intake
        self._options = _Options(auto_reply=auto_reply, smtp_from=smtp_from, region=region, source=source)
        self._outcomes: dict[int, IntakeResult | Exception] = {}

    @contextlib.asynccontextmanager
    async def scope(self, messages: Mapping[int, bytes]) -> AsyncIterator[None]:
        """Take the batch's messages in within its transaction; commit it on exit, then submit the route
        requests."""
        uids = sorted(messages)
        raws = [messages[uid] for uid in uids]
        now = self._clock.now()
        async with self._db.transaction() as session:
            lookups = await self._load(session, raws)
            try:
                async with session.begin_nested():
                    taken = await do_take_in_batch(
                        session, raws, now, intake=self._intake, lookups=lookups, **self._options
                    )
                outcomes: dict[int, IntakeResult | Exception] = {
                    uid: result for uid, (result, _) in zip(uids, taken, strict=True)
                }
                routes = [route for _, route in taken if route is not None]
            except Exception:
                log.exception("email: a message of a batch of %d failed; taking them in one by one", len(uids))
                _forget_undone(session)
                # What the batch read and noted included the undone writes: read it again.
                lookups = await self._load(session, raws)
                outcomes, routes = await self._one_by_one(session, dict(zip(uids, raws, strict=True)), now, lookups)
            await do_queue_deferred_replies(session, lookups.deferred_replies())
            self._outcomes = outcomes
            try:
                yield
            finally:
                self._outcomes = {}
        if self._router is not None:
            for route in routes:
                await self._router.submit(route)

    def outcome(self, uid: int) -> IntakeResult:
        """Return what became of a message of the open batch; raise what made it fail."""
        found = self._outcomes.get(uid)
        if found is None:
            raise RuntimeError(f"message {uid} is not in the open batch")
        if isinstance(found, Exception):
            raise found
        return found

    async def _load(self, session: AsyncSession, raws: list[bytes]) -> BatchLookups:
        limits = self._intake.limits
        return await BatchLookups.load(
            session,
            raws,
            max_attachment_bytes=limits.max_attachment_bytes,
            max_message_bytes=limits.max_message_bytes,
        )

    async def _one_by_one(
        self, session: AsyncSession, messages: Mapping[int, bytes], now: datetime, lookups: BatchLookups
    ) -> tuple[dict[int, IntakeResult | Exception], list[RouteRequest]]:
        outcomes: dict[int, IntakeResult | Exception] = {}
        routes: list[RouteRequest] = []
        failed: set[str] = set()
        for uid, raw in messages.items():
            parsed = lookups.parse(raw)
            own = parsed.message_id if isinstance(parsed, ParsedMessage) else None
            if isinstance(parsed, ParsedMessage) and failed.intersection(referenced_message_ids(parsed)):
                failed.add(parsed.message_id)
                outcomes[uid] = RuntimeError(f"message {uid} waits for a message it refers to, which failed")
                continue
            view = lookups.message()
            try:
                async with session.begin_nested():
                    result, route = await do_take_in_message(
                        session, raw, now, intake=self._intake, lookups=view, **self._options
                    )
            except Exception as exc:
                log.exception("email: message %d of the batch failed", uid)
                _forget_undone(session)
                outcomes[uid] = exc
                if own is not None:
                    failed.add(own)
                continue
            # Its savepoint released: later messages of the batch see its writes.
            view.keep()
            outcomes[uid] = result
            if route is not None:
                routes.append(route)
        return outcomes, routes


def _forget_undone(session: AsyncSession) -> None:
    """Drop every object from the session after a savepoint was rolled back.

    Rows the intake attached to the session as persistent (made outside the ORM) stay in its identity map when
    their savepoint is undone, and SQLite hands their ids out again; the next insert of such an id would clash.
    At a savepoint's end nothing is pending (it was flushed or undone), so nothing is lost: what the rest of the
    batch needs is read again.
    """
    session.expunge_all()


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
