"""What the intake reads from the store for a batch of IMAP messages, read once for the whole batch.

Asked message by message, the intake's questions cost a statement each: is this Message-ID stored, which cases
do its references point to and who takes part in them, has this address had automatic replies, is it
suppressed, which templates did admins override. `BatchLookups.load` asks each of them once for every message of
a batch (and parses each message once). Every message then reads through its own `MessageLookups`, which notes
what the message writes; `keep()` adds that to the batch's answers once the message's savepoint or transaction
succeeded, so a later message of the batch sees it as it would see it in the database, and a message that
failed leaves nothing behind.

The batch (one transaction) also holds its automatic replies back (`DeferredReply`) and the intake writes them
all at the batch's end (`intake.do_queue_deferred_replies`): the outbox, `email_sent` and `email_auto_replies`
rows of 25 messages take three INSERTs instead of three each. They are in the same transaction, so a message and
its acknowledgement still commit together or not at all, and the rate limits see them through these lookups.

Only what was loaded is answered: a question about anything else returns None and goes to the database as
before. The batch is loaded inside the batch's transaction. On SQLite that holds the write lock, so the answers
are exact; on PostgreSQL they are as of the batch's start: a concurrent delivery of the same Message-ID fails on
the unique key (the batch is then taken in one by one, and that message offered again), and the outbox transport
checks suppressions again before it sends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.channels.email.templates import load_catalogue
from contact_center.models import EmailAutoReply, StoredEmail
from contact_center.models.email import EmailSuppression, SentEmail
from email_response.catalogue import TemplateCatalogue
from email_response.parsing import ParsedMessage, Unprocessable, parse_message
from email_response.threading import case_numbers_in, referenced_message_ids

__all__ = ["BatchLookups", "DeferredReply", "MessageLookups", "storable_id"]

# The column limit of Message-IDs and contacts' external ids; a longer id is replaced by its hash.
_ID_LENGTH = 255


def storable_id(message_id: str) -> str:
    """Return a Message-ID as it is stored: itself, or a hash of it when it is longer than the column."""
    if len(message_id) <= _ID_LENGTH:
        return message_id
    return f"<{hashlib.sha256(message_id.encode('utf-8', 'replace')).hexdigest()}@long-id.invalid>"


@dataclass(frozen=True)
class DeferredReply:
    """An automatic reply written at the end of the batch."""

    to: str
    case_id: int | None
    subject: str
    text: str
    headers: dict[str, str]
    kind: str
    domain: str
    now: datetime


@dataclass
class _Written:
    """What one message wrote that the batch's answers must include once it is kept."""

    stored: list[tuple[str, int | None, Collection[str]]] = field(default_factory=list)
    new_cases: list[int] = field(default_factory=list)
    auto_replies: list[tuple[str, int | None, datetime]] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    replies: list[DeferredReply] = field(default_factory=list)


class BatchLookups:
    """The batch's answers; `message()` gives each message its view, `MessageLookups.keep()` adds its writes."""

    def __init__(self, *, max_attachment_bytes: int, max_message_bytes: int) -> None:
        self._limits = (max_attachment_bytes, max_message_bytes)
        self._replies: list[DeferredReply] = []
        self._parsed: dict[bytes, ParsedMessage | Unprocessable] = {}
        self._asked_ids: set[str] = set()
        self._stored: set[str] = set()
        self._references: dict[str, int] = {}
        self._participants: dict[int, set[str]] = {}
        self._asked_addresses: set[str] = set()
        self._suppressed: set[str] = set()
        self._replies_to: dict[str, list[datetime]] = {}
        self._queues: dict[str, int | None] = {}
        # (the intake's base catalogue, it with the overrides): mailboxes' intakes may differ in their base.
        self._catalogues: list[tuple[TemplateCatalogue | None, TemplateCatalogue]] = []
        # Set when a message's writes could not be followed (it was retried): nothing is answered any more.
        self._stale = False

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        raws: Iterable[bytes],
        *,
        max_attachment_bytes: int,
        max_message_bytes: int,
    ) -> BatchLookups:
        """Parse a batch's messages and read what their intake will ask about, a few statements in all."""
        lookups = cls(max_attachment_bytes=max_attachment_bytes, max_message_bytes=max_message_bytes)
        messages = [parsed for raw in raws if isinstance(parsed := lookups.parse(raw), ParsedMessage)]
        own_ids = {storable_id(msg.message_id) for msg in messages}
        refs = {storable_id(mid) for msg in messages for mid in referenced_message_ids(msg)}
        addresses = {msg.reply_address for msg in messages if msg.reply_address}
        lookups._asked_ids = own_ids | refs
        lookups._asked_addresses = addresses
        if lookups._asked_ids:
            rows = await session.execute(
                select(StoredEmail.message_id, StoredEmail.case_id).where(
                    col(StoredEmail.message_id).in_(sorted(lookups._asked_ids))
                )
            )
            for message_id, case_id in rows.all():
                lookups._stored.add(message_id)
                if case_id is not None and message_id in refs:
                    lookups._references[message_id] = case_id
        if refs:
            # Our own messages: a client that keeps only In-Reply-To (our reply's id) still threads.
            ours = await session.execute(
                select(SentEmail.message_id, SentEmail.case_id).where(col(SentEmail.message_id).in_(sorted(refs)))
            )
            for message_id, case_id in ours.all():
                if case_id is not None:
                    lookups._references[message_id] = case_id
        cases = set(lookups._references.values()) | {n for msg in messages for n in case_numbers_in(msg.subject)}
        if cases:
            lookups._participants = {case_id: set() for case_id in cases}
            members = await session.execute(
                select(StoredEmail.case_id, StoredEmail.participants).where(col(StoredEmail.case_id).in_(sorted(cases)))
            )
            for case_id, participants in members.all():
                if case_id is not None:
                    lookups._participants[case_id].update(participants or [])
        if addresses:
            lowered = sorted({address.lower() for address in addresses})
            suppressed = await session.scalars(
                select(EmailSuppression.address).where(col(EmailSuppression.address).in_(lowered))
            )
            lookups._suppressed = set(suppressed.all())
            replies = await session.execute(
                select(EmailAutoReply.address, EmailAutoReply.created_at).where(
                    col(EmailAutoReply.address).in_(sorted(addresses))
                )
            )
            for address, created_at in replies.all():
                lookups._replies_to.setdefault(address, []).append(created_at)
        return lookups

    def parse(self, raw: bytes) -> ParsedMessage | Unprocessable:
        """Return a message parsed (once per batch) with the intake's limits."""
        found = self._parsed.get(raw)
        if found is None:
            max_attachment_bytes, max_message_bytes = self._limits
            found = self._parsed[raw] = parse_message(
                raw, max_attachment_bytes=max_attachment_bytes, max_message_bytes=max_message_bytes
            )
        return found

    def message(self) -> MessageLookups:
        """Return a view for one message of the batch."""
        return MessageLookups(self)

    def parses_with(self, max_attachment_bytes: int, max_message_bytes: int) -> bool:
        """Return True when the batch parsed its messages with these limits."""
        return self._limits == (max_attachment_bytes, max_message_bytes)

    async def catalogue(self, session: AsyncSession, base: TemplateCatalogue | None) -> TemplateCatalogue:
        """Return the templates with admins' overrides, read once per batch (the intake never changes them)."""
        for known, catalogue in self._catalogues:
            if known is base:
                return catalogue
        catalogue = await load_catalogue(session, base)
        self._catalogues.append((base, catalogue))
        return catalogue

    def deferred_replies(self) -> list[DeferredReply]:
        """Return (and let go of) the automatic replies held back so far, to be written now."""
        replies, self._replies = self._replies, []
        return replies

    def _keep(self, written: _Written) -> None:
        self._replies.extend(written.replies)
        for new_case in written.new_cases:
            self._participants.setdefault(new_case, set())
        for message_id, case_id, participants in written.stored:
            if message_id in self._asked_ids:
                self._stored.add(message_id)
                if case_id is not None:
                    self._references[message_id] = case_id
            # Only a case whose every participant is known here (loaded, or new in this batch) is answered.
            if case_id is not None and case_id in self._participants:
                self._participants[case_id].update(participants)
        for address, _case_id, created_at in written.auto_replies:
            if address in self._asked_addresses:
                self._replies_to.setdefault(address, []).append(created_at)
        self._suppressed.update(address.lower() for address in written.suppressed)


class MessageLookups:
    """One message's view of the batch's answers, noting what the message writes until it is kept."""

    def __init__(self, batch: BatchLookups) -> None:
        self._batch = batch
        self._written = _Written()

    def parse(self, raw: bytes) -> ParsedMessage | Unprocessable:
        """Return the message parsed (the batch parsed it already)."""
        return self._batch.parse(raw)

    def parses_with(self, max_attachment_bytes: int, max_message_bytes: int) -> bool:
        """Return True when the batch parsed its messages with these limits."""
        return self._batch.parses_with(max_attachment_bytes, max_message_bytes)

    def is_stored(self, message_id: str) -> bool | None:
        """Return whether a Message-ID is in `email_messages`; None: not loaded, ask the database."""
        batch = self._batch
        if batch._stale or message_id not in batch._asked_ids:
            return None
        return message_id in batch._stored

    def thread_candidates(
        self, ids: Collection[str], numbers: Collection[int]
    ) -> tuple[dict[str, int], dict[int, set[str]]] | None:
        """Return (Message-ID -> case, case -> participants) for threading; None when not all of it is loaded."""
        batch = self._batch
        if batch._stale or not all(mid in batch._asked_ids for mid in ids):
            return None
        referenced = {mid: batch._references[mid] for mid in ids if mid in batch._references}
        wanted = {*referenced.values(), *numbers}
        if not all(case_id in batch._participants for case_id in wanted):
            return None
        # A case with no stored message has no participants: like the query, it is not a candidate.
        members = {case_id: set(batch._participants[case_id]) for case_id in wanted if batch._participants[case_id]}
        return referenced, members

    def auto_replies_to(self, address: str) -> list[datetime] | None:
        """Return when automatic replies went to an address; None: not loaded."""
        batch = self._batch
        if batch._stale or address not in batch._asked_addresses:
            return None
        return list(batch._replies_to.get(address, []))

    def is_suppressed(self, address: str) -> bool | None:
        """Return whether an address is suppressed; None: not loaded."""
        batch = self._batch
        if batch._stale or address not in batch._asked_addresses:
            return None
        return address.lower() in batch._suppressed

    def queue_id(self, name: str) -> tuple[int | None] | None:
        """Return (id,) of a queue looked up earlier in the batch, or None."""
        batch = self._batch
        return (batch._queues[name],) if name in batch._queues else None

    def remember_queue(self, name: str, queue_id: int | None) -> None:
        """Keep a queue's id for the rest of the batch (queues do not change during intake)."""
        self._batch._queues[name] = queue_id

    async def catalogue(self, session: AsyncSession, base: TemplateCatalogue | None) -> TemplateCatalogue:
        """Return the templates with admins' overrides, read once per batch."""
        return await self._batch.catalogue(session, base)

    def stored(self, message_id: str, case_id: int | None, participants: Collection[str]) -> None:
        """Note a row written to `email_messages`."""
        self._written.stored.append((message_id, case_id, participants))

    def new_case(self, case_id: int) -> None:
        """Note a case this message opened (it has no participants but the message's own)."""
        self._written.new_cases.append(case_id)

    def auto_reply(self, address: str, case_id: int | None, at: datetime) -> None:
        """Note an automatic reply queued to an address."""
        self._written.auto_replies.append((address, case_id, at))

    def defer_reply(self, reply: DeferredReply) -> None:
        """Hold an automatic reply back until the end of the batch (noted with `auto_reply` as well)."""
        self._written.replies.append(reply)

    def held_replies(self, address: str, case_id: int | None) -> tuple[list[datetime], list[datetime]]:
        """Return when replies held back (not yet in the database) went to an address and on a case."""
        held = [*self._batch._replies, *self._written.replies]
        return (
            [reply.now for reply in held if reply.to == address],
            [reply.now for reply in held if case_id is not None and reply.case_id == case_id],
        )

    def suppressed(self, address: str) -> None:
        """Note an address suppressed after a permanent failure."""
        self._written.suppressed.append(address)

    def keep(self) -> None:
        """Add what the message wrote to the batch's answers: its savepoint or transaction succeeded."""
        self._batch._keep(self._written)
        self._written = _Written()

    def forget(self) -> None:
        """Stop answering for the whole batch: this message was written in a way its notes do not follow."""
        self._batch._stale = True
        self._written = _Written()
