"""Taking in one inbound message: stored raw, threaded into a case, acknowledged (RFC 3834), routed.

`take_in_message` is what the importer calls for every raw message (the IMAP worker: `do_take_in_batch`). It is
idempotent by Message-ID, so the IMAP reader's at-least-once delivery and a re-run import never make a second
contact. The steps:

1. Parse (`email_response.parsing`); an `Unprocessable` result is stored raw in `email_unprocessable`.
2. A Message-ID already in `email_messages` is a duplicate and changes nothing.
3. An oversize message is stored raw and flagged, and its sender told (when RFC 3834 allows an answer).
4. A delivery report on a message we sent (`email_sent`) is stored on that message's case as a bounce, and a
   permanently failed address suppressed (`bounces`); it makes no contact and gets no answer.
5. Classification (`email_response.classification`, rules from `EMAIL_RULES`): category, skills, priority,
   queue and language for a new case and for its route request.
6. Threading (`email_response.threading`) against stored Message-IDs, ours included, and case participants.
7. The same transaction then records the contact on its case (`do_receive_contacts`, idempotent per Message-ID
   itself), stores the message row and its attachments and, on a new case, the acknowledgement (the
   catalogue's template for the case's language and category) in the outbox with its auto-reply record and its
   Message-ID. One commit: a crash leaves either all of it or none, and the next delivery takes the message in
   again.
8. A route request for an unassigned case, after the commit.

`do_take_in_message` does steps 1-7 in the caller's transaction; `take_in_message` is it in a transaction of its
own. `do_take_in_batch` does them for a whole IMAP batch in the caller's transaction, with the same outcome as
one message after another, but set-based: the contacts of messages that do not depend on each other are received
in one call, and their message rows, attachments and (at the batch's end, `do_queue_deferred_replies`)
acknowledgements are written with one multi-row INSERT per table.

Knowledge-base suggestions: `EmailIntake.suggest`, when set, is awaited for a new case before its
acknowledgement is written, in the same transaction; the articles it returns are listed in the acknowledgement
(the shipped templates loop over `suggestions`). A failing `suggest` is logged and the acknowledgement goes out
without articles.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import insert, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.addresses import normalise_address
from contact_center.channels.email.bounces import find_sent, is_suppressed, record_bounce
from contact_center.channels.email.lookups import BatchLookups, DeferredReply, MessageLookups, storable_id
from contact_center.channels.email.templates import load_catalogue
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, RouteRequest
from contact_center.errors import InvalidInput
from contact_center.models import (
    Case,
    CasePriority,
    Channel,
    EmailAttachment,
    EmailAutoReply,
    EmailUnprocessable,
    IdentityKind,
    OutboxChannel,
    Queue,
    StoredEmail,
)
from contact_center.models.email import SentEmail
from contact_center.services.contacts import ContactIntake, ContactResult, do_receive_contacts
from contact_center.services.outbox import Outbound, do_enqueue, do_enqueue_many
from email_response.autoreply import acknowledgement_headers, auto_reply_allowed
from email_response.catalogue import TemplateCatalogue
from email_response.classification import Classification, Rule, classify
from email_response.composing import make_message_id
from email_response.parsing import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    Attachment,
    ParsedMessage,
    Unprocessable,
    parse_message,
)
from email_response.templates import RenderedReply, ReplyTemplate, TemplateError, render_reply
from email_response.threading import (
    KnownMessage,
    ThreadDecision,
    case_numbers_in,
    case_tag,
    referenced_message_ids,
)
from email_response.threading import thread_message as decide_thread

__all__ = [
    "EmailIntake",
    "IntakeLimits",
    "IntakeOutcome",
    "IntakeResult",
    "Suggest",
    "Suggestion",
    "do_queue_deferred_replies",
    "do_queue_email",
    "do_take_in_batch",
    "do_take_in_message",
    "take_in_message",
]

log = logging.getLogger(__name__)

_OUTBOX_SUBJECT_LENGTH = 300
# Attempts at a message whose transaction lost a race on a unique key (Message-ID, contact, identity).
_ATTEMPTS = 3


class IntakeOutcome(enum.StrEnum):
    NEW_CASE = "new-case"
    THREADED = "threaded"
    DUPLICATE = "duplicate"
    UNPROCESSABLE = "unprocessable"
    OVERSIZE = "oversize"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class IntakeResult:
    """What became of one raw message."""

    outcome: IntakeOutcome
    message_id: str
    case_id: int | None = None
    contact_id: int | None = None
    acknowledged: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class IntakeLimits:
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES


@dataclass(frozen=True)
class Suggestion:
    """A knowledge-base article offered in an acknowledgement."""

    title: str
    url: str


#: (session, subject, text, language) -> the articles to offer; the knowledge base provides it. It reads in the
#: intake's transaction (inside a savepoint), so a batch of messages needs no second connection.
Suggest = Callable[[AsyncSession, str, str, str], Awaitable[Sequence[Suggestion]]]


@dataclass(frozen=True)
class EmailIntake:
    """How a mailbox's messages are classified and answered (the same for every message of the mailbox)."""

    #: Classification rules (`email_response.classification.load_rules`); none: no category, default skills.
    rules: tuple[Rule, ...] = ()
    #: The queue a mailbox's cases go to when no rule names one (`IMAP_MAILBOXES` "Billing=billing").
    queue: str | None = None
    #: The templates before admins' overrides; None: the shipped files.
    catalogue: TemplateCatalogue | None = None
    suggest: Suggest | None = None
    default_language: str = "en"
    limits: IntakeLimits = field(default_factory=IntakeLimits)


_PRIORITIES = {priority.value: priority for priority in CasePriority}


async def take_in_message(
    db: Database,
    raw: bytes,
    now: datetime,
    *,
    router: ContactRouter | None,
    auto_reply: bool,
    smtp_from: str,
    region: str = "US",
    source: str = "imap",
    limits: IntakeLimits | None = None,
    intake: EmailIntake | None = None,
) -> IntakeResult:
    """Store, thread and acknowledge one raw message in one transaction; return what became of it.

    Idempotent by Message-ID. A transaction that loses a race on a unique key (another delivery of the message,
    or a new customer's address) is tried again and then finds the winner's rows.
    """
    for attempt in range(_ATTEMPTS):
        try:
            async with db.transaction() as session:
                result, route = await do_take_in_message(
                    session,
                    raw,
                    now,
                    auto_reply=auto_reply,
                    smtp_from=smtp_from,
                    region=region,
                    source=source,
                    limits=limits,
                    intake=intake,
                )
            break
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    else:  # pragma: no cover - the loop either breaks or raises
        raise AssertionError("unreachable")
    if router is not None and route is not None:
        await router.submit(route)
    return result


async def do_take_in_message(
    session: AsyncSession,
    raw: bytes,
    now: datetime,
    *,
    auto_reply: bool,
    smtp_from: str,
    region: str = "US",
    source: str = "imap",
    limits: IntakeLimits | None = None,
    intake: EmailIntake | None = None,
    lookups: MessageLookups | None = None,
) -> tuple[IntakeResult, RouteRequest | None]:
    """Take one raw message in within the caller's transaction; return the outcome and the route request to
    submit once that transaction committed (None: nothing to route).

    With `lookups` (the IMAP worker's batch, parsed with the same limits) the message reads what the batch
    loaded instead of asking the database; the caller calls `lookups.keep()` once the message is committed or
    its savepoint released.
    """
    intake = intake or EmailIntake()
    limits = limits or intake.limits
    if lookups is not None and not lookups.parses_with(limits.max_attachment_bytes, limits.max_message_bytes):
        lookups.forget()
        lookups = None
    if lookups is not None:
        parsed = lookups.parse(raw)
    else:
        parsed = parse_message(
            raw, max_attachment_bytes=limits.max_attachment_bytes, max_message_bytes=limits.max_message_bytes
        )
    if isinstance(parsed, Unprocessable):
        return await _keep_unprocessable(session, parsed, raw, now, source), None
    message = _message(parsed, raw, smtp_from, source, region, auto_reply, lookups)
    plan = await _plan(session, message, now, intake, limits)
    if isinstance(plan, Unprocessable):
        return await _keep_unprocessable(session, plan, raw, now, source), None
    if isinstance(plan, IntakeResult):
        return plan, None
    [taken] = await _record(session, [(message, plan)], now, intake, keep=False)
    return taken


async def do_take_in_batch(
    session: AsyncSession,
    raws: Sequence[bytes],
    now: datetime,
    *,
    auto_reply: bool,
    smtp_from: str,
    region: str,
    source: str,
    intake: EmailIntake,
    lookups: BatchLookups,
) -> list[tuple[IntakeResult, RouteRequest | None]]:
    """Take a batch of raw messages in within the caller's transaction, as `do_take_in_message` would one after
    another; return each one's outcome and route request, in the order given.

    The batch's contacts are received a wave at a time (`do_receive_contacts`), their message rows, attachments
    and acknowledgements written together: a wave is a run of messages none of which depends on an earlier one
    of the same wave (`_Wave.depends`), so each is planned (duplicate, thread, classification) exactly as it would
    be alone. A delivery report or an oversize message ends the wave and is taken in alone. Any failure raises
    and leaves the caller to undo the batch (its savepoint) and take the messages in one by one. `lookups` must
    be the batch's, loaded with the intake's limits; every message's writes are added to it as it is recorded.
    """
    limits = intake.limits
    if not lookups.parses_with(limits.max_attachment_bytes, limits.max_message_bytes):
        raise ValueError("the batch's lookups were parsed with other limits than the intake's")
    taken: list[tuple[IntakeResult, RouteRequest | None] | None] = [None] * len(raws)
    wave = _Wave()

    async def record() -> None:
        recorded = await _record(session, wave.planned, now, intake, keep=True)
        for index, outcome in zip(wave.indexes, recorded, strict=True):
            taken[index] = outcome
        wave.clear()

    for index, raw in enumerate(raws):
        view = lookups.message()
        parsed = view.parse(raw)
        if isinstance(parsed, Unprocessable):
            taken[index] = await _keep_unprocessable(session, parsed, raw, now, source), None
            continue
        message = _message(parsed, raw, smtp_from, source, region, auto_reply, view)
        if view.is_stored(message.message_id) is True and message.message_id not in wave.ids:
            taken[index] = IntakeResult(IntakeOutcome.DUPLICATE, message.message_id), None
            continue
        alone = parsed.oversize or parsed.delivery_status is not None
        if wave.planned and (alone or wave.depends(message)):
            await record()
        if alone:
            taken[index] = await do_take_in_message(
                session,
                raw,
                now,
                auto_reply=auto_reply,
                smtp_from=smtp_from,
                region=region,
                source=source,
                intake=intake,
                lookups=view,
            )
            view.keep()
            continue
        plan = await _plan(session, message, now, intake, limits)
        if isinstance(plan, Unprocessable):
            taken[index] = await _keep_unprocessable(session, plan, raw, now, source), None
        elif isinstance(plan, IntakeResult):
            taken[index] = plan, None
        else:
            wave.add(index, message, plan)
    if wave.planned:
        await record()
    return [outcome for outcome in taken if outcome is not None]


@dataclass
class _Wave:
    """Messages planned but not yet written, whose contacts are received in one call."""

    indexes: list[int] = field(default_factory=list)
    planned: list[tuple[_Message, _Plan]] = field(default_factory=list)
    #: Their Message-IDs and the cases they thread onto: what a later message's plan could read.
    ids: set[str] = field(default_factory=set)
    cases: set[int] = field(default_factory=set)

    def add(self, index: int, message: _Message, plan: _Plan) -> None:
        self.indexes.append(index)
        self.planned.append((message, plan))
        self.ids.add(message.message_id)
        if plan.decision.case_id is not None:
            self.cases.add(plan.decision.case_id)

    def clear(self) -> None:
        self.indexes, self.planned, self.ids, self.cases = [], [], set(), set()

    def depends(self, message: _Message) -> bool:
        """Return True when the message's plan could read what a message of the wave will write: its Message-ID
        (a duplicate), a reference to it, a case the wave threads onto (its participants), or a case number that
        is not known yet (it could be a case the wave opens)."""
        if message.message_id in self.ids:
            return True
        refs = [storable_id(mid) for mid in referenced_message_ids(message.parsed)]
        if self.ids.intersection(refs):
            return True
        numbers = case_numbers_in(message.parsed.subject)
        loaded = message.lookups.thread_candidates(refs, numbers) if message.lookups is not None else None
        if loaded is None:
            return True
        referenced, members = loaded
        if any(number not in members for number in numbers):
            return True
        return not self.cases.isdisjoint({*referenced.values(), *numbers})


def _message(
    parsed: ParsedMessage,
    raw: bytes,
    smtp_from: str,
    source: str,
    region: str,
    auto_reply: bool,
    lookups: MessageLookups | None,
) -> _Message:
    return _Message(
        parsed=parsed,
        message_id=storable_id(parsed.message_id),
        raw=raw,
        own=frozenset({parseaddr(smtp_from)[1].lower() or smtp_from.lower()}),
        source=source,
        region=region,
        auto_reply=auto_reply,
        lookups=lookups,
    )


@dataclass(frozen=True)
class _Message:
    parsed: ParsedMessage
    message_id: str
    raw: bytes
    own: frozenset[str]
    source: str
    region: str
    auto_reply: bool
    lookups: MessageLookups | None


@dataclass(frozen=True)
class _Plan:
    """Where a message goes, decided from the store before anything of it is written."""

    decision: ThreadDecision
    classified: Classification
    queue_name: str | None
    queue_id: int | None
    sender: str


async def _suggestions(
    session: AsyncSession, intake: EmailIntake, message: _Message, language: str
) -> Sequence[Suggestion]:
    assert intake.suggest is not None
    try:
        # A savepoint: a failing search must not spoil the transaction the message is written in.
        async with session.begin_nested():
            return await intake.suggest(session, message.parsed.subject, message.parsed.text, language)
    except Exception:
        # Suggestions are a courtesy: the acknowledgement (and the case) must not depend on the knowledge base.
        log.exception("email %s: article suggestions failed", message.message_id)
        return ()


async def _plan(
    session: AsyncSession, message: _Message, now: datetime, intake: EmailIntake, limits: IntakeLimits
) -> _Plan | IntakeResult | Unprocessable:
    """Decide a message's fate: a duplicate, oversize or bounce (stored here), no usable sender, or its thread."""
    parsed, message_id, lookups = message.parsed, message.message_id, message.lookups
    stored = lookups.is_stored(message_id) if lookups is not None else None
    if stored if stored is not None else await _stored(session, message_id):
        return IntakeResult(IntakeOutcome.DUPLICATE, message_id)
    if parsed.oversize:
        return await _keep_oversize(session, message, now, limits, intake)
    if parsed.delivery_status is not None:
        sent = await find_sent(session, parsed.delivery_status.original_message_id)
        if sent is not None:
            return await _keep_bounce(session, message, now, sent)
    sender = parsed.sender.address if parsed.sender else (parsed.reply_address or "")
    try:
        valid_sender = normalise_address(IdentityKind.EMAIL, sender) if sender else None
    except InvalidInput:
        valid_sender = None
    if valid_sender is None:
        # No one to make a customer of (no From, or not an address): kept raw for an admin, never dropped.
        reason = f"no usable sender address ({sender!r})" if sender else "no sender address"
        return Unprocessable(reason, message_id, len(message.raw))
    decision = decide_thread(parsed, *await _thread_candidates(session, parsed, message.own, lookups))
    if decision.refused_case_ids:
        log.info("email %s: references to cases %s not followed", message_id, list(decision.refused_case_ids))
    classified = classify(parsed.subject, parsed.text, intake.rules, default_language=intake.default_language)
    queue_name = classified.queue or intake.queue
    queue_id = await _queue_id(session, queue_name, lookups)
    return _Plan(decision, classified, queue_name, queue_id, sender)


async def _record(
    session: AsyncSession,
    wave: Sequence[tuple[_Message, _Plan]],
    now: datetime,
    intake: EmailIntake,
    *,
    keep: bool,
) -> list[tuple[IntakeResult, RouteRequest | None]]:
    """Write planned messages: their contacts on their cases (one call), message rows and attachments (one INSERT
    each), and each new case's acknowledgement, in order; with `keep`, each message's writes are added to its
    lookups once its acknowledgement is decided (the next one's rate limits see it)."""
    contacts = await do_receive_contacts(
        session, [(_contact_intake(message, plan), now) for message, plan in wave], region=wave[0][0].region
    )
    rows: list[dict[str, Any]] = []
    for (message, plan), contact in zip(wave, contacts, strict=True):
        case = contact.case
        participants = sorted(_participants(message.parsed) - message.own)
        if message.lookups is not None:
            # Opened by this very message, so nothing was ever sent on it (a found contact's case may be older).
            if contact.created and not contact.joined_existing_case and case.id is not None:
                message.lookups.new_case(case.id)
            message.lookups.stored(message.message_id, case.id, participants)
        rows.append(
            {
                "message_id": message.message_id,
                "case_id": case.id,
                "contact_id": contact.contact.id,
                "sender": plan.sender or None,
                "participants": participants,
                "subject": message.parsed.subject,
                # A new case is one threading did not choose (a new contact starts one for a customer not on it).
                "thread_reason": plan.decision.reason.value if case.id == plan.decision.case_id else "new-case",
                "size": len(message.raw),
                "oversize": False,
                "source": message.source,
                "raw": message.raw,
                "received_at": now,
            }
        )
    await _store_emails(session, rows, [message.parsed for message, _ in wave])
    recorded = []
    for (message, plan), contact in zip(wave, contacts, strict=True):
        recorded.append(await _answer(session, message, plan, contact, now, intake))
        if keep and message.lookups is not None:
            message.lookups.keep()
    return recorded


def _contact_intake(message: _Message, plan: _Plan) -> ContactIntake:
    parsed, classified = message.parsed, plan.classified
    return ContactIntake(
        channel=Channel.EMAIL,
        external_id=message.message_id,
        address=plan.sender,
        name=(parsed.sender.name or None) if parsed.sender else None,
        subject=parsed.subject or None,
        body=parsed.text or "(empty message)",
        case_id=plan.decision.case_id,
        queue_id=plan.queue_id,
        priority=_PRIORITIES.get(classified.priority or "", CasePriority.NORMAL),
        category=classified.category,
        required_skills=classified.required_skills,
        language=classified.language,
    )


async def _store_emails(session: AsyncSession, rows: list[dict[str, Any]], messages: Sequence[ParsedMessage]) -> None:
    """Insert message rows, and the attachments of those that have some, one statement per table."""
    if not any(msg.attachments for msg in messages):
        await session.execute(insert(StoredEmail), rows)
        return
    found = await session.execute(insert(StoredEmail).returning(col(StoredEmail.message_id), col(StoredEmail.id)), rows)
    ids = {message_id: email_id or 0 for message_id, email_id in found.all()}
    attachments = [
        _attachment_row(ids[row["message_id"]], attachment)
        for row, msg in zip(rows, messages, strict=True)
        for attachment in msg.attachments
    ]
    await session.execute(insert(EmailAttachment), attachments)


async def _answer(
    session: AsyncSession, message: _Message, plan: _Plan, contact: ContactResult, now: datetime, intake: EmailIntake
) -> tuple[IntakeResult, RouteRequest | None]:
    """Acknowledge a recorded message on a new case; return its outcome and route request."""
    parsed, case, contact_id = message.parsed, contact.case, contact.contact.id
    new_case = case.id != plan.decision.case_id
    acknowledged = False
    if new_case and message.auto_reply:
        suggestions: Sequence[Suggestion] = ()
        if intake.suggest is not None:
            suggestions = await _suggestions(session, intake, message, case.language)
        opened_now = contact.created and not contact.joined_existing_case
        acknowledged = await _acknowledge(session, message, case, opened_now, now, intake, suggestions)
    route = None
    if case.assignee_id is None:
        route = RouteRequest(
            contact_id=contact_id or 0,
            case_id=case.id or 0,
            customer_id=case.customer_id,
            channel=Channel.EMAIL,
            queue=plan.queue_name,
            skills=dict(case.required_skills),
            priority=case.priority,
            language=case.language,
            attributes={
                "from": plan.sender,
                "subject": parsed.subject[:200],
                **({"category": case.category} if case.category else {}),
            },
        )
    outcome = IntakeOutcome.NEW_CASE if new_case else IntakeOutcome.THREADED
    result = IntakeResult(outcome, message.message_id, case.id, contact_id, acknowledged, plan.decision.reason.value)
    return result, route


def _participants(msg: ParsedMessage) -> set[str]:
    boxes = [*([msg.sender] if msg.sender else []), *msg.to, *msg.cc, *msg.reply_to]
    return {box.address.lower() for box in boxes if box.address}


async def _stored(session: AsyncSession, message_id: str) -> bool:
    found = await session.scalars(select(StoredEmail.id).where(StoredEmail.message_id == message_id))
    return found.first() is not None


async def _case_participants(session: AsyncSession, case_ids: Collection[int]) -> dict[int, set[str]]:
    """Return, per case, every address on the messages stored for it."""
    if not case_ids:
        return {}
    rows = await session.execute(
        select(StoredEmail.case_id, StoredEmail.participants).where(col(StoredEmail.case_id).in_(list(case_ids)))
    )
    members: dict[int, set[str]] = {}
    for case_id, participants in rows.all():
        if case_id is not None:
            members.setdefault(case_id, set()).update(participants or [])
    return members


async def _thread_candidates(
    session: AsyncSession, msg: ParsedMessage, own: Collection[str], lookups: MessageLookups | None
) -> tuple[dict[str, KnownMessage], dict[int, set[str]]]:
    """Look up the stored messages a message refers to, and the cases its subject names, with participants."""
    ids = [storable_id(mid) for mid in referenced_message_ids(msg)]
    numbers = case_numbers_in(msg.subject)
    loaded = lookups.thread_candidates(ids, numbers) if lookups is not None else None
    if loaded is not None:
        return _candidates(*loaded, numbers, own)
    referenced: dict[str, int] = {}
    if ids:
        rows = await session.execute(
            select(StoredEmail.message_id, StoredEmail.case_id).where(col(StoredEmail.message_id).in_(ids))
        )
        referenced = {mid: case_id for mid, case_id in rows.all() if case_id is not None}
        # Our own messages: a client that keeps only In-Reply-To (our reply's id) still threads.
        ours = await session.execute(
            select(SentEmail.message_id, SentEmail.case_id).where(col(SentEmail.message_id).in_(ids))
        )
        referenced.update({mid: case_id for mid, case_id in ours.all() if case_id is not None})
    members = await _case_participants(session, {*referenced.values(), *numbers})
    return _candidates(referenced, members, numbers, own)


def _candidates(
    referenced: dict[str, int], members: dict[int, set[str]], numbers: Collection[int], own: Collection[str]
) -> tuple[dict[str, KnownMessage], dict[int, set[str]]]:
    known = {mid: KnownMessage(case_id, members.get(case_id, set()) - set(own)) for mid, case_id in referenced.items()}
    cases = {number: members[number] - set(own) for number in numbers if number in members}
    return known, cases


def _attachment_row(email_id: int, attachment: Attachment) -> dict[str, Any]:
    return {
        "email_id": email_id,
        "filename": attachment.filename[:255] if attachment.filename else None,
        "content_type": attachment.content_type[:255],
        "size": attachment.size,
        "too_large": attachment.too_large,
        "inline": attachment.inline,
        "content": None if attachment.too_large else attachment.content,
    }


async def _history(
    session: AsyncSession, *, address: str, case_id: int | None
) -> tuple[list[datetime], list[datetime]]:
    """Return the times of earlier automatic replies to an address and on a case (one query for both)."""
    condition = col(EmailAutoReply.address) == address
    if case_id is not None:
        condition = or_(condition, col(EmailAutoReply.case_id) == case_id)
    rows = await session.execute(
        select(EmailAutoReply.address, EmailAutoReply.case_id, EmailAutoReply.created_at).where(condition)
    )
    sender: list[datetime] = []
    on_case: list[datetime] = []
    for row_address, row_case, created_at in rows.all():
        if row_address == address:
            sender.append(created_at)
        if case_id is not None and row_case == case_id:
            on_case.append(created_at)
    return sender, on_case


async def _acknowledge(
    session: AsyncSession,
    message: _Message,
    case: Case,
    opened_now: bool,
    now: datetime,
    intake: EmailIntake,
    suggestions: Sequence[Suggestion],
) -> bool:
    """Queue the acknowledgement of a new case when RFC 3834 and the rate limits allow one."""
    msg, own, lookups = message.parsed, message.own, message.lookups
    to = msg.reply_address
    if to is None or case.id is None:
        return False
    sender_history, case_history = await _reply_history(session, to, case.id, lookups, opened_now=opened_now)
    verdict = auto_reply_allowed(
        msg, now=now, sender_history=sender_history, case_history=case_history, own_addresses=own
    )
    if not verdict.allowed:
        log.info("email %s: no acknowledgement (%s)", msg.message_id, verdict.reason)
        return False
    if await _suppressed(session, to, lookups):
        log.info("email %s: no acknowledgement (%s is suppressed after a bounce)", msg.message_id, to)
        return False
    entry = (await _catalogue(session, intake, lookups)).choose(
        "acknowledgement", language=case.language, category=case.category
    )
    if entry is None:
        log.warning("email %s: no acknowledgement template; none sent", msg.message_id)
        return False
    headers = acknowledgement_headers(msg, case_id=case.id)
    subject = headers.pop("Subject")
    reply = _render(
        entry.template,
        {
            "subject": subject,
            "case_number": case_tag(case.id).strip("[]"),
            "name": _greeting(msg),
            "suggestions": [{"title": s.title, "url": s.url} for s in suggestions],
        },
        msg.message_id,
    )
    if reply is None:
        return False
    await _queue_auto_reply(
        session, to, case.id, reply.subject, reply.text, headers, "acknowledgement", now, _domain(own), lookups
    )
    return True


def _render(template: ReplyTemplate, context: dict[str, Any], message_id: str) -> RenderedReply | None:
    """Render an automatic answer, or log why not: a broken admin template must not stop mail coming in."""
    try:
        return render_reply(template, context)
    except TemplateError as exc:
        log.error("email %s: no automatic answer, its template failed: %s", message_id, exc)
        return None


async def _reply_history(
    session: AsyncSession, to: str, case_id: int | None, lookups: MessageLookups | None, *, opened_now: bool
) -> tuple[list[datetime], list[datetime]]:
    """Return the times of earlier automatic replies to an address and on a case (None: no case)."""
    loaded = lookups.auto_replies_to(to) if lookups is not None else None
    if loaded is not None and (case_id is None or opened_now):
        # A case this message opened has had no replies yet.
        return loaded, []
    sender, on_case = await _history(session, address=to, case_id=case_id)
    if lookups is not None:
        held_to, held_on = lookups.held_replies(to, case_id)
        sender.extend(held_to)
        on_case.extend(held_on)
    return sender, on_case


async def _suppressed(session: AsyncSession, address: str, lookups: MessageLookups | None) -> bool:
    loaded = lookups.is_suppressed(address) if lookups is not None else None
    return loaded if loaded is not None else await is_suppressed(session, address)


async def _catalogue(session: AsyncSession, intake: EmailIntake, lookups: MessageLookups | None) -> TemplateCatalogue:
    if lookups is not None:
        return await lookups.catalogue(session, intake.catalogue)
    return await load_catalogue(session, intake.catalogue)


def _domain(own: Collection[str]) -> str:
    address = next(iter(own), "")
    return address.rpartition("@")[2] or "localhost"


async def do_queue_email(
    session: AsyncSession,
    *,
    to: str,
    case_id: int | None,
    subject: str,
    text: str,
    headers: dict[str, str],
    kind: str,
    domain: str,
    now: datetime,
) -> tuple[int, str]:
    """Store an email in the outbox with a Message-ID made now, remembered in `email_sent`; return both.

    The id is stored with the message, so every retry sends the same one, replies to it thread into the case,
    and a bounce of it is matched (`bounces.find_sent`).
    """
    outbound, message_id = _outbound_email(to, case_id, subject, text, headers, domain)
    queued = await do_enqueue(session, outbound, now)
    session.add(_sent_email(message_id, queued.id or 0, case_id, to, kind, now))
    return queued.id or 0, message_id


async def do_queue_deferred_replies(session: AsyncSession, replies: Sequence[DeferredReply]) -> None:
    """Write automatic replies a batch held back: the outbox rows, their `email_sent` and their auto-reply
    records, one INSERT per table (ORM objects would be inserted one by one to learn their ids)."""
    if not replies:
        return
    emails = [
        _outbound_email(reply.to, reply.case_id, reply.subject, reply.text, reply.headers, reply.domain)
        for reply in replies
    ]
    # One time for the rows of one statement: every reply of a batch is made at the batch's time anyway.
    outbox_ids = await do_enqueue_many(session, [outbound for outbound, _ in emails], replies[0].now)
    sent = [
        _sent_email(message_id, outbox_id, reply.case_id, reply.to, reply.kind, reply.now)
        for (_, message_id), outbox_id, reply in zip(emails, outbox_ids, replies, strict=True)
    ]
    records = [
        _auto_reply_record(reply.to, reply.case_id, outbox_id, reply.kind, reply.now)
        for outbox_id, reply in zip(outbox_ids, replies, strict=True)
    ]
    await session.execute(insert(SentEmail), [row.model_dump(exclude={"id"}) for row in sent])
    await session.execute(insert(EmailAutoReply), [row.model_dump(exclude={"id"}) for row in records])


def _outbound_email(
    to: str, case_id: int | None, subject: str, text: str, headers: dict[str, str], domain: str
) -> tuple[Outbound, str]:
    message_id = make_message_id(domain)
    outbound = Outbound(
        channel=OutboxChannel.EMAIL,
        to_address=to,
        subject=subject[:_OUTBOX_SUBJECT_LENGTH],
        body=text,
        case_id=case_id,
        headers={**headers, "Message-ID": message_id},
    )
    return outbound, message_id


def _sent_email(message_id: str, outbox_id: int, case_id: int | None, to: str, kind: str, now: datetime) -> SentEmail:
    return SentEmail(
        message_id=message_id,
        outbox_id=outbox_id,
        case_id=case_id,
        to_address=to.lower()[:320],
        kind=kind,
        created_at=now,
    )


def _auto_reply_record(to: str, case_id: int | None, outbox_id: int, kind: str, now: datetime) -> EmailAutoReply:
    return EmailAutoReply(address=to, case_id=case_id, outbox_id=outbox_id, kind=kind, created_at=now)


async def _queue_auto_reply(
    session: AsyncSession,
    to: str,
    case_id: int | None,
    subject: str,
    text: str,
    headers: dict[str, str],
    kind: str,
    now: datetime,
    domain: str,
    lookups: MessageLookups | None,
) -> None:
    if lookups is not None:
        # A batch's replies are written at its end (`do_queue_deferred_replies`).
        lookups.auto_reply(to, case_id, now)
        lookups.defer_reply(DeferredReply(to, case_id, subject, text, headers, kind, domain, now))
        return
    outbox_id, _ = await do_queue_email(
        session,
        to=to,
        case_id=case_id,
        subject=subject,
        text=text,
        headers=headers,
        kind=kind,
        domain=domain,
        now=now,
    )
    session.add(_auto_reply_record(to, case_id, outbox_id, kind, now))


async def _queue_id(session: AsyncSession, name: str | None, lookups: MessageLookups | None) -> int | None:
    if name is None:
        return None
    loaded = lookups.queue_id(name) if lookups is not None else None
    if loaded is not None:
        return loaded[0]
    found = (await session.scalars(select(Queue.id).where(Queue.name == name))).first()
    if lookups is not None:
        lookups.remember_queue(name, found)
    return found


def _greeting(msg: ParsedMessage) -> str:
    if msg.sender and msg.sender.name:
        return msg.sender.name
    return "there"


async def _keep_unprocessable(
    session: AsyncSession, parsed: Unprocessable, raw: bytes, now: datetime, source: str
) -> IntakeResult:
    message_id = storable_id(parsed.message_id)
    found = await session.scalars(select(EmailUnprocessable.id).where(EmailUnprocessable.message_id == message_id))
    if found.first() is not None:
        return IntakeResult(IntakeOutcome.DUPLICATE, message_id, reason=parsed.reason)
    session.add(
        EmailUnprocessable(
            message_id=message_id, reason=parsed.reason, size=len(raw), source=source, raw=raw, received_at=now
        )
    )
    # Flushed here, so a concurrent delivery's IntegrityError comes from this message's own savepoint or attempt.
    await session.flush()
    log.warning("email %s kept as unprocessable: %s", message_id, parsed.reason)
    return IntakeResult(IntakeOutcome.UNPROCESSABLE, message_id, reason=parsed.reason)


async def _keep_oversize(
    session: AsyncSession, message: _Message, now: datetime, limits: IntakeLimits, intake: EmailIntake
) -> IntakeResult:
    """Store a message over the size limit raw and flagged; tell its sender when an automatic answer is allowed."""
    msg, message_id, raw, own, source = message.parsed, message.message_id, message.raw, message.own, message.source
    participants = sorted(_participants(msg) - set(own))
    if message.lookups is not None:
        message.lookups.stored(message_id, None, participants)
    session.add(
        StoredEmail(
            message_id=message_id,
            sender=msg.sender.address if msg.sender else None,
            participants=participants,
            subject=msg.subject,
            size=len(raw),
            oversize=True,
            source=source,
            raw=raw,
            received_at=now,
        )
    )
    await session.flush()
    told = False
    to = msg.reply_address
    if message.auto_reply and to is not None:
        sender_history, _ = await _reply_history(session, to, None, message.lookups, opened_now=False)
        verdict = auto_reply_allowed(msg, now=now, sender_history=sender_history, own_addresses=own)
        language = intake.default_language
        if msg.subject:
            language = classify(msg.subject, "", (), default_language=language).language
        entry = (await _catalogue(session, intake, message.lookups)).choose("oversize", language=language)
        if verdict.allowed and entry is not None and not await _suppressed(session, to, message.lookups):
            headers = acknowledgement_headers(msg, case_id=0)
            del headers["Subject"]
            reply = _render(
                entry.template,
                {
                    "subject": msg.subject or "your message",
                    "name": _greeting(msg),
                    "size_mb": f"{len(raw) / 1_000_000:.1f}",
                    "limit_mb": f"{limits.max_message_bytes / 1_000_000:.0f}",
                },
                message_id,
            )
            if reply is not None:
                await _queue_auto_reply(
                    session,
                    to,
                    None,
                    reply.subject,
                    reply.text,
                    headers,
                    "oversize",
                    now,
                    _domain(own),
                    message.lookups,
                )
                told = True
    log.warning("email %s over the size limit (%d bytes): kept raw", message_id, len(raw))
    return IntakeResult(IntakeOutcome.OVERSIZE, message_id, acknowledged=told, reason="oversize")


async def _keep_bounce(session: AsyncSession, message: _Message, now: datetime, sent: SentEmail) -> IntakeResult:
    """Store a delivery report on the case of the message it reports on; suppress permanently failed addresses."""
    msg, message_id, raw, source = message.parsed, message.message_id, message.raw, message.source
    assert msg.delivery_status is not None
    if message.lookups is not None:
        message.lookups.stored(message_id, sent.case_id, [])
    email = StoredEmail(
        message_id=message_id,
        case_id=sent.case_id,
        sender=msg.sender.address if msg.sender else None,
        participants=[],
        subject=msg.subject,
        thread_reason="bounce",
        size=len(raw),
        source=source,
        raw=raw,
        received_at=now,
    )
    session.add(email)
    await session.flush()
    bounces = await record_bounce(session, email.id or 0, msg.delivery_status, sent, now)
    if message.lookups is not None:
        for bounce in bounces:
            if bounce.permanent:
                message.lookups.suppressed(bounce.recipient)
    log.info("email %s: delivery report on %s (%d failed recipients)", message_id, sent.message_id, len(bounces))
    return IntakeResult(IntakeOutcome.BOUNCE, message_id, sent.case_id, reason="bounce")
