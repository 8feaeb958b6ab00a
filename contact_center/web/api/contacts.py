"""Contact intake over HTTP: what channel integrations call when an interaction arrives."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contact_center.dispatch import RouteRequest
from contact_center.errors import NotFound
from contact_center.models import CasePriority, Channel, Contact, Direction, Queue
from contact_center.services.contacts import ContactIntake, ContactTimes, do_update_contact
from contact_center.web.api.cases import CaseOut
from contact_center.web.api.params import Out, now, path_id
from contact_center.web.auth import AGENTS
from contact_center.web.keys import DATABASE, INTAKE, ROUTER
from contact_center.web.router import ApiRouter

__all__ = ["router"]

router = ApiRouter("contacts")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: str = Field(min_length=1, max_length=255, description="CallSid, MessageSid, Message-ID or chat id")
    address: str = Field(min_length=1, max_length=320, description="the customer's phone, email or chat id")
    direction: Direction = Direction.INBOUND
    name: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=1_000_000)
    thread_key: str | None = Field(default=None, max_length=255)
    case_id: int | None = None
    queue_id: int | None = None
    priority: CasePriority = CasePriority.NORMAL
    category: str | None = Field(default=None, max_length=80)
    required_skills: dict[str, int] = Field(default_factory=dict)
    language: str | None = Field(default=None, max_length=16)
    route: bool = Field(default=True, description="queue an inbound contact for an agent")


class ContactOut(Out):
    id: int
    case_id: int
    customer_id: int
    channel: Channel
    direction: Direction
    external_id: str
    address: str | None
    thread_key: str | None
    queue_id: int | None
    agent_id: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    handle_seconds: float | None
    disposition: str | None


class ContactReceived(BaseModel):
    contact: ContactOut
    case: CaseOut
    created: bool
    joined_existing_case: bool


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue_id: int | None = None
    agent_id: int | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    disposition: str | None = Field(default=None, max_length=80)


@router.route(
    "POST",
    "/api/v1/contacts",
    summary="Take in a contact; the same external id returns the first one",
    roles=AGENTS,
    body=ContactIn,
    response=ContactReceived,
    status=201,
)
async def receive(request: web.Request, body: ContactIn) -> web.Response | ContactReceived:
    result = await request.app[INTAKE].receive(ContactIntake(**body.model_dump(exclude={"route"})), now(request))
    if result.created and body.route and body.direction is Direction.INBOUND:
        queue_name = None
        if result.contact.queue_id is not None:
            async with request.app[DATABASE].transaction() as session:
                queue = await session.get(Queue, result.contact.queue_id)
                queue_name = queue.name if queue else None
        await request.app[ROUTER].submit(
            RouteRequest(
                contact_id=result.contact.id or 0,
                case_id=result.case.id or 0,
                customer_id=result.case.customer_id,
                channel=result.contact.channel,
                queue=queue_name,
                skills=dict(result.case.required_skills),
                language=body.language,
                priority=result.case.priority,
            )
        )
    received = ContactReceived(
        contact=ContactOut.model_validate(result.contact),
        case=CaseOut.from_case(result.case),
        created=result.created,
        joined_existing_case=result.joined_existing_case,
    )
    if not result.created:
        return web.json_response(received.model_dump(mode="json"), status=200)
    return received


@router.route("GET", "/api/v1/contacts/{contact_id}", summary="A contact", roles=AGENTS, response=ContactOut)
async def read_contact(request: web.Request) -> Contact:
    contact_id = path_id(request, "contact_id", "contact")
    async with request.app[DATABASE].transaction() as session:
        contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist", resource="contact")
    return contact


@router.route(
    "PATCH",
    "/api/v1/contacts/{contact_id}",
    summary="Record a contact's answer, end and disposition",
    roles=AGENTS,
    body=ContactPatch,
    response=ContactOut,
)
async def update_contact(request: web.Request, body: ContactPatch) -> Contact:
    contact_id = path_id(request, "contact_id", "contact")
    async with request.app[DATABASE].transaction() as session:
        contact = await session.get(Contact, contact_id, with_for_update=True)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist", resource="contact")
        return await do_update_contact(session, contact, ContactTimes(**body.model_dump(exclude_unset=True)))
