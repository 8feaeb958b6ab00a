"""Validation of the value types, and events as JSON."""

from __future__ import annotations

import json

import pytest

from routing.events import AgentActivityChanged, TaskCreated, TaskFallback, event_from_dict
from routing.models import Activity, AgentState, Task


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
