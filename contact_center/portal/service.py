"""What a signed-in customer does with cases: each one through `services/cases.py`, only on their own cases.

Another customer's case is "not found", never "forbidden": a 403 would confirm that the number exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.models import (
    ActorKind,
    Case,
    CaseStatus,
    Customer,
    PortalAttachment,
    PortalDraft,
    SurveyResponse,
    parse_case_number,
)
from contact_center.services.cases import do_change_status, do_record_message

__all__ = [
    "DEFLECTION_GRACE",
    "MAX_ATTACHMENT_BYTES",
    "SurveyReport",
    "Upload",
    "attachments_of",
    "customer_actor",
    "customer_cases",
    "do_close_case",
    "do_open_draft",
    "do_record_article_opened",
    "do_reopen_case",
    "do_reply",
    "do_submit_survey",
    "draft_for",
    "owned_case",
    "survey_report",
]


def customer_actor(customer: Customer) -> Actor:
    """Return the actor a customer's own changes are recorded under."""
    return Actor(ActorKind.CUSTOMER, customer.id, customer.name)


async def customer_cases(session: AsyncSession, customer: Customer) -> list[Case]:
    """Return the customer's cases, newest first (merged ones point at the case that continues)."""
    rows = await session.scalars(
        select(Case)
        .where(Case.customer_id == customer.id, col(Case.merged_into_id).is_(None))
        .order_by(col(Case.id).desc())
        .limit(200)
    )
    return list(rows.all())


async def owned_case(session: AsyncSession, customer: Customer, ref: str, *, for_update: bool = False) -> Case:
    """Return the customer's case by number or id; anyone else's is NotFound, exactly like a missing one."""
    case_id = parse_case_number(ref)
    case = None
    if case_id is not None:
        query = select(Case).where(Case.id == case_id, Case.customer_id == customer.id)
        case = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if case is None:
        raise NotFound(f"case {ref} does not exist", resource="case")
    return case


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    content: bytes


# Types a browser may show inline; anything else is stored as opaque bytes and always downloaded.
SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})
MAX_ATTACHMENT_BYTES = 1_500_000


async def do_reply(
    session: AsyncSession, customer: Customer, case: Case, body: str, now: datetime, upload: Upload | None = None
) -> None:
    """Add the customer's message (and a file) to the case; a resolved or closed case opens again."""
    text = body.strip()
    if not text and upload is None:
        raise InvalidInput("write a message first", field="body")
    if upload is not None and not upload.content:
        raise InvalidInput("the attached file is empty", field="file")
    if upload is not None and len(upload.content) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput("attach files of at most 1.5 MB", field="file")
    filename = (upload.filename.replace("/", "_").replace("\\", "_").strip() or "file")[:255] if upload else None
    event = await do_record_message(
        session,
        case,
        inbound=True,
        body=text or f"[{filename}]",
        actor=customer_actor(customer),
        now=now,
        data={"attachment": filename} if filename else None,
    )
    if upload is not None and filename is not None:
        attachment = PortalAttachment(
            case_id=case.id or 0,
            event_id=event.id or 0,
            filename=filename,
            content_type=upload.content_type if upload.content_type in SAFE_TYPES else "application/octet-stream",
            size=len(upload.content),
            content=upload.content,
            created_at=now,
        )
        session.add(attachment)
        await session.flush()
        event.data = {"attachment": filename, "attachment_id": attachment.id}


async def attachments_of(session: AsyncSession, case: Case) -> dict[int, PortalAttachment]:
    """Return the case's portal attachments by the id of the event they came with (without their content)."""
    rows = await session.scalars(select(PortalAttachment).where(PortalAttachment.case_id == case.id))
    return {row.event_id: row for row in rows.all()}


async def do_close_case(session: AsyncSession, customer: Customer, case: Case, now: datetime) -> None:
    """Close the case at the customer's request."""
    if case.status is CaseStatus.CLOSED:
        return
    await do_change_status(session, case, CaseStatus.CLOSED, customer_actor(customer), now, note="closed by customer")


async def do_reopen_case(session: AsyncSession, customer: Customer, case: Case, now: datetime) -> None:
    """Open a resolved or closed case again."""
    if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise Conflict("only a resolved or closed case can be reopened")
    await do_change_status(session, case, CaseStatus.OPEN, customer_actor(customer), now, note="reopened by customer")


async def do_open_draft(session: AsyncSession, customer: Customer, now: datetime) -> PortalDraft:
    """Start a new-case form; its token ties opened articles and the submitted case together."""
    draft = PortalDraft(token=secrets.token_urlsafe(24), customer_id=customer.id or 0, created_at=now)
    session.add(draft)
    await session.flush()
    return draft


async def do_record_article_opened(
    session: AsyncSession, customer: Customer, token: str, article_id: int, now: datetime
) -> None:
    """Note that a suggested article was opened from a new-case form (the first one counts)."""
    draft = (
        await session.scalars(
            select(PortalDraft).where(PortalDraft.token == token, PortalDraft.customer_id == customer.id)
        )
    ).first()
    if draft is not None and draft.opened_at is None:
        draft.opened_article_id = article_id
        draft.opened_at = now


async def draft_for(session: AsyncSession, customer: Customer, token: str) -> PortalDraft | None:
    """Return the customer's draft with this token."""
    return (
        await session.scalars(
            select(PortalDraft).where(PortalDraft.token == token, PortalDraft.customer_id == customer.id)
        )
    ).first()


async def do_submit_survey(
    session: AsyncSession, customer: Customer, case: Case, score: int, comment: str | None, now: datetime
) -> SurveyResponse:
    """Record the satisfaction answer for a resolved or closed case, once."""
    if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise Conflict("the survey opens once the case is resolved")
    if not 1 <= score <= 5:
        raise InvalidInput("choose a score from 1 to 5", field="score")
    existing = (await session.scalars(select(SurveyResponse).where(SurveyResponse.case_id == case.id))).first()
    if existing is not None:
        raise Conflict("this case's survey was answered already")
    response = SurveyResponse(
        case_id=case.id or 0,
        customer_id=customer.id or 0,
        score=score,
        comment=(comment or "").strip()[:2000] or None,
        created_at=now,
    )
    session.add(response)
    await session.flush()
    return response


# A customer still reading the article may come back and submit: only a form left this long counts as deflected.
DEFLECTION_GRACE = timedelta(minutes=30)


@dataclass(frozen=True)
class SurveyReport:
    responses: int
    average_score: float | None
    scores: dict[int, int]
    satisfied_share: float | None  # answers of 4 or 5
    drafts: int
    deflected: int  # drafts where a suggested article was opened and no case followed within the grace time
    cases_from_portal: int


async def survey_report(session: AsyncSession, since: datetime, until: datetime) -> SurveyReport:
    """Summarise satisfaction answers and new-case deflection from `since` up to and including `until`."""
    rows = (
        await session.execute(
            select(SurveyResponse.score, func.count())
            .where(col(SurveyResponse.created_at) >= since, col(SurveyResponse.created_at) <= until)
            .group_by(col(SurveyResponse.score))
        )
    ).all()
    scores = {int(score): int(count) for score, count in rows}
    total = sum(scores.values())
    in_window = (col(PortalDraft.created_at) >= since, col(PortalDraft.created_at) <= until)
    drafts = await session.scalar(select(func.count()).select_from(PortalDraft).where(*in_window))
    deflected = await session.scalar(
        select(func.count())
        .select_from(PortalDraft)
        .where(
            *in_window,
            col(PortalDraft.opened_at) <= until - DEFLECTION_GRACE,
            col(PortalDraft.case_id).is_(None),
        )
    )
    submitted = await session.scalar(
        select(func.count()).select_from(PortalDraft).where(*in_window, col(PortalDraft.case_id).is_not(None))
    )
    return SurveyReport(
        responses=total,
        average_score=round(sum(s * n for s, n in scores.items()) / total, 2) if total else None,
        scores={score: scores.get(score, 0) for score in range(1, 6)},
        satisfied_share=round((scores.get(4, 0) + scores.get(5, 0)) / total, 3) if total else None,
        drafts=int(drafts or 0),
        deflected=int(deflected or 0),
        cases_from_portal=int(submitted or 0),
    )
