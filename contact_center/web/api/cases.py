"""Cases, their timelines, notes, replies, status changes and merges over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from contact_center.channels.replies import send_reply
from contact_center.models import (
    ActorKind,
    Case,
    CasePriority,
    CaseStatus,
    Channel,
    EventKind,
    OutboxChannel,
)
from contact_center.services.cases import (
    CaseChanges,
    NewCase,
    do_add_note,
    do_assign_case,
    do_change_status,
    do_create_case,
    do_merge_cases,
    do_update_case,
    get_case,
    timeline,
)
from contact_center.web.api.params import Out, Page, acting_user, now
from contact_center.web.auth import AGENTS
from contact_center.web.keys import DATABASE, SETTINGS
from contact_center.web.router import ApiRouter

__all__ = ["CaseOut", "EventOut", "router"]

router = ApiRouter("cases")

Skills = dict[str, int]


class CaseOut(Out):
    id: int
    number: str
    customer_id: int
    subject: str
    status: CaseStatus
    priority: CasePriority
    channel: Channel
    category: str | None
    required_skills: Skills
    language: str
    assignee_id: int | None
    team_id: int | None
    queue_id: int | None
    sla_policy_id: int | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_paused: bool
    first_response_breached: bool
    resolution_breached: bool
    duplicate_of_id: int | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_case(cls, case: Case) -> CaseOut:
        """Read a case row, adding its number and whether its SLA clock is paused."""
        return cls.model_validate(
            {**case.model_dump(), "number": case.number, "sla_paused": case.sla_paused_since is not None}
        )


class EventOut(Out):
    id: int
    case_id: int
    kind: EventKind
    actor_kind: ActorKind
    actor_id: int | None
    actor_name: str | None
    contact_id: int | None
    body: str | None
    data: dict[str, Any]
    public: bool
    created_at: datetime


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int
    subject: str = Field(min_length=1, max_length=300)
    channel: Channel = Channel.WEB
    priority: CasePriority = CasePriority.NORMAL
    category: str | None = Field(default=None, max_length=80)
    required_skills: dict[str, int] = Field(default_factory=dict)
    language: str | None = Field(default=None, max_length=16)
    queue_id: int | None = None
    team_id: int | None = None


class CasePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=300)
    priority: CasePriority | None = None
    category: str | None = Field(default=None, max_length=80)
    required_skills: dict[str, int] | None = None
    language: str | None = Field(default=None, max_length=16)
    queue_id: int | None = None
    team_id: int | None = None


class CaseQuery(Page):
    status: CaseStatus | None = None
    customer_id: int | None = None
    assignee_id: int | None = None
    queue_id: int | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CaseStatus
    note: str | None = Field(default=None, max_length=10_000)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: int | None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000)
    public: bool = False


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: OutboxChannel
    body: str = Field(min_length=1, max_length=100_000)
    subject: str | None = Field(default=None, max_length=300)


class ReplyOut(BaseModel):
    event: EventOut
    outbox_id: int
    to_address: str


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: str = Field(min_length=1, max_length=20, description="the id or number of the case that continues")


def _ref(request: web.Request) -> str:
    return request.match_info["case_ref"]


@router.route(
    "GET", "/api/v1/cases", summary="List cases, newest first", roles=AGENTS, query=CaseQuery, response=list[CaseOut]
)
async def list_cases(request: web.Request, query: CaseQuery) -> list[CaseOut]:
    statement = select(Case)
    for column, value in (
        (Case.status, query.status),
        (Case.customer_id, query.customer_id),
        (Case.assignee_id, query.assignee_id),
        (Case.queue_id, query.queue_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    async with request.app[DATABASE].transaction() as session:
        rows = await session.scalars(statement.order_by(col(Case.id).desc()).limit(query.limit).offset(query.offset))
        return [CaseOut.from_case(case) for case in rows.all()]


@router.route("POST", "/api/v1/cases", summary="Open a case", roles=AGENTS, body=CaseIn, response=CaseOut, status=201)
async def create_case(request: web.Request, body: CaseIn) -> CaseOut:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        case = await do_create_case(session, NewCase(**body.model_dump()), actor, now(request))
        return CaseOut.from_case(case)


@router.route(
    "GET", "/api/v1/cases/{case_ref}", summary="A case by id or number (CS-000123)", roles=AGENTS, response=CaseOut
)
async def read_case(request: web.Request) -> CaseOut:
    async with request.app[DATABASE].transaction() as session:
        return CaseOut.from_case(await get_case(session, _ref(request)))


@router.route(
    "PATCH",
    "/api/v1/cases/{case_ref}",
    summary="Change a case's fields",
    roles=AGENTS,
    body=CasePatch,
    response=CaseOut,
)
async def update_case(request: web.Request, body: CasePatch) -> CaseOut:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, _ref(request), for_update=True)
        await do_update_case(session, case, CaseChanges(**body.model_dump(exclude_unset=True)), actor, now(request))
        return CaseOut.from_case(case)


@router.route(
    "POST",
    "/api/v1/cases/{case_ref}/status",
    summary="Move a case to another status",
    roles=AGENTS,
    body=StatusIn,
    response=CaseOut,
)
async def change_status(request: web.Request, body: StatusIn) -> CaseOut:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, _ref(request), for_update=True)
        await do_change_status(session, case, body.status, actor, now(request), note=body.note)
        return CaseOut.from_case(case)


@router.route(
    "POST",
    "/api/v1/cases/{case_ref}/assignee",
    summary="Assign a case to an agent (null: unassign)",
    roles=AGENTS,
    body=AssignIn,
    response=CaseOut,
)
async def assign_case(request: web.Request, body: AssignIn) -> CaseOut:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, _ref(request), for_update=True)
        await do_assign_case(session, case, body.agent_id, actor, now(request))
        return CaseOut.from_case(case)


@router.route(
    "GET",
    "/api/v1/cases/{case_ref}/timeline",
    summary="A case's history, oldest first",
    roles=AGENTS,
    response=list[EventOut],
)
async def case_timeline(request: web.Request) -> list[Any]:
    async with request.app[DATABASE].transaction() as session:
        return await timeline(session, await get_case(session, _ref(request)))


@router.route(
    "POST",
    "/api/v1/cases/{case_ref}/notes",
    summary="Add a note",
    roles=AGENTS,
    body=NoteIn,
    response=EventOut,
    status=201,
)
async def add_note(request: web.Request, body: NoteIn) -> Any:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, _ref(request), for_update=True)
        return await do_add_note(session, case, body.body, actor, now(request), public=body.public)


@router.route(
    "POST",
    "/api/v1/cases/{case_ref}/replies",
    summary="Reply to the customer by email or SMS",
    roles=AGENTS,
    body=ReplyIn,
    response=ReplyOut,
    status=201,
)
async def reply(request: web.Request, body: ReplyIn) -> ReplyOut:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, _ref(request), for_update=True)
        sent = await send_reply(
            session,
            case,
            body.channel,
            body.body,
            actor,
            now(request),
            smtp_from=request.app[SETTINGS].smtp_from,
            subject=body.subject,
        )
    return ReplyOut(event=EventOut.model_validate(sent.event), outbox_id=sent.outbox_id, to_address=sent.to)


@router.route(
    "POST",
    "/api/v1/cases/{case_ref}/merge",
    summary="Merge this (duplicate) case into another",
    roles=AGENTS,
    body=MergeIn,
    response=CaseOut,
)
async def merge_case(request: web.Request, body: MergeIn) -> CaseOut:
    _, actor = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        source = await get_case(session, _ref(request), for_update=True)
        target = await get_case(session, body.into, for_update=True)
        await do_merge_cases(session, source, target, actor, now(request))
        return CaseOut.from_case(target)
