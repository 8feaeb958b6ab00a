"""Personas and builders for routing tests: agents alice, bob, carol and dave, tasks from a few words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from routing.events import Event, TaskReserved
from routing.models import Activity, AgentState, Task

RULES_YAML = """
workflows:
  billing:
    steps:
      - name: last agent
        agents_from: last_agent
        timeout: 10
      - name: experts
        skills: {billing: 7}
        timeout: 30
      - name: generalists
        skills: {billing: 4}
        timeout: 90
      - name: billing team
        team: billing
        timeout: 300
    fallback: voicemail
  support:
    steps:
      - name: anyone with support
        skills: {support: 1}
    fallback: queue
queues:
  billing:
    workflow: billing
    reservation_timeout: 20
  support:
    workflow: support
"""

PERSONAS: dict[str, dict[str, Any]] = {
    # A billing expert on calls only.
    "alice": {"skills": {"billing": 9}, "team": "billing", "languages": frozenset({"en"})},
    # A billing generalist who also takes chats, and speaks Spanish.
    "bob": {
        "skills": {"billing": 5, "support": 3},
        "team": "billing",
        "languages": frozenset({"en", "es"}),
        "capacity": {"voice": 1, "chat": 3},
    },
    # In the billing team but with no billing skill yet.
    "carol": {"skills": {"support": 6}, "team": "billing", "languages": frozenset({"en"})},
    # Support only, chats and email.
    "dave": {"skills": {"support": 8}, "team": "support", "capacity": {"chat": 2, "email": 5}},
}


def agent(name: str, activity: Activity = Activity.AVAILABLE, **overrides: Any) -> AgentState:
    """Return a persona's state, with overrides."""
    fields = {**PERSONAS.get(name, {}), **overrides}
    return AgentState(id=name, activity=activity, **fields)


def task(task_id: str, queue: str = "billing", channel: str = "voice", created_at: float = 0.0, **fields: Any) -> Task:
    """Return a task with sensible defaults."""
    return Task(id=task_id, queue=queue, channel=channel, created_at=created_at, **fields)


def reservations(events: Iterable[Event]) -> list[TaskReserved]:
    """Return the offers among events."""
    return [event for event in events if isinstance(event, TaskReserved)]


def kinds(events: Iterable[Event]) -> list[str]:
    """Return the kinds of events, in order."""
    return [event.kind for event in events]
