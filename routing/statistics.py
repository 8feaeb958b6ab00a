"""Queue and agent statistics, folded from events with the contact-center industry's usual definitions.

Nothing here asks a backend anything: :class:`StatisticsLedger` only reads the events every backend returns, so the
figures are the same whichever backend produced them and can be rebuilt from a stored event stream.

Definitions, over the contacts whose queue wait *ended* inside the window ``[now - window, now]``:

* **offered** = answered + abandoned + sent to a leaving fallback (voicemail, callback), leaving out *short
  abandons*: customers who hung up within ``short_abandon`` seconds, before anyone could have answered.
* **service level** = answered within ``threshold`` seconds / offered (the "80/20" figure).
* **ASA** (average speed of answer) = total wait of answered contacts / answered.
* **AHT** (average handle time) = total (talk + wrap-up) / completed, for tasks completed in the window.
* **abandonment rate** = abandoned / offered.
* **occupancy** = time busy or wrapping up / time available, busy or wrapping up, summed over agents.

Live figures (waiting, longest wait, agents by activity) describe the instant ``now``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from routing.events import (
    AgentActivityChanged,
    Event,
    TaskAbandoned,
    TaskAccepted,
    TaskCompleted,
    TaskCreated,
    TaskFallback,
)
from routing.models import Activity

__all__ = [
    "AgentStatistics",
    "QueueStatistics",
    "ServiceLevelPolicy",
    "StatisticsLedger",
    "agent_figures",
    "queue_figures",
    "summarize",
]

# Outcome kinds, as stored per queue: (at, kind, value) where value is the wait, or the handle time once completed.
ANSWERED, ABANDONED, SHORT_ABANDONED, FALLBACK, COMPLETED = range(5)
_HANDLING = (Activity.BUSY, Activity.WRAP_UP)
_STAFFED = (Activity.AVAILABLE, Activity.BUSY, Activity.WRAP_UP)


@dataclass(frozen=True, slots=True)
class ServiceLevelPolicy:
    """How service level is counted: the answer threshold and the short-abandon rule."""

    threshold: float = 20.0
    short_abandon: float = 0.0
    """Abandons within this many seconds are left out of offered, abandoned and service level (0: none are)."""


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """One queue's figures: live counts at ``now`` and totals over the window (``None`` when undefined)."""

    queue: str
    waiting: int
    longest_wait: float
    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    short_abandoned: int
    fallen_back: int
    completed: int
    service_level: float | None
    average_speed_of_answer: float | None
    average_handle_time: float | None
    abandonment_rate: float | None


@dataclass(frozen=True, slots=True)
class AgentStatistics:
    """Agents by activity now, and occupancy over the window."""

    by_activity: Mapping[str, int]
    occupancy: float | None


@dataclass
class _AgentTrack:
    activity: Activity
    since: float
    history: deque[tuple[float, float, Activity]] = field(default_factory=deque)


class StatisticsLedger:
    """Fold events into per-queue outcome records and per-agent activity intervals, keeping ``retention`` s."""

    def __init__(self, policy: ServiceLevelPolicy | None = None, retention: float = 86_400.0) -> None:
        self.policy = policy or ServiceLevelPolicy()
        self.retention = retention
        self._waiting: dict[str, dict[str, float]] = {}
        self._outcomes: dict[str, deque[tuple[float, int, float]]] = {}
        self._agents: dict[str, _AgentTrack] = {}

    def apply(self, event: Event) -> None:
        """Take one event into account."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def _created(self, event: TaskCreated) -> None:
        self._waiting.setdefault(event.queue, {})[event.task_id] = event.created_at
        self._outcomes.setdefault(event.queue, deque())

    def _accepted(self, event: TaskAccepted) -> None:
        self._resolve(event.queue, event.task_id, event.at, ANSWERED, event.waited)

    def _abandoned(self, event: TaskAbandoned) -> None:
        short = event.waited < self.policy.short_abandon
        self._resolve(event.queue, event.task_id, event.at, SHORT_ABANDONED if short else ABANDONED, event.waited)

    def _fell_back(self, event: TaskFallback) -> None:
        # A task that stays queued after its last step is still waiting; only a leaving fallback ends the wait.
        if event.action != "queue":
            self._resolve(event.queue, event.task_id, event.at, FALLBACK, event.waited)

    def _completed(self, event: TaskCompleted) -> None:
        self._record(event.queue, event.at, COMPLETED, event.handle_time)

    _handlers: ClassVar[dict[type[Event], Callable[[StatisticsLedger, Any], None]]] = {
        TaskCreated: _created,
        TaskAccepted: _accepted,
        TaskAbandoned: _abandoned,
        TaskFallback: _fell_back,
        TaskCompleted: _completed,
        AgentActivityChanged: lambda ledger, event: ledger._agent_changed(event),
    }

    def apply_all(self, events: Iterable[Event]) -> None:
        """Take several events into account, in order."""
        for event in events:
            self.apply(event)

    def queues(self) -> list[str]:
        """Return every queue seen so far."""
        return sorted(set(self._outcomes) | set(self._waiting))

    def queue(self, queue: str, now: float, window: float) -> QueueStatistics:
        """Return one queue's figures at ``now`` over the last ``window`` seconds."""
        waiting = self._waiting.get(queue, {})
        outcomes = reversed(self._outcomes.get(queue, deque()))
        return queue_figures(queue, waiting.values(), outcomes, self.policy.threshold, now, window)

    def agents(self, now: float, window: float) -> AgentStatistics:
        """Return agents by activity at ``now`` and occupancy over the last ``window`` seconds."""
        tracks = ((track.activity, track.since, track.history) for track in self._agents.values())
        return agent_figures(tracks, now, window)

    def _resolve(self, queue: str, task_id: str, at: float, kind: int, wait: float) -> None:
        waiting = self._waiting.get(queue)
        if waiting is not None:
            waiting.pop(task_id, None)
        self._record(queue, at, kind, wait)

    def _record(self, queue: str, at: float, kind: int, value: float) -> None:
        outcomes = self._outcomes.setdefault(queue, deque())
        outcomes.append((at, kind, value))
        horizon = at - self.retention
        while outcomes and outcomes[0][0] < horizon:
            outcomes.popleft()

    def _agent_changed(self, event: AgentActivityChanged) -> None:
        track = self._agents.get(event.agent_id)
        if track is None:
            self._agents[event.agent_id] = _AgentTrack(activity=event.activity, since=event.at)
            return
        if event.at > track.since:
            track.history.append((track.since, event.at, track.activity))
        track.activity = event.activity
        track.since = event.at
        horizon = event.at - self.retention
        while track.history and track.history[0][1] < horizon:
            track.history.popleft()


def queue_figures(
    queue: str,
    waiting_since: Iterable[float],
    outcomes_newest_first: Iterable[tuple[float, int, float]],
    threshold: float,
    now: float,
    window: float,
) -> QueueStatistics:
    """Fold one queue's waiting tasks (their creation times) and outcome records, newest first, into figures.

    This is the one place the definitions live: the ledger calls it on its own records and the Redis backend on
    the records it keeps in Redis. Records are read until the first one older than the window.
    """
    created = list(waiting_since)
    longest = max((now - at for at in created), default=0.0)
    start = now - window
    counts = [0] * 5
    sums = [0.0] * 5
    within = 0
    for at, kind, value in outcomes_newest_first:
        if at < start:
            break
        if at > now:
            continue
        counts[kind] += 1
        sums[kind] += value
        if kind == ANSWERED and value <= threshold:
            within += 1
    answered, abandoned, fallen_back = counts[ANSWERED], counts[ABANDONED], counts[FALLBACK]
    offered = answered + abandoned + fallen_back
    completed = counts[COMPLETED]
    return QueueStatistics(
        queue=queue,
        waiting=len(created),
        longest_wait=max(longest, 0.0),
        offered=offered,
        answered=answered,
        answered_within_threshold=within,
        abandoned=abandoned,
        short_abandoned=counts[SHORT_ABANDONED],
        fallen_back=fallen_back,
        completed=completed,
        service_level=within / offered if offered else None,
        average_speed_of_answer=sums[ANSWERED] / answered if answered else None,
        average_handle_time=sums[COMPLETED] / completed if completed else None,
        abandonment_rate=abandoned / offered if offered else None,
    )


def agent_figures(
    tracks: Iterable[tuple[Activity, float, Iterable[tuple[float, float, Activity]]]], now: float, window: float
) -> AgentStatistics:
    """Fold agents' tracks (activity now, since when, and earlier spans) into counts by activity and occupancy."""
    by_activity = {str(activity): 0 for activity in Activity}
    handling = staffed = 0.0
    start = now - window
    for activity_now, since, history in tracks:
        by_activity[str(activity_now)] += 1
        spans = [*history, (since, now, activity_now)]
        for begin, end, activity in spans:
            overlap = min(end, now) - max(begin, start)
            if overlap <= 0 or activity not in _STAFFED:
                continue
            staffed += overlap
            if activity in _HANDLING:
                handling += overlap
    return AgentStatistics(by_activity=by_activity, occupancy=handling / staffed if staffed > 0 else None)


def summarize(
    events: Iterable[Event], now: float, window: float, policy: ServiceLevelPolicy | None = None
) -> tuple[dict[str, QueueStatistics], AgentStatistics]:
    """Compute every queue's figures and the agents' from a list of events."""
    ledger = StatisticsLedger(policy, retention=max(window, 0.0) + 1.0)
    ledger.apply_all(events)
    return {queue: ledger.queue(queue, now, window) for queue in ledger.queues()}, ledger.agents(now, window)
