"""The routing vocabulary: agents, tasks and reservations as plain immutable values.

These values cross every boundary of the engine (the app builds them, backends store them, events describe
them), so they are frozen, validated on construction and carry no behaviour beyond that.

Time everywhere in ``routing`` is a float of seconds since the Unix epoch (``datetime.timestamp()``), passed in by
the caller as ``now``. Numbers rather than datetimes keep the priority arithmetic exact and cheap, and let a Redis
backend compare the same values inside a Lua script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "CALL_CHANNEL",
    "MAX_BASE_PRIORITY",
    "MAX_SKILL_LEVEL",
    "MAX_VALUE",
    "Activity",
    "AgentState",
    "Reservation",
    "Task",
    "TaskStatus",
    "agent_from_dict",
    "agent_to_dict",
    "task_from_dict",
    "task_to_dict",
]

MAX_SKILL_LEVEL = 10
MAX_VALUE = 100
MAX_BASE_PRIORITY = 10

# The channel whose active work can block every other channel (an agent on a call cannot also chat).
CALL_CHANNEL = "voice"


class Activity(StrEnum):
    """What an agent is doing, as supervisors and statistics see it.

    ``available`` and ``away``/``offline`` are chosen by the agent; ``busy`` (holding offered or assigned work) and
    ``wrap_up`` (after-call work) are set by the engine. Only ``available`` and ``busy`` agents receive offers.
    """

    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    OFFLINE = "offline"


class TaskStatus(StrEnum):
    """Where a task stands in its life inside the engine."""

    WAITING = "waiting"
    RESERVED = "reserved"
    ASSIGNED = "assigned"


def _check_levels(what: str, levels: Mapping[str, int], lowest: int = 1) -> None:
    for name, level in levels.items():
        if not isinstance(level, int) or not lowest <= level <= MAX_SKILL_LEVEL:
            raise ValueError(f"{what} {name!r} has level {level!r}; levels are {lowest}-{MAX_SKILL_LEVEL}")


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent as the router sees it: profile (skills, languages, team, capacity) and live state.

    ``capacity`` maps a channel to how many tasks of it the agent handles at once (for example
    ``{"voice": 1, "chat": 3, "email": 5}``); a channel missing from it is never offered. When
    ``call_blocks_other_channels`` is set, an offered or active call stops offers on every other channel.
    ``load``, ``idle_since`` and ``consecutive_misses`` are owned by the engine: they are reported in snapshots
    and ignored when an existing agent is updated.
    """

    id: str
    activity: Activity = Activity.OFFLINE
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    team: str | None = None
    capacity: Mapping[str, int] = field(default_factory=lambda: {CALL_CHANNEL: 1})
    call_blocks_other_channels: bool = True
    load: Mapping[str, int] = field(default_factory=dict)
    idle_since: float = 0.0
    consecutive_misses: int = 0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an agent needs an id")
        _check_levels("skill", self.skills)
        for channel, slots in self.capacity.items():
            if not isinstance(slots, int) or slots < 0:
                raise ValueError(f"capacity for {channel!r} must be a non-negative integer, not {slots!r}")


@dataclass(frozen=True, slots=True)
class Task:
    """One contact waiting for a person: a call, chat, email or SMS thread.

    ``required_skills`` are minimum levels every offered agent must have, on top of what the current workflow step
    asks; ``preferred_skills`` only break ties between qualified agents. ``value`` (0-100) is the customer's worth
    to the business and ``base_priority`` (0-10) the queue's or the app's own urgency; both feed
    :func:`routing.priority.priority_key`. ``sla_target`` is the answer-within time in seconds. ``attributes``
    is free JSON-able data; workflow steps may read agent lists from it (``last_agent`` for sticky routing).
    ``workflow`` overrides the queue's default workflow by name.
    """

    id: str
    queue: str
    channel: str
    created_at: float
    required_skills: Mapping[str, int] = field(default_factory=dict)
    preferred_skills: Mapping[str, int] = field(default_factory=dict)
    language: str | None = None
    value: int = 0
    base_priority: int = 0
    sla_target: float = 20.0
    attributes: Mapping[str, Any] = field(default_factory=dict)
    workflow: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a task needs an id")
        if not self.queue or not self.channel:
            raise ValueError(f"task {self.id!r} needs a queue and a channel")
        _check_levels("required skill", self.required_skills)
        _check_levels("preferred skill", self.preferred_skills)
        if not isinstance(self.value, int) or not 0 <= self.value <= MAX_VALUE:
            raise ValueError(f"task {self.id!r}: customer value must be 0-{MAX_VALUE}, not {self.value!r}")
        if not isinstance(self.base_priority, int) or not 0 <= self.base_priority <= MAX_BASE_PRIORITY:
            raise ValueError(
                f"task {self.id!r}: base priority must be 0-{MAX_BASE_PRIORITY}, not {self.base_priority!r}"
            )
        if not self.sla_target > 0:
            raise ValueError(f"task {self.id!r}: SLA target must be positive, not {self.sla_target!r}")


def task_to_dict(task: Task) -> dict[str, Any]:
    """Return a task as JSON-able data (how a Redis backend stores it)."""
    return {
        "id": task.id,
        "queue": task.queue,
        "channel": task.channel,
        "created_at": task.created_at,
        "required_skills": dict(task.required_skills),
        "preferred_skills": dict(task.preferred_skills),
        "language": task.language,
        "value": task.value,
        "base_priority": task.base_priority,
        "sla_target": task.sla_target,
        "attributes": dict(task.attributes),
        "workflow": task.workflow,
    }


def task_from_dict(data: Mapping[str, Any]) -> Task:
    """Rebuild a task from :func:`task_to_dict` output, validating it again."""
    return Task(**data)


def agent_to_dict(agent: AgentState) -> dict[str, Any]:
    """Return an agent's state as JSON-able data."""
    return {
        "id": agent.id,
        "activity": str(agent.activity),
        "skills": dict(agent.skills),
        "languages": sorted(agent.languages),
        "team": agent.team,
        "capacity": dict(agent.capacity),
        "call_blocks_other_channels": agent.call_blocks_other_channels,
        "load": dict(agent.load),
        "idle_since": agent.idle_since,
        "consecutive_misses": agent.consecutive_misses,
    }


def agent_from_dict(data: Mapping[str, Any]) -> AgentState:
    """Rebuild an agent's state from :func:`agent_to_dict` output."""
    fields = dict(data)
    fields["activity"] = Activity(fields.get("activity", Activity.OFFLINE))
    fields["languages"] = frozenset(fields.get("languages", ()))
    return AgentState(**fields)


@dataclass(frozen=True, slots=True)
class Reservation:
    """An offer of one task to one agent, valid until ``expires_at``."""

    id: str
    task_id: str
    agent_id: str
    queue: str
    channel: str
    offered_at: float
    expires_at: float
