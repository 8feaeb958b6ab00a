"""Events: one immutable record for every transition the engine makes.

Every backend call returns the events it caused, in order. The app publishes them (timelines, desktop offers,
wallboard) and :mod:`routing.statistics` folds them into queue figures, so an event carries everything those
consumers need without asking the engine again. ``as_dict()`` gives a JSON-able form and :func:`event_from_dict`
reads it back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from routing.models import Activity

__all__ = [
    "AgentActivityChanged",
    "Event",
    "ReservationTimedOut",
    "TaskAbandoned",
    "TaskAccepted",
    "TaskCompleted",
    "TaskCreated",
    "TaskFallback",
    "TaskRejected",
    "TaskReserved",
    "WorkflowStepChanged",
    "event_from_dict",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at ``at`` (seconds since the epoch)."""

    kind: ClassVar[str] = "event"
    at: float

    def as_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-able dict with its ``kind``."""
        data: dict[str, Any] = {"kind": self.kind}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            data[item.name] = str(value) if isinstance(value, Activity) else value
        return data


@dataclass(frozen=True, slots=True)
class TaskCreated(Event):
    """A task entered the engine and, unless served at once, waits in its queue."""

    kind: ClassVar[str] = "task_created"
    task_id: str
    queue: str
    channel: str
    created_at: float
    value: int
    step: str
    unserviceable: bool = False


@dataclass(frozen=True, slots=True)
class TaskReserved(Event):
    """A task was offered to one agent until ``expires_at``."""

    kind: ClassVar[str] = "task_reserved"
    task_id: str
    queue: str
    channel: str
    agent_id: str
    reservation_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class TaskAccepted(Event):
    """The agent accepted the offer: the task is assigned and its wait is over."""

    kind: ClassVar[str] = "task_accepted"
    task_id: str
    queue: str
    channel: str
    agent_id: str
    reservation_id: str
    waited: float


@dataclass(frozen=True, slots=True)
class TaskRejected(Event):
    """An offer ended without acceptance: the agent declined, or went away while it rang.

    ``reason`` is ``"rejected"`` or ``"agent_unavailable"``; the task is back in its queue.
    """

    kind: ClassVar[str] = "task_rejected"
    task_id: str
    queue: str
    agent_id: str
    reservation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReservationTimedOut(Event):
    """The agent did not answer an offer in time; the task is back in its queue without that agent."""

    kind: ClassVar[str] = "reservation_timed_out"
    task_id: str
    queue: str
    agent_id: str
    reservation_id: str


@dataclass(frozen=True, slots=True)
class TaskCompleted(Event):
    """The agent finished the task; ``handle_time`` runs from acceptance and includes ``wrap_up``."""

    kind: ClassVar[str] = "task_completed"
    task_id: str
    queue: str
    channel: str
    agent_id: str
    handle_time: float
    wrap_up: float


@dataclass(frozen=True, slots=True)
class TaskAbandoned(Event):
    """The customer left before an agent accepted the task."""

    kind: ClassVar[str] = "task_abandoned"
    task_id: str
    queue: str
    waited: float


@dataclass(frozen=True, slots=True)
class WorkflowStepChanged(Event):
    """The task's wait passed a step's timeout and the next, usually wider, step now decides who qualifies."""

    kind: ClassVar[str] = "workflow_step_changed"
    task_id: str
    queue: str
    step_index: int
    step: str


@dataclass(frozen=True, slots=True)
class TaskFallback(Event):
    """The task reached its workflow's fallback.

    ``action`` is ``voicemail`` or ``callback`` (the task left the engine: the app takes over) or ``queue`` (it
    stays queued at its last step). ``reason`` is ``timeout`` or ``unserviceable`` (no known agent could ever
    serve it).
    """

    kind: ClassVar[str] = "task_fallback"
    task_id: str
    queue: str
    action: str
    reason: str
    waited: float


@dataclass(frozen=True, slots=True)
class AgentActivityChanged(Event):
    """An agent's activity changed; ``reason`` says why (``requested``, ``offer``, ``missed_offers``...)."""

    kind: ClassVar[str] = "agent_activity_changed"
    agent_id: str
    previous: Activity
    activity: Activity
    reason: str


_BY_KIND: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        TaskCreated,
        TaskReserved,
        TaskAccepted,
        TaskRejected,
        ReservationTimedOut,
        TaskCompleted,
        TaskAbandoned,
        WorkflowStepChanged,
        TaskFallback,
        AgentActivityChanged,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.as_dict` output."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    cls = _BY_KIND.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    if cls is AgentActivityChanged:
        fields["previous"] = Activity(fields["previous"])
        fields["activity"] = Activity(fields["activity"])
    return cls(**fields)
