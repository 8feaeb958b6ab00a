"""The in-memory backend: the embedded default for a single app process.

The engine is synchronous and no method awaits anything before it returns, so each call is atomic with respect to
the event loop: two coroutines accepting the same offer run one after the other and exactly one wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.engine import RoutingEngine, RoutingSettings, TaskView, WaitingTask
from routing.errors import RoutingError
from routing.events import Event
from routing.models import Activity, AgentState, Reservation, Task
from routing.statistics import AgentStatistics, QueueStatistics, ServiceLevelPolicy, StatisticsLedger
from routing.workflows import RoutingRules

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Routing state in this process, with statistics folded from its own events."""

    def __init__(
        self,
        rules: RoutingRules | None = None,
        settings: RoutingSettings | None = None,
        policy: ServiceLevelPolicy | None = None,
        retention: float = 86_400.0,
    ) -> None:
        self.engine = RoutingEngine(rules, settings)
        self.ledger = StatisticsLedger(policy, retention)

    def _record(self, events: list[Event]) -> list[Event]:
        self.ledger.apply_all(events)
        return events

    async def upsert_agent(self, agent: AgentState, now: float) -> list[Event]:
        """Add an agent or update its profile and chosen activity."""
        return self._record(self.engine.upsert_agent(agent, now))

    async def remove_agent(self, agent_id: str, now: float) -> list[Event]:
        """Forget an agent; its ringing offers go back to their queues."""
        return self._record(self.engine.remove_agent(agent_id, now))

    async def set_activity(self, agent_id: str, activity: Activity, now: float) -> list[Event]:
        """Apply an activity the agent chose."""
        return self._record(self.engine.set_activity(agent_id, activity, now))

    async def submit(self, task: Task, now: float) -> list[Event]:
        """Queue a new task and offer it if an agent is free."""
        return self._record(self.engine.submit(task, now))

    async def submit_many(self, tasks: Sequence[Task], now: float) -> list[list[Event] | RoutingError]:
        """Queue tasks in order, each its own decision; a task refused gives its error in its place."""
        outcomes: list[list[Event] | RoutingError] = []
        for task in tasks:
            try:
                outcomes.append(self._record(self.engine.submit(task, now)))
            except RoutingError as exc:
                outcomes.append(exc)
        return outcomes

    async def accept(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Accept an offer."""
        return self._record(self.engine.accept(reservation_id, agent_id, now))

    async def reject(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Decline an offer."""
        return self._record(self.engine.reject(reservation_id, agent_id, now))

    async def complete(self, task_id: str, now: float, wrap_up: float = 0.0) -> list[Event]:
        """Finish an assigned task."""
        return self._record(self.engine.complete(task_id, now, wrap_up))

    async def abandon(self, task_id: str, now: float) -> list[Event]:
        """Record that the customer left."""
        return self._record(self.engine.abandon(task_id, now))

    async def tick(self, now: float) -> list[Event]:
        """Fire due timeouts."""
        return self._record(self.engine.tick(now))

    async def next_due(self) -> float | None:
        """Return when the next timeout falls due."""
        return self.engine.next_due()

    async def get_task(self, task_id: str) -> TaskView | None:
        """Return a task still in routing."""
        return self.engine.get_task(task_id)

    async def get_agent(self, agent_id: str) -> AgentState | None:
        """Return an agent's state."""
        return self.engine.get_agent(agent_id)

    async def get_agents(self, agent_ids: Sequence[str]) -> list[AgentState | None]:
        """Return the states of many agents, in the order asked."""
        return [self.engine.get_agent(agent_id) for agent_id in agent_ids]

    async def agent_reservations(self, agent_id: str) -> list[Reservation]:
        """Return the offers ringing for an agent now, oldest first."""
        return self.engine.agent_reservations(agent_id)

    async def waiting_tasks(self, queue: str, now: float, limit: int | None = None) -> list[WaitingTask]:
        """List a queue's unanswered tasks in serving order."""
        return self.engine.waiting_tasks(queue, now, limit)

    async def position(self, task_id: str) -> int | None:
        """Return a task's place in its queue."""
        return self.engine.position(task_id)

    async def queue_statistics(self, queue: str, now: float, window: float) -> QueueStatistics:
        """Return one queue's figures."""
        return self.ledger.queue(queue, now, window)

    async def agent_statistics(self, now: float, window: float) -> AgentStatistics:
        """Return agents by activity and occupancy."""
        return self.ledger.agents(now, window)
