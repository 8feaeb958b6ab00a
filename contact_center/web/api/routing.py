"""Routing over HTTP: agents' presence, offers (accept, reject), finishing work, queue figures."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contact_center.dispatch import contact_id_of
from contact_center.errors import Forbidden, NotFound
from contact_center.models import Queue
from contact_center.services.users import SignedIn
from contact_center.web.api.params import acting_user, path_id
from contact_center.web.auth import AGENTS, SUPERVISORS
from contact_center.web.keys import DATABASE, DISPATCHER
from contact_center.web.router import ApiRouter
from routing.models import Activity, AgentState

__all__ = ["router"]

router = ApiRouter("routing")


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activity: Activity


class AgentStateOut(BaseModel):
    agent_id: int
    activity: Activity
    load: dict[str, int]
    capacity: dict[str, int]
    skills: dict[str, int]
    idle_since: float
    consecutive_misses: int

    @classmethod
    def of(cls, state: AgentState) -> AgentStateOut:
        """Describe an agent's routing state."""
        return cls(
            agent_id=int(state.id),
            activity=state.activity,
            load=dict(state.load),
            capacity=dict(state.capacity),
            skills=dict(state.skills),
            idle_since=state.idle_since,
            consecutive_misses=state.consecutive_misses,
        )


class OfferOut(BaseModel):
    reservation_id: str
    contact_id: int
    queue: str
    channel: str
    expires_at: float


class AcceptedOut(BaseModel):
    contact_id: int


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wrap_up_seconds: float = Field(default=0.0, ge=0, le=3600)


class WindowQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: float = Field(default=3600.0, gt=0, le=7 * 86_400, description="seconds of history to count")


async def _my_agent(request: web.Request) -> tuple[SignedIn, int]:
    signed_in, _ = await acting_user(request)
    if signed_in.user.agent_id is None:
        raise Forbidden("your account is not linked to an agent")
    return signed_in, signed_in.user.agent_id


@router.route(
    "POST",
    "/api/v1/me/activity",
    summary="Set your presence: available, away or offline",
    roles=AGENTS,
    body=ActivityIn,
    response=AgentStateOut,
)
async def set_my_activity(request: web.Request, body: ActivityIn) -> AgentStateOut:
    _, agent_id = await _my_agent(request)
    return AgentStateOut.of(await request.app[DISPATCHER].set_activity(agent_id, body.activity))


@router.route(
    "GET", "/api/v1/me/offers", summary="The offers ringing for you now", roles=AGENTS, response=list[OfferOut]
)
async def my_offers(request: web.Request) -> list[OfferOut]:
    _, agent_id = await _my_agent(request)
    reservations = await request.app[DISPATCHER].backend.agent_reservations(str(agent_id))
    return [
        OfferOut(
            reservation_id=r.id,
            contact_id=contact_id_of(r.task_id) or 0,
            queue=r.queue,
            channel=r.channel,
            expires_at=r.expires_at,
        )
        for r in reservations
    ]


@router.route(
    "POST",
    "/api/v1/reservations/{reservation_id}/accept",
    summary="Accept an offer (409 if it is gone)",
    roles=AGENTS,
    response=AcceptedOut,
)
async def accept_offer(request: web.Request) -> AcceptedOut:
    _, agent_id = await _my_agent(request)
    contact_id = await request.app[DISPATCHER].accept(request.match_info["reservation_id"], agent_id)
    return AcceptedOut(contact_id=contact_id)


@router.route("POST", "/api/v1/reservations/{reservation_id}/reject", summary="Decline an offer", roles=AGENTS)
async def reject_offer(request: web.Request) -> dict[str, bool]:
    _, agent_id = await _my_agent(request)
    await request.app[DISPATCHER].reject(request.match_info["reservation_id"], agent_id)
    return {"rejected": True}


@router.route(
    "POST",
    "/api/v1/contacts/{contact_id}/complete",
    summary="Finish your work on a contact",
    roles=AGENTS,
    body=CompleteIn,
)
async def complete_contact(request: web.Request, body: CompleteIn) -> dict[str, bool]:
    _, agent_id = await _my_agent(request)
    contact_id = path_id(request, "contact_id", "contact")
    await request.app[DISPATCHER].complete(contact_id, agent_id, body.wrap_up_seconds)
    return {"completed": True}


@router.route(
    "POST",
    "/api/v1/agents/{agent_id}/activity",
    summary="Set an agent's presence",
    roles=SUPERVISORS,
    body=ActivityIn,
    response=AgentStateOut,
)
async def set_agent_activity(request: web.Request, body: ActivityIn) -> AgentStateOut:
    agent_id = path_id(request, "agent_id", "agent")
    return AgentStateOut.of(await request.app[DISPATCHER].set_activity(agent_id, body.activity))


@router.route(
    "GET",
    "/api/v1/queues/{queue_id}/statistics",
    summary="A queue's live figures and its totals",
    roles=AGENTS,
    query=WindowQuery,
)
async def queue_statistics(request: web.Request, query: WindowQuery) -> dict[str, Any]:
    queue_id = path_id(request, "queue_id", "queue")
    async with request.app[DATABASE].transaction() as session:
        queue = await session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(f"queue {queue_id} does not exist", resource="queue")
    dispatcher = request.app[DISPATCHER]
    stats = await dispatcher.backend.queue_statistics(queue.name, dispatcher.now(), query.window)
    waiting = await dispatcher.backend.waiting_tasks(queue.name, dispatcher.now(), limit=50)
    return {
        "queue": queue.name,
        "statistics": dataclasses.asdict(stats),
        "waiting": [
            {
                "contact_id": contact_id_of(w.task_id),
                "position": w.position,
                "waited": w.waited,
                "step": w.step,
                "status": str(w.status),
            }
            for w in waiting
        ],
    }
