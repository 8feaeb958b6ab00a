"""Agents, skills, teams and queues over HTTP: what supervisors configure and routing reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from contact_center.models import Agent, Channel, Queue, Skill, Team, TeamKind
from contact_center.services.agents import (
    AgentFields,
    QueueFields,
    agent_skills,
    do_create_agent,
    do_create_queue,
    do_create_skill,
    do_create_team,
    do_set_agent_skills,
    do_update_agent,
    do_update_queue,
    get_agent,
    get_queue,
)
from contact_center.web.api.params import Out, Page, now, path_id
from contact_center.web.auth import AGENTS, SUPERVISORS
from contact_center.web.keys import DATABASE, DISPATCHER
from contact_center.web.router import ApiRouter

__all__ = ["router"]

router = ApiRouter("agents")

Levels = dict[str, int]


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    team_id: int | None = None
    time_zone: str = "UTC"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    capacity: dict[str, int] | None = None
    voice_blocks_others: bool = True
    skills: Levels = Field(default_factory=dict)


class AgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    team_id: int | None = None
    time_zone: str | None = None
    languages: list[str] | None = None
    capacity: dict[str, int] | None = None
    voice_blocks_others: bool | None = None
    active: bool | None = None


class AgentOut(Out):
    id: int
    name: str
    email: str
    team_id: int | None
    time_zone: str
    languages: list[str]
    capacity: dict[str, int]
    voice_blocks_others: bool
    active: bool
    created_at: datetime
    skills: Levels


class SkillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    description: str = Field(default="", max_length=500)


class SkillOut(Out):
    id: int
    name: str
    description: str


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    kind: TeamKind = TeamKind.IN_HOUSE
    partner: str | None = Field(default=None, max_length=120)


class TeamOut(Out):
    id: int
    name: str
    kind: TeamKind
    partner: str | None


class QueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    description: str = Field(default="", max_length=500)
    channels: list[Channel] = Field(default_factory=lambda: list(Channel))
    required_skills: Levels = Field(default_factory=dict)
    service_level_seconds: int = Field(default=20, ge=1, le=86_400)
    service_level_target: float = Field(default=0.8, gt=0, le=1)
    calendar_id: int | None = None


class QueueOut(Out):
    id: int
    name: str
    description: str
    channels: list[Channel]
    required_skills: Levels
    service_level_seconds: int
    service_level_target: float
    calendar_id: int | None


async def _synced(request: web.Request, agent: Agent) -> AgentOut:
    """Hand the agent's new profile to routing, then describe it."""
    await request.app[DISPATCHER].sync_agents([agent.id or 0])
    return (await _agent_out(request, [agent]))[0]


async def _agent_out(request: web.Request, agents: list[Agent]) -> list[AgentOut]:
    async with request.app[DATABASE].transaction() as session:
        skills = await agent_skills(session, [a.id or 0 for a in agents])
    return [AgentOut.model_validate({**a.model_dump(), "skills": skills[a.id or 0]}) for a in agents]


@router.route("GET", "/api/v1/agents", summary="List agents", roles=AGENTS, query=Page, response=list[AgentOut])
async def list_agents(request: web.Request, query: Page) -> list[AgentOut]:
    async with request.app[DATABASE].transaction() as session:
        agents = list(
            (await session.scalars(select(Agent).order_by(col(Agent.id)).limit(query.limit).offset(query.offset))).all()
        )
    return await _agent_out(request, agents)


@router.route(
    "POST",
    "/api/v1/agents",
    summary="Create an agent with skills",
    roles=SUPERVISORS,
    body=AgentIn,
    response=AgentOut,
    status=201,
)
async def create_agent(request: web.Request, body: AgentIn) -> AgentOut:
    async with request.app[DATABASE].transaction() as session:
        agent = await do_create_agent(session, AgentFields(**body.model_dump(exclude={"skills"})), now(request))
        await do_set_agent_skills(session, agent, body.skills)
    return await _synced(request, agent)


@router.route("GET", "/api/v1/agents/{agent_id}", summary="An agent", roles=AGENTS, response=AgentOut)
async def read_agent(request: web.Request) -> AgentOut:
    async with request.app[DATABASE].transaction() as session:
        agent = await get_agent(session, path_id(request, "agent_id", "agent"))
    return (await _agent_out(request, [agent]))[0]


@router.route(
    "PATCH",
    "/api/v1/agents/{agent_id}",
    summary="Change an agent",
    roles=SUPERVISORS,
    body=AgentPatch,
    response=AgentOut,
)
async def update_agent(request: web.Request, body: AgentPatch) -> AgentOut:
    async with request.app[DATABASE].transaction() as session:
        agent = await get_agent(session, path_id(request, "agent_id", "agent"))
        changes = body.model_dump(exclude_unset=True)
        # "team_id": null takes the agent out of their team; leaving the field out leaves the team.
        clear_team = "team_id" in changes and changes["team_id"] is None
        await do_update_agent(session, agent, AgentFields(**changes, clear_team=clear_team))
    return await _synced(request, agent)


class SkillLevelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: Levels


@router.route(
    "PUT",
    "/api/v1/agents/{agent_id}/skills",
    summary="Replace an agent's skills and levels (1-10)",
    roles=SUPERVISORS,
    body=SkillLevelsIn,
    response=AgentOut,
)
async def set_skills(request: web.Request, body: SkillLevelsIn) -> AgentOut:
    async with request.app[DATABASE].transaction() as session:
        agent = await get_agent(session, path_id(request, "agent_id", "agent"))
        await do_set_agent_skills(session, agent, body.skills)
    return await _synced(request, agent)


@router.route("GET", "/api/v1/skills", summary="List skills", roles=AGENTS, response=list[SkillOut])
async def list_skills(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(Skill).order_by(col(Skill.name)))).all())


@router.route(
    "POST", "/api/v1/skills", summary="Define a skill", roles=SUPERVISORS, body=SkillIn, response=SkillOut, status=201
)
async def create_skill(request: web.Request, body: SkillIn) -> Skill:
    async with request.app[DATABASE].transaction() as session:
        return await do_create_skill(session, body.name, body.description)


@router.route("GET", "/api/v1/teams", summary="List teams", roles=AGENTS, response=list[TeamOut])
async def list_teams(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(Team).order_by(col(Team.name)))).all())


@router.route(
    "POST",
    "/api/v1/teams",
    summary="Create a team (in-house or an outsourced partner)",
    roles=SUPERVISORS,
    body=TeamIn,
    response=TeamOut,
    status=201,
)
async def create_team(request: web.Request, body: TeamIn) -> Team:
    async with request.app[DATABASE].transaction() as session:
        return await do_create_team(session, body.name, body.kind, body.partner)


@router.route("GET", "/api/v1/queues", summary="List queues", roles=AGENTS, response=list[QueueOut])
async def list_queues(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(Queue).order_by(col(Queue.name)))).all())


@router.route("GET", "/api/v1/queues/{queue_id}", summary="A queue", roles=AGENTS, response=QueueOut)
async def read_queue(request: web.Request) -> Queue:
    async with request.app[DATABASE].transaction() as session:
        return await get_queue(session, path_id(request, "queue_id", "queue"))


@router.route(
    "POST", "/api/v1/queues", summary="Create a queue", roles=SUPERVISORS, body=QueueIn, response=QueueOut, status=201
)
async def create_queue(request: web.Request, body: QueueIn) -> Queue:
    async with request.app[DATABASE].transaction() as session:
        return await do_create_queue(session, body.name, QueueFields(**body.model_dump(mode="json", exclude={"name"})))


class QueuePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    required_skills: Levels | None = None
    service_level_seconds: int | None = Field(default=None, ge=1, le=86_400)
    service_level_target: float | None = Field(default=None, gt=0, le=1)
    calendar_id: int | None = None


@router.route(
    "PATCH",
    "/api/v1/queues/{queue_id}",
    summary="Change a queue (contacts routed from now on follow it)",
    roles=SUPERVISORS,
    body=QueuePatch,
    response=QueueOut,
)
async def update_queue(request: web.Request, body: QueuePatch) -> Queue:
    async with request.app[DATABASE].transaction() as session:
        queue = await get_queue(session, path_id(request, "queue_id", "queue"))
        return await do_update_queue(session, queue, QueueFields(**body.model_dump(mode="json", exclude_unset=True)))
