"""Email over HTTP: agents' replies, spell checking, reply templates, unprocessable mail, suppressions, figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select

from contact_center.channels.email.intake import IntakeOutcome
from contact_center.channels.email.service import (
    EmailReply,
    do_reprocess_unprocessable,
    do_send_email_reply,
    email_analytics,
)
from contact_center.channels.email.templates import do_delete_template, do_save_template, load_catalogue
from contact_center.errors import InvalidInput, NotFound
from contact_center.models.email import EmailSuppression, EmailUnprocessable
from contact_center.services.cases import get_case
from contact_center.web.api.params import Out, Page, acting_user, now, path_id
from contact_center.web.auth import ADMINS, AGENTS, SUPERVISORS
from contact_center.web.keys import DATABASE, ROUTER, SETTINGS
from contact_center.web.router import ApiRouter
from email_response.analytics import DailyFigures, Durations
from email_response.catalogue import TemplateKey
from email_response.spelling import UnknownLanguage, check_spelling

__all__ = ["router"]

router = ApiRouter("email")

_MAX_DAYS = 366


class EmailReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=100_000)
    template: str | None = Field(default=None, min_length=1, max_length=80)
    language: str | None = Field(default=None, min_length=2, max_length=16)

    @model_validator(mode="after")
    def _text_or_template(self) -> EmailReplyIn:
        if not (self.text or "").strip() and not self.template:
            raise ValueError("give text or template")
        return self


class EmailReplyOut(BaseModel):
    outbox_id: int
    message_id: str
    to: str
    subject: str


class SpellcheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)
    language: str = Field(min_length=2, max_length=16)


class MisspeltOut(BaseModel):
    word: str
    start: int
    end: int
    suggestions: list[str]


class SpellcheckOut(BaseModel):
    misspelt: list[MisspeltOut]


class TemplateOut(BaseModel):
    name: str
    language: str
    category: str | None
    source: Literal["file", "database"]
    subject: str
    text: str
    html: str | None


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, max_length=80)
    subject: str = Field(min_length=1, max_length=2_000)
    text: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(default=None, max_length=200_000)


class TemplateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, max_length=80)


class UnprocessableOut(Out):
    id: int
    message_id: str
    reason: str
    size: int
    source: str
    received_at: datetime
    reprocessed_at: datetime | None


class UnprocessableQuery(Page):
    pending: bool = True


class ReprocessOut(BaseModel):
    outcome: IntakeOutcome
    message_id: str
    case_id: int | None


class SuppressionOut(Out):
    id: int
    address: str
    reason: str
    created_at: datetime


class DurationsOut(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class DailyOut(BaseModel):
    day: date
    queue: str
    emails_in: int
    auto_replies: int
    cases_opened: int
    open_cases: int
    first_response: DurationsOut
    resolution: DurationsOut

    @classmethod
    def of(cls, figures: DailyFigures) -> DailyOut:
        """Read one day's figures."""

        def durations(value: Durations) -> DurationsOut:
            return DurationsOut(count=value.count, median_seconds=value.median, p90_seconds=value.p90)

        return cls(
            day=figures.day,
            queue=figures.queue,
            emails_in=figures.emails_in,
            auto_replies=figures.auto_replies,
            cases_opened=figures.cases_opened,
            open_cases=figures.open_cases,
            first_response=durations(figures.first_response),
            resolution=durations(figures.resolution),
        )


class AnalyticsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: date | None = Field(default=None, description="first day (UTC); default: 30 days ago")
    until: date | None = Field(default=None, description="last day (UTC), included; default: today")


@router.route(
    "POST",
    "/api/v1/cases/{case_id}/email-replies",
    summary="Reply to a case's customer by email, with free text or a template",
    roles=AGENTS,
    body=EmailReplyIn,
    response=EmailReplyOut,
    status=201,
)
async def send_reply(request: web.Request, body: EmailReplyIn) -> EmailReplyOut:
    _, actor = await acting_user(request)
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, request.match_info["case_id"], for_update=True)
        sent = await do_send_email_reply(
            session,
            case,
            EmailReply(text=body.text, template=body.template, language=body.language),
            actor,
            now(request),
            smtp_from=settings.smtp_from,
        )
    return EmailReplyOut(outbox_id=sent.outbox_id, message_id=sent.message_id, to=sent.to, subject=sent.subject)


@router.route(
    "POST",
    "/api/v1/spellcheck",
    summary="Flag misspelt words of a text in a language",
    roles=AGENTS,
    body=SpellcheckIn,
    response=SpellcheckOut,
)
async def spellcheck(request: web.Request, body: SpellcheckIn) -> SpellcheckOut:
    try:
        # Loading a dictionary and ranking suggestions is CPU work: off the event loop.
        found = await asyncio.to_thread(check_spelling, body.text, body.language)
    except UnknownLanguage as exc:
        raise InvalidInput(str(exc), field="language") from None
    return SpellcheckOut(
        misspelt=[MisspeltOut(word=m.word, start=m.start, end=m.end, suggestions=list(m.suggestions)) for m in found]
    )


@router.route(
    "GET",
    "/api/v1/email-templates",
    summary="The reply templates: shipped files and admins' overrides",
    roles=AGENTS,
    response=list[TemplateOut],
)
async def list_templates(request: web.Request) -> list[TemplateOut]:
    async with request.app[DATABASE].transaction() as session:
        catalogue = await load_catalogue(session)
    return [
        TemplateOut(
            name=entry.key.name,
            language=entry.key.language,
            category=entry.key.category or None,
            source=entry.source,
            subject=entry.template.subject,
            text=entry.template.text,
            html=entry.template.html,
        )
        for entry in catalogue.listing()
    ]


def _key(request: web.Request, category: str | None) -> TemplateKey:
    name, language = request.match_info["name"], request.match_info["language"].lower()
    for value, what in ((name, "name"), (language, "language")):
        if not value or len(value) > 80 or not all(c.isalnum() or c in "-_" for c in value):
            raise InvalidInput(f"a template {what} is letters, digits, - and _", field=what)
    return TemplateKey(name, language, category or "")


@router.route(
    "PUT",
    "/api/v1/email-templates/{name}/{language}",
    summary="Store an admin's version of a template (checked to compile)",
    roles=ADMINS,
    body=TemplateIn,
    response=TemplateOut,
)
async def save_template(request: web.Request, body: TemplateIn) -> TemplateOut:
    signed_in, _ = await acting_user(request)
    key = _key(request, body.category)
    async with request.app[DATABASE].transaction() as session:
        row = await do_save_template(
            session,
            key,
            subject=body.subject,
            text=body.text,
            html=body.html,
            user_id=signed_in.user.id,
            now=now(request),
        )
        return TemplateOut(
            name=row.name,
            language=row.language,
            category=row.category or None,
            source="database",
            subject=row.subject,
            text=row.text,
            html=row.html,
        )


@router.route(
    "DELETE",
    "/api/v1/email-templates/{name}/{language}",
    summary="Remove an admin's version of a template (the shipped file answers again)",
    roles=ADMINS,
    query=TemplateQuery,
    status=204,
)
async def delete_template(request: web.Request, query: TemplateQuery) -> web.Response:
    key = _key(request, query.category)
    async with request.app[DATABASE].transaction() as session:
        await do_delete_template(session, key)
    return web.Response(status=204)


@router.route(
    "GET",
    "/api/v1/email/unprocessable",
    summary="Mail kept raw because nothing usable could be read from it",
    roles=ADMINS,
    query=UnprocessableQuery,
    response=list[UnprocessableOut],
)
async def list_unprocessable(request: web.Request, query: UnprocessableQuery) -> list[UnprocessableOut]:
    statement = select(EmailUnprocessable)
    if query.pending:
        statement = statement.where(col(EmailUnprocessable.reprocessed_at).is_(None))
    async with request.app[DATABASE].transaction() as session:
        rows = await session.scalars(
            statement.order_by(col(EmailUnprocessable.id).desc()).limit(query.limit).offset(query.offset)
        )
        return [UnprocessableOut.model_validate(row) for row in rows.all()]


@router.route(
    "GET",
    "/api/v1/email/unprocessable/{email_id}/raw",
    summary="The raw bytes of an unprocessable message (message/rfc822, as a download)",
    roles=ADMINS,
)
async def unprocessable_raw(request: web.Request) -> web.Response:
    email_id = path_id(request, "email_id", "email")
    async with request.app[DATABASE].transaction() as session:
        row = await session.get(EmailUnprocessable, email_id)
        if row is None:
            raise NotFound(f"unprocessable email {email_id} does not exist", resource="email")
        raw = row.raw
    # An attachment, never shown inline: the bytes are whatever a stranger sent.
    return web.Response(
        body=raw,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="unprocessable-{email_id}.eml"'},
    )


@router.route(
    "POST",
    "/api/v1/email/unprocessable/{email_id}/reprocess",
    summary="Run an unprocessable message through intake again",
    roles=ADMINS,
    response=ReprocessOut,
)
async def reprocess(request: web.Request) -> ReprocessOut:
    email_id = path_id(request, "email_id", "email")
    settings = request.app[SETTINGS]
    result = await do_reprocess_unprocessable(
        request.app[DATABASE],
        email_id,
        now(request),
        router=request.app[ROUTER],
        smtp_from=settings.smtp_from,
        region=settings.default_phone_region,
    )
    return ReprocessOut(outcome=result.outcome, message_id=result.message_id, case_id=result.case_id)


@router.route(
    "GET",
    "/api/v1/email/suppressions",
    summary="Addresses we no longer send to after a permanent delivery failure",
    roles=SUPERVISORS,
    query=Page,
    response=list[SuppressionOut],
)
async def list_suppressions(request: web.Request, query: Page) -> list[SuppressionOut]:
    async with request.app[DATABASE].transaction() as session:
        rows = await session.scalars(
            select(EmailSuppression).order_by(col(EmailSuppression.id).desc()).limit(query.limit).offset(query.offset)
        )
        return [SuppressionOut.model_validate(row) for row in rows.all()]


@router.route(
    "DELETE",
    "/api/v1/email/suppressions/{suppression_id}",
    summary="Send to a suppressed address again (the customer fixed their mailbox)",
    roles=ADMINS,
    status=204,
)
async def lift_suppression(request: web.Request) -> web.Response:
    suppression_id = path_id(request, "suppression_id", "suppression")
    async with request.app[DATABASE].transaction() as session:
        row = await session.get(EmailSuppression, suppression_id)
        if row is None:
            raise NotFound(f"suppression {suppression_id} does not exist", resource="suppression")
        await session.delete(row)
    return web.Response(status=204)


@router.route(
    "GET",
    "/api/v1/email/analytics",
    summary="Email per day and queue: emails in, auto-replies, first-response and resolution times",
    roles=SUPERVISORS,
    query=AnalyticsQuery,
    response=list[DailyOut],
)
async def analytics(request: web.Request, query: AnalyticsQuery) -> list[DailyOut]:
    today = now(request).astimezone(UTC).date()
    until = query.until or today
    since = query.since or until - timedelta(days=29)
    if since > until:
        raise InvalidInput("since must not be after until", field="since")
    if (until - since).days >= _MAX_DAYS:
        raise InvalidInput(f"ask for at most {_MAX_DAYS} days at a time", field="since")
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    async with request.app[DATABASE].transaction() as session:
        figures = await email_analytics(session, start, end)
    return [DailyOut.of(figure) for figure in figures]
