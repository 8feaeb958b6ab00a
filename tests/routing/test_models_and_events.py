"""Validation of the value types, and events as JSON."""

from __future__ import annotations

import json

import pytest

from routing.events import AgentActivityChanged, TaskCreated, TaskFallback, event_from_dict
from routing.models import Activity, AgentState, Task, agent_from_dict, agent_to_dict, task_from_dict, task_to_dict


@pytest.mark.parametrize(
    "fields",
    [
        {"value": 101},
        {"value": -1},
        {"base_priority": 11},
        {"sla_target": 0},
        {"required_skills": {"billing": 0}},
        {"preferred_skills": {"billing": 11}},
        {"queue": ""},
    ],
)
def test_task_rejects_out_of_range_fields(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"id": "t", "queue": "q", "channel": "voice", "created_at": 0.0}
    with pytest.raises(ValueError, match=r"\w"):
        Task(**{**base, **fields})  # type: ignore[arg-type]


def test_agent_rejects_bad_levels_and_capacity() -> None:
    with pytest.raises(ValueError, match="level"):
        AgentState(id="a", skills={"billing": 11})
    with pytest.raises(ValueError, match="capacity"):
        AgentState(id="a", capacity={"chat": -1})


@pytest.mark.parametrize(
    "event",
    [
        TaskCreated(at=1.5, task_id="t", queue="q", channel="voice", created_at=1.0, value=7, step="s"),
        TaskFallback(at=2, task_id="t", queue="q", action="voicemail", reason="timeout", waited=3.0),
        AgentActivityChanged(
            at=3, agent_id="alice", previous=Activity.AVAILABLE, activity=Activity.BUSY, reason="offer"
        ),
    ],
)
def test_events_round_trip_through_json(event: object) -> None:
    data = event.as_dict()  # type: ignore[attr-defined]
    assert data["kind"] == type(event).kind  # type: ignore[attr-defined]
    assert event_from_dict(json.loads(json.dumps(data))) == event


def test_unknown_event_kind() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        event_from_dict({"kind": "nope", "at": 0})


def test_task_and_agent_round_trip_through_json() -> None:
    task = Task(
        id="t",
        queue="billing",
        channel="chat",
        created_at=12.5,
        required_skills={"billing": 4},
        preferred_skills={"refunds": 2},
        language="es",
        value=70,
        base_priority=3,
        sla_target=30,
        attributes={"last_agent": "bob"},
        workflow="billing",
    )
    assert task_from_dict(json.loads(json.dumps(task_to_dict(task)))) == task
    agent = AgentState(
        id="bob",
        activity=Activity.BUSY,
        skills={"billing": 5},
        languages=frozenset({"en", "es"}),
        team="billing",
        capacity={"voice": 1, "chat": 3},
        load={"chat": 2},
        idle_since=3.0,
        consecutive_misses=1,
    )
    assert agent_from_dict(json.loads(json.dumps(agent_to_dict(agent)))) == agent
