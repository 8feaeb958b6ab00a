"""The async interface every routing backend offers the app (in-memory now, Redis later).

Each mutating method is one decision: it takes ``now`` (seconds since the epoch), is atomic, and returns the events
it caused in order. The Redis backend implements each one as a single Lua script that receives ``now`` and the
pre-computed :class:`~routing.workflows.RoutePlan` and replies with the events (each one's kind and fields), so N
app processes never double-assign a task or overfill an agent.

Errors are those of :mod:`routing.errors`; a call that raises has changed nothing. ``ReservationConflict`` maps to
HTTP 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from routing.engine import TaskView, WaitingTask
from routing.errors import RoutingError
from routing.events import Event
from routing.models import Activity, AgentState, Reservation, Task
from routing.statistics import AgentStatistics, QueueStatistics

__all__ = ["RoutingBackend"]


@runtime_checkable
class RoutingBackend(Protocol):
    """Routing state plus every decision on it."""

    async def upsert_agent(self, agent: AgentState, now: float) -> list[Event]:
        """Add an agent or update its profile and chosen activity; it may receive offers at once."""
        ...

    async def remove_agent(self, agent_id: str, now: float) -> list[Event]:
        """Forget an agent; offers still ringing for it go back to their queues."""
        ...

    async def set_activity(self, agent_id: str, activity: Activity, now: float) -> list[Event]:
        """Apply an activity the agent chose: available, away or offline."""
        ...

    async def submit(self, task: Task, now: float) -> list[Event]:
        """Queue a new task, offering it at once when a qualified agent has capacity."""
        ...

    async def submit_many(self, tasks: Sequence[Task], now: float) -> list[list[Event] | RoutingError]:
        """Queue tasks in order, each its own decision; a task refused gives its error in its place."""
        ...

    async def accept(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Accept an offer; raises ReservationConflict if it is expired, gone or another agent's."""
        ...

    async def reject(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Decline an offer; the task is re-offered to someone else."""
        ...

    async def complete(self, task_id: str, now: float, wrap_up: float = 0.0) -> list[Event]:
        """Finish an assigned task; the agent wraps up for ``wrap_up`` seconds, then takes new work."""
        ...

    async def abandon(self, task_id: str, now: float) -> list[Event]:
        """Record that the customer left before an agent accepted."""
        ...

    async def tick(self, now: float) -> list[Event]:
        """Fire every offer, workflow-step and wrap-up timeout due by ``now``."""
        ...

    async def next_due(self) -> float | None:
        """Return when the next timeout falls due (``None``: nothing pending), so a worker can sleep till then."""
        ...

    async def get_task(self, task_id: str) -> TaskView | None:
        """Return a task still in routing, or ``None``."""
        ...

    async def get_agent(self, agent_id: str) -> AgentState | None:
        """Return an agent's state, or ``None``."""
        ...

    async def get_agents(self, agent_ids: Sequence[str]) -> list[AgentState | None]:
        """Return the states of many agents in one read, in the order asked (``None`` for an unknown one)."""
        ...

    async def agent_reservations(self, agent_id: str) -> list[Reservation]:
        """Return the offers ringing for an agent now, oldest first (what the agent desktop shows)."""
        ...

    async def waiting_tasks(self, queue: str, now: float, limit: int | None = None) -> list[WaitingTask]:
        """List a queue's unanswered tasks in the order they will be served."""
        ...

    async def position(self, task_id: str) -> int | None:
        """Return a task's 1-based place in its queue, or ``None`` once answered or gone."""
        ...

    async def queue_statistics(self, queue: str, now: float, window: float) -> QueueStatistics:
        """Return one queue's live figures and its totals over the last ``window`` seconds."""
        ...

    async def agent_statistics(self, now: float, window: float) -> AgentStatistics:
        """Return agents by activity and occupancy over the last ``window`` seconds."""
        ...
