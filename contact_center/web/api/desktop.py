"""The agent desktop's API: the work in hand, one contact's workspace (the customer's 360 view), chat replies,
wrap-up and transfer. Everything else the desktop does (presence, offers, replies, status, merge) uses the routing
and case routes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.case_status import TRANSITIONS
from contact_center.channels.chat.models import ChatMessage, ChatSender, ChatSession, ChatStatus
from contact_center.channels.chat.service import MAX_MESSAGE
from contact_center.channels.chat.web import CHAT
from contact_center.dispatch import DEFAULT_QUEUE, RouteRequest
from contact_center.errors import Conflict, Forbidden, InvalidInput, NotFound
from contact_center.models import (
    Agent,
    Case,
    CaseEvent,
    CaseStatus,
    Contact,
    Customer,
    CustomerTier,
    EventKind,
    Identity,
    Queue,
    RetentionOffer,
    TwilioCall,
    TwilioCallTurn,
)
from contact_center.services.cases import do_change_status, get_case, timeline
from contact_center.services.contacts import ContactIntake, ContactTimes, do_update_contact, receive_contact
from contact_center.services.timeline import record_event
from contact_center.web.api.params import acting_user, now, path_id
from contact_center.web.auth import AGENTS, SUPERVISORS
from contact_center.web.keys import DATABASE, DISPATCHER, SETTINGS
from contact_center.web.router import ApiRouter
from field_service.visits import visits_for_cases
from knowledge_base.search import suggest_articles
from routing.workflows import TRANSFER_TO

__all__ = ["WRAP_UP_CODES", "router"]

router = ApiRouter("desktop")

# What an agent says a contact was about when finishing it; the daily report counts them.
WRAP_UP_CODES = ("resolved", "follow_up", "escalated", "information", "complaint", "sale", "retention", "no_answer")


class WorkItem(BaseModel):
    contact_id: int
    channel: str
    case_id: int
    case_number: str
    subject: str
    customer: str
    chat_id: int | None
    chat_status: str | None
    answered_at: datetime | None


class ChatMessageOut(BaseModel):
    seq: int
    sender: str
    author: str | None
    body: str
    at: datetime


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_MESSAGE)


class AfterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: int = Field(default=0, ge=0)


class WrapUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description=f"one of {', '.join(WRAP_UP_CODES)}")
    notes: str = Field(default="", max_length=10_000)
    status: CaseStatus | None = Field(default=None, description="move the case on, e.g. to pending or resolved")
    wrap_up_seconds: float = Field(default=0.0, ge=0, le=3600)


class TransferIn(BaseModel):
    """Where a contact goes: a queue, and optionally one agent of it who is offered the contact first."""

    model_config = ConfigDict(extra="forbid")

    queue: str = Field(min_length=1, max_length=80)
    agent_id: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)


class TransferOut(BaseModel):
    contact_id: int
    queue: str
    agent_id: int | None


async def _me(request: web.Request) -> tuple[Actor, int]:
    signed_in, actor = await acting_user(request)
    if signed_in.user.agent_id is None:
        raise Forbidden("your account is not linked to an agent")
    return actor, signed_in.user.agent_id


async def _my_contact(request: web.Request, agent_id: int) -> Contact:
    contact_id = path_id(request, "contact_id", "contact")
    async with request.app[DATABASE].transaction() as session:
        contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist", resource="contact")
    if contact.agent_id != agent_id:
        raise Forbidden("this contact is handled by another agent")
    return contact


@router.route(
    "GET", "/api/v1/me/work", summary="The contacts you are handling now", roles=AGENTS, response=list[WorkItem]
)
async def my_work(request: web.Request) -> list[WorkItem]:
    _, agent_id = await _me(request)
    async with request.app[DATABASE].transaction() as session:
        rows = (
            await session.execute(
                select(Contact, Case, Customer.name, ChatSession)
                .join(Case, col(Case.id) == Contact.case_id)
                .join(Customer, col(Customer.id) == Contact.customer_id)
                .join(ChatSession, col(ChatSession.contact_id) == Contact.id, isouter=True)
                .where(Contact.agent_id == agent_id, col(Contact.ended_at).is_(None))
                .order_by(col(Contact.answered_at))
            )
        ).all()
    return [
        WorkItem(
            contact_id=contact.id or 0,
            channel=contact.channel.value,
            case_id=case.id or 0,
            case_number=case.number,
            subject=case.subject,
            customer=name,
            chat_id=chat.id if chat else None,
            chat_status=chat.status.value if chat else None,
            answered_at=contact.answered_at,
        )
        for contact, case, name, chat in rows
    ]


@router.route(
    "GET",
    "/api/v1/contacts/{contact_id}/workspace",
    summary="Everything the desktop shows for a contact: case, timeline, chat, the customer's 360 view",
    roles=AGENTS,
)
async def workspace(request: web.Request) -> dict[str, Any]:
    contact_id = path_id(request, "contact_id", "contact")
    async with request.app[DATABASE].transaction() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist", resource="contact")
        case = await get_case(session, contact.case_id)
        events = await timeline(session, case)
        chat = (await session.scalars(select(ChatSession).where(ChatSession.contact_id == contact_id))).first()
        messages = (
            list(
                (
                    await session.scalars(
                        select(ChatMessage).where(ChatMessage.chat_id == chat.id).order_by(col(ChatMessage.seq))
                    )
                ).all()
            )
            if chat
            else []
        )
        call = (await session.scalars(select(TwilioCall).where(TwilioCall.contact_id == contact_id))).first()
        turns = (
            list(
                (
                    await session.scalars(
                        select(TwilioCallTurn.webhook)
                        .where(TwilioCallTurn.call_id == call.id)
                        .order_by(col(TwilioCallTurn.id))
                    )
                ).all()
            )
            if call
            else []
        )
        duplicate = await session.get(Case, case.duplicate_of_id) if case.duplicate_of_id else None
        overview = await _overview(session, case.customer_id)
        suggestions = await _suggestions(session, case.subject, events, overview["language"])
        queues = list((await session.scalars(select(Queue.name).order_by(col(Queue.name)))).all())
        colleagues = (
            await session.scalars(
                select(Agent).where(col(Agent.active).is_(True), Agent.id != contact.agent_id).order_by(col(Agent.name))
            )
        ).all()
    return {
        "contact": {
            "id": contact.id,
            "channel": contact.channel.value,
            "address": contact.address,
            "agent_id": contact.agent_id,
            "started_at": contact.started_at.isoformat(),
            "answered_at": contact.answered_at.isoformat() if contact.answered_at else None,
            "ended_at": contact.ended_at.isoformat() if contact.ended_at else None,
        },
        "case": {
            "id": case.id,
            "number": case.number,
            "subject": case.subject,
            "status": case.status.value,
            "priority": case.priority.value,
            "duplicate_of": duplicate.number if duplicate else None,
            "next_statuses": sorted(s.value for s in _next_statuses(case.status)),
        },
        "timeline": [
            {
                "kind": e.kind.value,
                "actor": e.actor_name or e.actor_kind.value,
                "body": e.body,
                "at": e.created_at.isoformat(),
                "channel": (e.data or {}).get("channel"),
            }
            for e in events
        ],
        "chat": {
            "id": chat.id,
            "status": chat.status.value,
            "messages": [
                ChatMessageOut(
                    seq=m.seq, sender=m.sender.value, author=m.author, body=m.body, at=m.created_at
                ).model_dump(mode="json")
                for m in messages
            ],
        }
        if chat
        else None,
        "call": {"call_sid": call.call_sid, "status": call.call_status, "ivr": _ivr_path(call.state, turns)}
        if call
        else None,
        "customer": overview,
        "wrap_up_codes": list(WRAP_UP_CODES),
        "queues": sorted({DEFAULT_QUEUE, *queues}),
        "agents": [{"id": a.id, "name": a.name} for a in colleagues],
        "knowledge_base": suggestions,
    }


# What the customer said most recently says most about what they need; older lines only dilute it.
_SUGGESTION_LINES = 5


async def _suggestions(
    session: AsyncSession, subject: str, events: Sequence[CaseEvent], language: str | None
) -> list[dict[str, Any]]:
    """Suggest published articles, internal ones included, for the case's subject and the customer's last lines."""
    said = [e.body for e in events if e.kind is EventKind.MESSAGE_IN and e.body][-_SUGGESTION_LINES:]
    results = await suggest_articles(session, "\n".join([subject, *said]), language, include_internal=True)
    return [
        {
            "id": r.article.id,
            "title": r.article.title,
            "visibility": r.article.visibility.value,
            "snippet": r.snippet,
            "url": f"/staff/kb/{r.article.id}",
        }
        for r in results
    ]


def _next_statuses(status: CaseStatus) -> set[CaseStatus]:
    return set(TRANSITIONS[status])


def _ivr_path(state: dict[str, Any], turns: list[str]) -> dict[str, Any]:
    """Describe a call's way through the IVR: the webhooks it took, where it ended, what the caller chose."""
    return {
        "turns": turns,
        "node": state.get("node"),
        "language": state.get("language"),
        "choices": dict(state.get("variables") or {}),
        "outcome": state.get("outcome"),
    }


async def _overview(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    customer = await session.get(Customer, customer_id)
    assert customer is not None
    offer = await session.get(RetentionOffer, customer.tier)
    identities = (await session.scalars(select(Identity).where(Identity.customer_id == customer_id))).all()
    cases = (
        await session.scalars(select(Case).where(Case.customer_id == customer_id).order_by(col(Case.id).desc()))
    ).all()
    contacts = (
        await session.scalars(
            select(Contact).where(Contact.customer_id == customer_id).order_by(col(Contact.started_at))
        )
    ).all()
    numbers = {c.id or 0: c.number for c in cases}
    visits = await visits_for_cases(session, list(numbers))
    by_case: dict[int, list[dict[str, Any]]] = {}
    for c in contacts:
        by_case.setdefault(c.case_id, []).append(
            {
                "id": c.id,
                "channel": c.channel.value,
                "started_at": c.started_at.isoformat(),
                "disposition": c.disposition,
            }
        )
    return {
        "id": customer.id,
        "name": customer.name,
        "language": customer.language,
        "tier": customer.tier.value,
        "value_score": customer.value_score,
        "lifetime_value": str(customer.lifetime_value.quantize(Decimal("0.01"))),
        "segment": customer.segment,
        "identities": [{"kind": i.kind.value, "address": i.address} for i in identities],
        "cases": [
            {
                "id": c.id,
                "number": c.number,
                "subject": c.subject,
                "status": c.status.value,
                "channel": c.channel.value,
                "created_at": c.created_at.isoformat(),
                "contacts": by_case.get(c.id or 0, []),
            }
            for c in cases
        ],
        "visits": [
            {
                "work_order": v.work_order,
                "case": numbers.get(v.case_id),
                "job_type": v.job_type.value,
                "status": v.status.value,
                "window_start": v.window_start.isoformat() if v.window_start else None,
                "window_end": v.window_end.isoformat() if v.window_end else None,
                "planned_start": v.planned_start.isoformat() if v.planned_start else None,
                "technician": v.technician,
                "status_since": v.status_since.isoformat() if v.status_since else None,
                "eta": v.eta.isoformat() if v.eta else None,
            }
            for v in visits
        ],
        "retention_offer": offer.offer if offer else None,
    }


async def _my_chat(request: web.Request, agent_id: int) -> ChatSession:
    chat = await request.app[CHAT].get(path_id(request, "chat_id", "chat"))
    if chat.agent_id != agent_id:
        raise Forbidden("this chat is handled by another agent")
    return chat


@router.route(
    "GET",
    "/api/v1/chats/{chat_id}/messages",
    summary="A chat's messages after a sequence number",
    roles=AGENTS,
    query=AfterQuery,
    response=list[ChatMessageOut],
)
async def chat_messages(request: web.Request, query: AfterQuery) -> list[ChatMessageOut]:
    chat = await request.app[CHAT].get(path_id(request, "chat_id", "chat"))
    messages = await request.app[CHAT].messages_after(chat.id or 0, query.after)
    return [
        ChatMessageOut(seq=m.seq, sender=m.sender.value, author=m.author, body=m.body, at=m.created_at)
        for m in messages
    ]


@router.route(
    "POST",
    "/api/v1/chats/{chat_id}/messages",
    summary="Answer in a chat you are handling",
    roles=AGENTS,
    body=ChatMessageIn,
    response=ChatMessageOut,
    status=201,
)
async def post_chat_message(request: web.Request, body: ChatMessageIn) -> ChatMessageOut:
    actor, agent_id = await _me(request)
    chat = await _my_chat(request, agent_id)
    message = await request.app[CHAT].post(chat.id or 0, ChatSender.AGENT, actor.name, body.body, actor=actor)
    return ChatMessageOut(
        seq=message.seq, sender=message.sender.value, author=message.author, body=message.body, at=message.created_at
    )


@router.route("POST", "/api/v1/chats/{chat_id}/close", summary="End a chat you are handling", roles=AGENTS)
async def close_chat(request: web.Request) -> dict[str, str]:
    _, agent_id = await _me(request)
    chat = await _my_chat(request, agent_id)
    closed = await request.app[CHAT].close(chat.id or 0, by=ChatSender.AGENT, reason="agent")
    return {"status": closed.status.value}


@router.route(
    "POST",
    "/api/v1/contacts/{contact_id}/wrap-up",
    summary="Finish a contact: wrap-up code, notes, the case's next status",
    roles=AGENTS,
    body=WrapUpIn,
)
async def wrap_up(request: web.Request, body: WrapUpIn) -> dict[str, Any]:
    actor, agent_id = await _me(request)
    if body.code not in WRAP_UP_CODES:
        raise InvalidInput(f"code: choose one of {', '.join(WRAP_UP_CODES)}", field="code")
    contact = await _my_contact(request, agent_id)
    if contact.ended_at is not None:
        raise Conflict(f"contact {contact.id} is finished already")
    async with request.app[DATABASE].transaction() as session:
        chat = (await session.scalars(select(ChatSession).where(ChatSession.contact_id == contact.id))).first()
    if chat is not None and chat.status is not ChatStatus.CLOSED:
        await request.app[CHAT].close(chat.id or 0, by=ChatSender.AGENT, reason="wrap_up")
    await request.app[DISPATCHER].complete(contact.id or 0, agent_id, body.wrap_up_seconds)
    at = now(request)
    async with request.app[DATABASE].transaction() as session:
        stored = await session.get(Contact, contact.id)
        assert stored is not None
        await do_update_contact(session, stored, ContactTimes(disposition=body.code))
        case = await get_case(session, stored.case_id, for_update=True)
        await record_event(
            session,
            case,
            EventKind.NOTE,
            actor,
            at,
            body=body.notes or None,
            contact_id=stored.id,
            data={"wrap_up": body.code},
        )
        if body.status is not None and body.status is not case.status:
            await do_change_status(session, case, body.status, actor, at)
        status = case.status.value
    return {"contact_id": contact.id, "code": body.code, "case_status": status}


@router.route(
    "POST",
    "/api/v1/contacts/{contact_id}/transfer",
    summary="Hand a contact you are handling to another queue, or to one agent first",
    roles=AGENTS,
    body=TransferIn,
    response=TransferOut,
    status=201,
)
async def transfer(request: web.Request, body: TransferIn) -> TransferOut:
    actor, agent_id = await _me(request)
    contact = await _my_contact(request, agent_id)
    if contact.ended_at is not None:
        raise Conflict(f"contact {contact.id} is finished already")
    async with request.app[DATABASE].transaction() as session:
        queue = (await session.scalars(select(Queue).where(Queue.name == body.queue))).first()
        if queue is None and body.queue != DEFAULT_QUEUE:
            raise InvalidInput(f"queue {body.queue} does not exist", field="queue")
        if body.agent_id is not None:
            target = await session.get(Agent, body.agent_id)
            if target is None or not target.active:
                raise InvalidInput(f"agent {body.agent_id} does not exist or is disabled", field="agent_id")
            if target.id == agent_id:
                raise InvalidInput("a contact cannot be transferred to the agent handling it", field="agent_id")
        case = await get_case(session, contact.case_id)
    await request.app[DISPATCHER].complete(contact.id or 0, agent_id, 0.0)
    # The next leg is a contact of its own on the same case, so each agent's handling is counted separately.
    leg = await receive_contact(
        request.app[DATABASE],
        ContactIntake(
            channel=contact.channel,
            external_id=f"{contact.external_id}/transfer-{contact.id}",
            address=contact.address or "",
            case_id=case.id,
            queue_id=queue.id if queue else None,
        ),
        now(request),
        region=request.app[SETTINGS].default_phone_region,
    )
    new_id = leg.contact.id or 0
    async with request.app[DATABASE].transaction() as session:
        stored = await session.get(Contact, contact.id)
        assert stored is not None
        await do_update_contact(session, stored, ContactTimes(disposition="transferred"))
        locked = await get_case(session, case.id or 0, for_update=True)
        await record_event(
            session,
            locked,
            EventKind.NOTE,
            actor,
            now(request),
            body=body.note or None,
            contact_id=new_id,
            data={"transfer": {"from_contact": contact.id, "queue": body.queue, "agent_id": body.agent_id}},
        )
    await request.app[CHAT].hand_on(contact.id or 0, new_id, body.queue)
    await request.app[DISPATCHER].submit(
        RouteRequest(
            contact_id=new_id,
            case_id=case.id or 0,
            customer_id=case.customer_id,
            channel=contact.channel,
            queue=body.queue,
            skills=dict(case.required_skills),
            language=case.language,
            priority=case.priority,
            attributes={TRANSFER_TO: str(body.agent_id)} if body.agent_id is not None else {},
        )
    )
    return TransferOut(contact_id=new_id, queue=body.queue, agent_id=body.agent_id)


class RetentionOfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer: str = Field(min_length=1, max_length=500)


class RetentionOfferOut(BaseModel):
    tier: CustomerTier
    offer: str
    updated_at: datetime


@router.route(
    "GET",
    "/api/v1/retention-offers",
    summary="The retention offer of each customer tier",
    roles=AGENTS,
    response=list[RetentionOfferOut],
)
async def list_retention_offers(request: web.Request) -> list[RetentionOfferOut]:
    async with request.app[DATABASE].transaction() as session:
        rows = (await session.scalars(select(RetentionOffer))).all()
    return [RetentionOfferOut(tier=r.tier, offer=r.offer, updated_at=r.updated_at) for r in rows]


@router.route(
    "PUT",
    "/api/v1/retention-offers/{tier}",
    summary="Set the retention offer agents see for a customer tier",
    roles=SUPERVISORS,
    body=RetentionOfferIn,
    response=RetentionOfferOut,
)
async def set_retention_offer(request: web.Request, body: RetentionOfferIn) -> RetentionOfferOut:
    try:
        tier = CustomerTier(request.match_info["tier"])
    except ValueError:
        raise NotFound(f"tier {request.match_info['tier']} does not exist", resource="tier") from None
    async with request.app[DATABASE].transaction() as session:
        row = await session.get(RetentionOffer, tier, with_for_update=True)
        if row is None:
            row = RetentionOffer(tier=tier, offer=body.offer, updated_at=now(request))
            session.add(row)
        else:
            row.offer, row.updated_at = body.offer, now(request)
        await session.flush()
        return RetentionOfferOut(tier=row.tier, offer=row.offer, updated_at=row.updated_at)
