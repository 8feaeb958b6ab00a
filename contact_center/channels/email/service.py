"""Changes the email channel makes on request: an agent's reply, reprocessing kept mail; and its figures.

`do_send_email_reply` writes the reply to the outbox (with its Message-ID in `email_sent`) and to the case's
timeline in the caller's transaction, so either both exist or neither does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.channels.base import SentMessage
from contact_center.channels.email.bounces import is_suppressed
from contact_center.channels.email.intake import (
    EmailIntake,
    IntakeOutcome,
    IntakeResult,
    do_queue_email,
    take_in_message,
)
from contact_center.channels.email.templates import load_catalogue
from contact_center.db import Database
from contact_center.dispatch import ContactRouter
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.models import Case, Channel, Contact, Customer, EmailAutoReply, IdentityKind, Queue
from contact_center.models.email import EmailUnprocessable, SentEmail, StoredEmail
from contact_center.services.cases import do_record_message
from contact_center.services.customers import latest_address
from email_response.analytics import CaseTimes, DailyFigures, email_figures
from email_response.autoreply import reply_subject
from email_response.catalogue import TemplateCatalogue
from email_response.parsing import Unprocessable, parse_message
from email_response.templates import TemplateError, render_reply

__all__ = ["EmailReply", "SentReply", "do_reprocess_unprocessable", "do_send_email_reply", "email_analytics"]


@dataclass(frozen=True)
class EmailReply:
    """What an agent asked to send: free text, a template, or a template around free text."""

    text: str | None = None
    template: str | None = None
    language: str | None = None
    subject: str | None = None  # instead of "Re: <the case's subject> [CS-000123]" (or the template's)


@dataclass(frozen=True)
class SentReply(SentMessage):
    """A sent message with what threads it: its Message-ID and subject."""

    message_id: str
    subject: str


async def do_send_email_reply(
    session: AsyncSession,
    case: Case,
    reply: EmailReply,
    actor: Actor,
    now: datetime,
    *,
    smtp_from: str,
    catalogue: TemplateCatalogue | None = None,
) -> SentReply:
    """Queue an agent's email on a case, threaded under the case's mail; record it on the timeline."""
    text = (reply.text or "").strip()
    if not text and not reply.template:
        raise InvalidInput("give the reply's text or a template", field="text")
    if case.id is None:
        raise NotFound("the case does not exist", resource="case")
    to = await _recipient(session, case)
    if to is None:
        raise InvalidInput(f"{case.number} has no email address to reply to", field="case_id")
    if await is_suppressed(session, to):
        raise Conflict(f"{to} is suppressed after a permanent delivery failure", address=to)
    inbound, ours = await _thread_ids(session, case.id)
    subject = reply_subject(case.subject, case.id)
    body = text
    if reply.template:
        language = reply.language or case.language
        entry = (await load_catalogue(session, catalogue)).choose(
            reply.template, language=language, category=case.category
        )
        if entry is None:
            raise NotFound(f"no email template {reply.template!r}", resource="email-template")
        customer = await session.get(Customer, case.customer_id)
        context = {
            "subject": subject,
            "case_number": case.number,
            "case": {"number": case.number, "subject": case.subject, "status": case.status.value},
            "customer": {"name": customer.name if customer else ""},
            "agent": {"name": actor.name or ""},
            "text": text,
        }
        try:
            rendered = render_reply(entry.template, context)
        except TemplateError as exc:
            raise InvalidInput(f"the template cannot be rendered: {exc}", field="template") from None
        subject, body = rendered.subject or subject, rendered.text
    subject = (reply.subject or "").strip() or subject
    headers: dict[str, str] = {}
    if inbound:
        # RFC 5322 §3.6.4: reply to the customer's latest message; References carry the whole thread.
        headers["In-Reply-To"] = inbound[-1][1]
    # At the same instant the customer's message comes before our answer to it.
    timed = [(at, 0, n, mid) for n, (at, mid) in enumerate(inbound)] + [
        (at, 1, n, mid) for n, (at, mid) in enumerate(ours)
    ]
    thread = [message_id for *_, message_id in sorted(timed)]
    if thread:
        headers["References"] = " ".join(thread[:1] + thread[-19:] if len(thread) > 20 else thread)
    domain = parseaddr(smtp_from)[1].rpartition("@")[2] or "localhost"
    outbox_id, message_id = await do_queue_email(
        session,
        to=to,
        case_id=case.id,
        subject=subject,
        text=body,
        headers=headers,
        kind="reply",
        domain=domain,
        now=now,
    )
    event = await do_record_message(
        session,
        case,
        inbound=False,
        body=body,
        actor=actor,
        now=now,
        data={
            "channel": Channel.EMAIL.value,
            "outbox_id": outbox_id,
            "to": to,
            "message_id": message_id,
            "subject": subject,
            **({"template": reply.template} if reply.template else {}),
        },
    )
    return SentReply(outbox_id=outbox_id, message_id=message_id, to=to, subject=subject, event=event)


async def _recipient(session: AsyncSession, case: Case) -> str | None:
    """Return who a reply goes to: the sender of the case's latest mail, else the customer's email address."""
    latest = (
        await session.scalars(
            select(StoredEmail.sender)
            .where(
                StoredEmail.case_id == case.id,
                col(StoredEmail.sender).is_not(None),
                col(StoredEmail.thread_reason).is_distinct_from("bounce"),
            )
            .order_by(col(StoredEmail.received_at).desc(), col(StoredEmail.id).desc())
            .limit(1)
        )
    ).first()
    if latest:
        return str(latest)
    return await latest_address(session, case.customer_id, IdentityKind.EMAIL)


async def _thread_ids(
    session: AsyncSession, case_id: int
) -> tuple[list[tuple[datetime, str]], list[tuple[datetime, str]]]:
    """Return (when, Message-ID) of the case's inbound mail and of what we sent on it, oldest first."""
    inbound = await session.execute(
        select(StoredEmail.received_at, StoredEmail.message_id)
        .where(StoredEmail.case_id == case_id, col(StoredEmail.thread_reason).is_distinct_from("bounce"))
        .order_by(col(StoredEmail.received_at), col(StoredEmail.id))
    )
    ours = await session.execute(
        select(SentEmail.created_at, SentEmail.message_id)
        .where(SentEmail.case_id == case_id)
        .order_by(col(SentEmail.created_at), col(SentEmail.id))
    )
    return [(at, mid) for at, mid in inbound.all()], [(at, mid) for at, mid in ours.all()]


async def do_reprocess_unprocessable(
    db: Database,
    unprocessable_id: int,
    now: datetime,
    *,
    router: ContactRouter | None,
    smtp_from: str,
    region: str = "US",
    intake: EmailIntake | None = None,
) -> IntakeResult:
    """Run a kept message through intake again (after a fix); raise Conflict when it still cannot be read."""
    async with db.transaction() as session:
        kept = await session.get(EmailUnprocessable, unprocessable_id)
        if kept is None:
            raise NotFound(f"unprocessable email {unprocessable_id} does not exist", resource="email")
        if kept.reprocessed_at is not None:
            raise Conflict(f"unprocessable email {unprocessable_id} was reprocessed already")
        raw, source = kept.raw, kept.source
    limits = (intake or EmailIntake()).limits
    parsed = parse_message(
        raw, max_attachment_bytes=limits.max_attachment_bytes, max_message_bytes=limits.max_message_bytes
    )
    if isinstance(parsed, Unprocessable):
        async with db.transaction() as session:
            kept = await session.get(EmailUnprocessable, unprocessable_id)
            if kept is not None:
                kept.reason = parsed.reason
        raise Conflict(f"the message still cannot be read: {parsed.reason}", reason=parsed.reason)
    result = await take_in_message(
        db,
        raw,
        now,
        router=router,
        auto_reply=source != "import",
        smtp_from=smtp_from,
        region=region,
        source=source,
        intake=intake,
    )
    # Kept again (by the same Message-ID: a duplicate carrying the reason): it still cannot become a contact.
    still_kept = result.outcome is IntakeOutcome.UNPROCESSABLE or (
        result.outcome is IntakeOutcome.DUPLICATE and result.reason is not None
    )
    async with db.transaction() as session:
        kept = await session.get(EmailUnprocessable, unprocessable_id)
        if kept is not None and not still_kept:
            kept.reprocessed_at = now
    if still_kept:
        raise Conflict(f"the message still cannot be taken in: {result.reason}", reason=result.reason)
    return result


async def email_analytics(session: AsyncSession, since: datetime, until: datetime) -> list[DailyFigures]:
    """Return the email figures per day and queue for cases and messages between two instants."""
    queues = {row.id: row.name for row in (await session.scalars(select(Queue))).all()}
    inbound = await session.execute(
        select(StoredEmail.received_at, Contact.queue_id, Case.queue_id)
        .join(Contact, col(Contact.id) == StoredEmail.contact_id, isouter=True)
        .join(Case, col(Case.id) == StoredEmail.case_id, isouter=True)
        .where(StoredEmail.received_at >= since, StoredEmail.received_at < until)
        .where(col(StoredEmail.thread_reason).is_distinct_from("bounce"))
    )
    replies = await session.execute(
        select(EmailAutoReply.created_at, Case.queue_id)
        .join(Case, col(Case.id) == EmailAutoReply.case_id, isouter=True)
        .where(EmailAutoReply.created_at >= since, EmailAutoReply.created_at < until)
    )
    cases = await session.scalars(
        select(Case).where(Case.channel == Channel.EMAIL, Case.created_at >= since, Case.created_at < until)
    )
    return email_figures(
        inbound=[(at, queues.get(contact_queue or case_queue)) for at, contact_queue, case_queue in inbound.all()],
        auto_replies=[(at, queues.get(queue)) for at, queue in replies.all()],
        cases=[
            CaseTimes(case.created_at, queues.get(case.queue_id), case.first_responded_at, case.resolved_at)
            for case in cases.all()
        ],
    )
