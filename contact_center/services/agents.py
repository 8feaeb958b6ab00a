"""Agents, their skills, teams and queues: the configuration routing reads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import InvalidInput, NotFound
from contact_center.models import Agent, AgentSkill, CalendarRecord, Channel, Queue, Skill, Team, TeamKind
from contact_center.services.unique import flush_or_conflict

__all__ = [
    "DEFAULT_CAPACITY",
    "AgentFields",
    "QueueFields",
    "agent_skills",
    "check_queue_skills",
    "do_create_agent",
    "do_create_queue",
    "do_create_skill",
    "do_create_team",
    "do_set_agent_skills",
    "do_update_agent",
    "do_update_queue",
    "get_agent",
    "get_queue",
    "skill_ids",
]

_CHANNELS = {c.value for c in Channel}
# What an agent can hold at once per channel unless told otherwise.
DEFAULT_CAPACITY: Mapping[str, int] = {"voice": 1, "chat": 3, "email": 5, "sms": 5, "web": 5}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,79}")


@dataclass
class AgentFields:
    name: str | None = None
    email: str | None = None
    team_id: int | None = None
    time_zone: str | None = None
    languages: list[str] | None = None
    capacity: dict[str, int] | None = None
    voice_blocks_others: bool | None = None
    active: bool | None = None
    # None above leaves a setting as it is; this takes the agent out of their team.
    clear_team: bool = False


async def get_agent(session: AsyncSession, agent_id: int) -> Agent:
    """Return an agent or raise NotFound."""
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} does not exist", resource="agent")
    return agent


async def do_create_agent(session: AsyncSession, fields: AgentFields, now: datetime) -> Agent:
    """Create an agent with sensible capacity defaults (1 call, 3 chats, 5 emails, 5 SMS)."""
    if not fields.name or not fields.email:
        raise InvalidInput("an agent needs a name and an email", field="name" if not fields.name else "email")
    if not _EMAIL.fullmatch(fields.email.strip()):
        raise InvalidInput(f"{fields.email!r} is not an email address", field="email")
    agent = Agent(
        name=fields.name,
        email=fields.email.strip().lower(),
        capacity=dict(DEFAULT_CAPACITY),
        languages=["en"],
        created_at=now,
    )
    await _apply(session, agent, fields)
    session.add(agent)
    await flush_or_conflict(session, f"an agent with email {agent.email} exists already", field="email")
    return agent


async def do_update_agent(session: AsyncSession, agent: Agent, fields: AgentFields) -> Agent:
    """Change an agent's settings."""
    await _apply(session, agent, fields)
    await session.flush()
    return agent


async def _apply(session: AsyncSession, agent: Agent, fields: AgentFields) -> None:
    if fields.team_id is not None and await session.get(Team, fields.team_id) is None:
        raise InvalidInput(f"team {fields.team_id} does not exist", field="team_id")
    if fields.time_zone is not None:
        try:
            ZoneInfo(fields.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"unknown time zone {fields.time_zone!r}", field="time_zone") from exc
    if fields.capacity is not None:
        unknown = set(fields.capacity) - _CHANNELS
        if unknown:
            raise InvalidInput(f"unknown channel(s) in capacity: {', '.join(sorted(unknown))}", field="capacity")
    for name, value in vars(fields).items():
        if value is not None and name != "clear_team":
            setattr(agent, name, value)
    if fields.clear_team:
        agent.team_id = None


async def _checked_levels(session: AsyncSession, levels: Mapping[str, int], field: str) -> dict[str, int]:
    """Refuse a level outside 1-10 or a skill nobody defined; return the skills' ids."""
    for name, level in levels.items():
        if not 1 <= level <= 10:
            raise InvalidInput(f"skill level for {name} must be 1-10, not {level}", field=field)
    return await skill_ids(session, levels)


async def skill_ids(session: AsyncSession, names: Any) -> dict[str, int]:
    """Map skill names to ids; an unknown name is an error that names it."""
    wanted = set(names)
    found = {s.name: s.id or 0 for s in (await session.scalars(select(Skill).where(col(Skill.name).in_(wanted)))).all()}
    missing = sorted(wanted - set(found))
    if missing:
        raise InvalidInput(f"unknown skill(s): {', '.join(missing)}", field="skills", unknown=missing)
    return found


async def do_set_agent_skills(session: AsyncSession, agent: Agent, levels: Mapping[str, int]) -> dict[str, int]:
    """Replace an agent's skills with the given levels (1-10)."""
    ids = await _checked_levels(session, levels, "skills")
    await session.execute(delete(AgentSkill).where(col(AgentSkill.agent_id) == agent.id))
    session.add_all(AgentSkill(agent_id=agent.id or 0, skill_id=ids[n], level=lvl) for n, lvl in levels.items())
    await session.flush()
    return dict(levels)


async def agent_skills(session: AsyncSession, agent_ids: list[int]) -> dict[int, dict[str, int]]:
    """Return each agent's skills by name."""
    rows = await session.execute(
        select(AgentSkill.agent_id, Skill.name, AgentSkill.level)
        .join(Skill, col(Skill.id) == AgentSkill.skill_id)
        .where(col(AgentSkill.agent_id).in_(agent_ids))
    )
    skills: dict[int, dict[str, int]] = {agent_id: {} for agent_id in agent_ids}
    for agent_id, name, level in rows:
        skills[agent_id][name] = level
    return skills


async def do_create_skill(session: AsyncSession, name: str, description: str = "") -> Skill:
    """Define a skill agents can have and queues can require."""
    _check_name(name, "skill")
    skill = Skill(name=name, description=description.strip()[:500])
    session.add(skill)
    await flush_or_conflict(session, f"skill {name} exists already", field="name")
    return skill


async def do_create_team(
    session: AsyncSession, name: str, kind: TeamKind = TeamKind.IN_HOUSE, partner: str | None = None
) -> Team:
    """Add a team: our own staff, or an outsourced partner's."""
    name = name.strip()
    if not name:
        raise InvalidInput("a team needs a name", field="name")
    team = Team(name=name[:120], kind=kind, partner=(partner or "").strip()[:120] or None)
    session.add(team)
    await flush_or_conflict(session, f"team {name} exists already", field="name")
    return team


def _check_name(name: str, what: str) -> None:
    """Skills and queues are named as routing rules and statistics refer to them: a-z, 0-9, - and _."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"a {what}'s name is lower-case letters, digits, - and _, not {name!r}", field="name")


async def check_queue_skills(session: AsyncSession, queue: Queue) -> None:
    """Reject a queue that requires skills nobody defined."""
    await skill_ids(session, queue.required_skills)


@dataclass
class QueueFields:
    """A queue's settings; None leaves one as it is (the name is fixed: routing and statistics key on it)."""

    description: str | None = None
    channels: list[str] | None = None
    required_skills: dict[str, int] | None = None
    service_level_seconds: int | None = None
    service_level_target: float | None = None
    calendar_id: int | None = None


async def get_queue(session: AsyncSession, queue_id: int) -> Queue:
    """Return a queue or raise NotFound."""
    queue = await session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(f"queue {queue_id} does not exist", resource="queue")
    return queue


async def do_create_queue(session: AsyncSession, name: str, fields: QueueFields) -> Queue:
    """Create a queue (every channel, 80% in 20 s unless the fields say otherwise)."""
    _check_name(name, "queue")
    queue = Queue(name=name, channels=sorted(_CHANNELS))
    await _apply_queue(session, queue, fields)
    session.add(queue)
    await flush_or_conflict(session, f"queue {name} exists already", field="name")
    return queue


async def do_update_queue(session: AsyncSession, queue: Queue, fields: QueueFields) -> Queue:
    """Change a queue's settings; contacts routed from now on follow them."""
    await _apply_queue(session, queue, fields)
    await session.flush()
    return queue


async def _apply_queue(session: AsyncSession, queue: Queue, fields: QueueFields) -> None:
    if fields.channels is not None:
        unknown = set(fields.channels) - _CHANNELS
        if unknown:
            raise InvalidInput(f"unknown channel(s): {', '.join(sorted(unknown))}", field="channels")
        if not fields.channels:
            raise InvalidInput("a queue takes at least one channel", field="channels")
    if fields.required_skills is not None:
        await _checked_levels(session, fields.required_skills, "required_skills")
    if fields.service_level_seconds is not None and not 1 <= fields.service_level_seconds <= 86_400:
        raise InvalidInput("the service level's threshold must be 1-86400 seconds", field="service_level_seconds")
    if fields.service_level_target is not None and not 0 < fields.service_level_target <= 1:
        raise InvalidInput("the service level's target must be above 0 and at most 1", field="service_level_target")
    if fields.calendar_id is not None and await session.get(CalendarRecord, fields.calendar_id) is None:
        raise InvalidInput(f"calendar {fields.calendar_id} does not exist", field="calendar_id")
    for name, value in vars(fields).items():
        if value is not None:
            setattr(queue, name, value)
