"""The people who take contacts, how they are grouped, and the queues contacts wait in."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = ["Agent", "AgentSkill", "Queue", "Skill", "Team", "TeamKind"]


class TeamKind(enum.StrEnum):
    """Whether a team is our own staff or an outsourced partner's."""

    IN_HOUSE = "in_house"
    OUTSOURCED = "outsourced"


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    kind: TeamKind = Field(default=TeamKind.IN_HOUSE, sa_type=enum_type(TeamKind))
    partner: str | None = Field(default=None, max_length=120)


class Skill(SQLModel, table=True):
    __tablename__ = "skills"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    description: str = Field(default="", max_length=500)


class Agent(SQLModel, table=True):
    __tablename__ = "agents"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, unique=True)
    team_id: int | None = Field(default=None, foreign_key="teams.id", index=True)
    time_zone: str = Field(default="UTC", max_length=64)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Contacts an agent can hold at once per channel, e.g. {"voice": 1, "chat": 3, "email": 5, "sms": 5}.
    capacity: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    voice_blocks_others: bool = True
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)


class AgentSkill(SQLModel, table=True):
    __tablename__ = "agent_skills"

    agent_id: int = Field(foreign_key="agents.id", primary_key=True)
    skill_id: int = Field(foreign_key="skills.id", primary_key=True)
    level: int = Field(ge=1, le=10)


class Queue(SQLModel, table=True):
    __tablename__ = "queues"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    description: str = Field(default="", max_length=500)
    channels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    required_skills: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    # Service level: the share of contacts to answer within the threshold, e.g. 80% in 20 seconds.
    service_level_seconds: int = 20
    service_level_target: float = 0.8
    calendar_id: int | None = Field(default=None, foreign_key="calendars.id")
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
