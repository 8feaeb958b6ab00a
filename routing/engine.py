"""The routing engine: every decision, made on indexed in-memory state.

This is the in-memory backend's brain (:class:`routing.memory.MemoryBackend` is its async face) and what the
simulator and the benchmark drive. Each public method is one decision: it takes ``now``, changes state and returns
the events it caused; a method that raises has changed nothing.

How a decision avoids scanning everyone:

* Agents with free capacity sit in sorted buckets per (channel, skill, level), (channel, team),
  (channel, language) and channel, ordered by idle time. A task looks only at the buckets of its requirement's
  primary skill, from level 10 down to the minimum, and stops at the first qualified agents.
* Waiting tasks sit in pools of equal :class:`~routing.matching.Requirement`, each a sorted list ordered by the
  time-free :func:`~routing.priority.priority_key` (a plain list while small, a ``SortedList`` past a few thousand
  entries). A task leaving a pool (offered, widened to the next workflow step, abandoned) is removed from it at once,
  so a pool never holds stale entries and never needs an O(n) clean-up in the middle of one unlucky decision. Pools
  are indexed by their pivot (primary skill, team, language, listed agents or channel), and each agent keeps the
  list of unlisted pools it qualifies for (unlisted pools stay registered once empty, so the lists only grow when a
  new kind of pool appears), so an agent with free capacity only compares the heads of its pools.
* Bucket upkeep is deferred: a decision marks the agents it touches and re-files them once, before the next bucket
  read or as it returns, so an agent freed and offered the next task at one instant touches no bucket.
* A count of free agents per (channel, skill) lets a task whose primary skill has no free agent at all (the normal
  case in a busy center, where every agent works at capacity) skip its ten level buckets without a lookup.
* Timeouts (offers, workflow steps, wrap-up) wait in one heap of timers; :meth:`RoutingEngine.tick` pops due ones.

Invariant kept after every call: no waiting task has an available, qualified, non-excluded agent with free
capacity on its channel. Tasks are therefore only matched when they arrive or widen (task side) and when an agent
gains capacity or skills (agent side).
"""

from __future__ import annotations

import functools
import heapq
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Concatenate, ParamSpec

from sortedcontainers import SortedList

from routing.errors import (
    InvalidTransition,
    ReservationExpired,
    ReservationGone,
    ReservationNotYours,
    UnknownAgent,
    UnknownTask,
)
from routing.events import (
    AgentActivityChanged,
    Event,
    ReservationTimedOut,
    TaskAbandoned,
    TaskAccepted,
    TaskCompleted,
    TaskCreated,
    TaskFallback,
    TaskRejected,
    TaskReserved,
    WorkflowStepChanged,
)
from routing.matching import Requirement, Strategy, preference_score, qualifies
from routing.models import CALL_CHANNEL, MAX_SKILL_LEVEL, Activity, AgentState, Reservation, Task, TaskStatus
from routing.priority import PriorityWeights, priority_key, score
from routing.workflows import FallbackAction, RoutePlan, RoutingRules

__all__ = ["RoutingEngine", "RoutingSettings", "TaskView", "WaitingTask"]

_ROUTABLE = (Activity.AVAILABLE, Activity.BUSY)
_SETTABLE = (Activity.AVAILABLE, Activity.AWAY, Activity.OFFLINE)
_NO_EXCLUSIONS: frozenset[str] = frozenset()
_SERVICEABLE_CACHE_LIMIT = 10_000
# Pools up to this many entries are plain sorted lists (see _Pool).
_PLAIN_POOL_LIMIT = 4096

# A bucket entry: (idle since, the agent's creation order, agent id). The order number is unique, so sorting never
# reaches the id and two agents idle since the same instant keep a stable order.
_Entry = tuple[float, int, str]
# A pool entry: (priority key, insertion sequence, task id).
_PoolEntry = tuple[float, int, str]
# A timer: (due, sequence, kind, id, token).
_Timer = tuple[float, int, str, str, int]
_BucketKey = tuple[str | int, ...]
_Params = ParamSpec("_Params")


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Engine-wide knobs; a queue's YAML may override ``reservation_timeout``."""

    reservation_timeout: float = 15.0
    """Seconds an offer waits for the agent's answer."""
    max_consecutive_misses: int = 3
    """Offers an agent may let time out in a row before being set away (0: never)."""
    count_rejections_as_misses: bool = False
    """Whether an explicit rejection counts towards ``max_consecutive_misses`` like a time-out."""
    strategy: Strategy = Strategy.BEST_SKILL
    lookahead: int = 8
    """How many qualified agents at the best level ``best_skill`` compares on preferred skills."""
    weights: PriorityWeights = field(default_factory=PriorityWeights)

    def __post_init__(self) -> None:
        if self.reservation_timeout <= 0:
            raise ValueError("reservation_timeout must be positive")
        if self.max_consecutive_misses < 0 or self.lookahead < 1:
            raise ValueError("max_consecutive_misses must be >= 0 and lookahead >= 1")


@dataclass(frozen=True, slots=True)
class TaskView:
    """A snapshot of one task inside the engine."""

    task: Task
    status: TaskStatus
    step_index: int
    step: str
    priority_key: float
    unserviceable: bool
    reservation: Reservation | None
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class WaitingTask:
    """A task not yet answered, as a queue listing shows it (position 1 is served first)."""

    task_id: str
    queue: str
    status: TaskStatus
    position: int
    waited: float
    score: float
    step: str


class _Agent:
    __slots__ = (
        "activity",
        "buckets",
        "call_blocks",
        "capacity",
        "channels",
        "entry",
        "id",
        "idle_since",
        "languages",
        "load",
        "misses",
        "order",
        "pools",
        "reservations",
        "skills",
        "team",
        "total_load",
        "wrap_slots",
        "wrap_token",
        "wrap_until",
    )

    def __init__(self, state: AgentState, order: int, now: float) -> None:
        self.id = state.id
        self.order = order
        self.activity = Activity.OFFLINE
        self.skills: dict[str, int] = dict(state.skills)
        self.languages = frozenset(state.languages)
        self.team = state.team
        self.capacity: dict[str, int] = dict(state.capacity)
        self.call_blocks = state.call_blocks_other_channels
        self.load: dict[str, int] = {}
        self.total_load = 0
        self.idle_since = now
        self.misses = 0
        self.entry: _Entry | None = None
        self.buckets: list[_BucketKey] = []
        # The channels the buckets were filled for, so that a call ending where it began touches no bucket.
        self.channels: list[str] = []
        # Per channel it works on, the unlisted pools this agent qualifies for: kept by _list_pools when its profile
        # changes and by _enqueue when a new pool appears, so looking for work runs no qualification test.
        self.pools: dict[str, list[_Pool]] = {}
        self.reservations: dict[str, None] = {}
        self.wrap_slots: list[str] = []
        self.wrap_token = 0
        self.wrap_until = 0.0

    def open_channels(self) -> list[str]:
        """Return the channels on which this agent can take one more task now."""
        if self.activity not in _ROUTABLE:
            return []
        load = self.load
        blocked = self.call_blocks and load.get(CALL_CHANNEL, 0) > 0
        return [
            channel
            for channel, slots in self.capacity.items()
            if load.get(channel, 0) < slots and (not blocked or channel == CALL_CHANNEL)
        ]

    def qualifies(self, requirement: Requirement) -> bool:
        return qualifies(requirement, self.id, self.skills, self.languages, self.team)

    def snapshot(self) -> AgentState:
        return AgentState(
            id=self.id,
            activity=self.activity,
            skills=dict(self.skills),
            languages=self.languages,
            team=self.team,
            capacity=dict(self.capacity),
            call_blocks_other_channels=self.call_blocks,
            load={channel: count for channel, count in self.load.items() if count},
            idle_since=self.idle_since,
            consecutive_misses=self.misses,
        )


class _Task:
    __slots__ = (
        "accepted_at",
        "agent_id",
        "agent_order",
        "excluded",
        "exhausted",
        "fallback_due",
        "key",
        "plan",
        "pool",
        "reservation",
        "seq",
        "status",
        "step",
        "task",
        "unserviceable",
    )

    def __init__(self, task: Task, plan: RoutePlan, key: float) -> None:
        self.task = task
        self.plan = plan
        self.key = key
        self.step = 0
        self.status = TaskStatus.WAITING
        self.pool: _Pool | None = None
        self.seq = 0
        self.excluded: frozenset[str] | set[str] = _NO_EXCLUSIONS
        self.reservation: Reservation | None = None
        self.agent_id: str | None = None
        # Which incarnation of the agent holds the task: an agent removed while assigned and added again under the
        # same id is a new agent with no load, and must not have the old task's slot released from it.
        self.agent_order = 0
        self.accepted_at = 0.0
        self.unserviceable = False
        self.fallback_due = False
        self.exhausted = False

    @property
    def requirement(self) -> Requirement:
        return self.plan.steps[self.step].requirement


class _Pool:
    """Waiting tasks sharing one requirement, sorted by priority key (the first entry is served first)."""

    __slots__ = ("entries", "head", "keys", "requirement")

    def __init__(self, requirement: Requirement, keys: list[_BucketKey], first: _PoolEntry) -> None:
        self.requirement = requirement
        self.keys = keys
        # A plain sorted list while small (an insert or removal is one bisect and a short memmove), a SortedList
        # once it grows past _PLAIN_POOL_LIMIT, where moving the whole list on every change would cost more.
        self.entries: list[_PoolEntry] | SortedList[_PoolEntry] = [first]
        # The first entry (``None`` once empty), kept at hand: agents compare pool heads on every decision.
        self.head: _PoolEntry | None = first

    def add(self, entry: _PoolEntry) -> None:
        """Insert a task's entry."""
        entries = self.entries
        if isinstance(entries, list):
            insort(entries, entry)
            if len(entries) > _PLAIN_POOL_LIMIT:
                self.entries = SortedList(entries)
        else:
            entries.add(entry)
        if self.head is None or entry < self.head:
            self.head = entry

    def remove(self, entry: _PoolEntry) -> bool:
        """Remove a task's entry; return whether the pool still holds any."""
        entries = self.entries
        if isinstance(entries, list):
            del entries[bisect_left(entries, entry)]
        else:
            entries.remove(entry)
        if not entries:
            self.head = None
            return False
        if entry == self.head:
            self.head = entries[0]
        return True


def _synced(
    decision: Callable[Concatenate[RoutingEngine, _Params], list[Event]],
) -> Callable[Concatenate[RoutingEngine, _Params], list[Event]]:
    """Wrap a decision so that the buckets of the agents it touched are brought up to date as it returns."""

    @functools.wraps(decision)
    def decide(engine: RoutingEngine, /, *args: _Params.args, **kwargs: _Params.kwargs) -> list[Event]:
        try:
            return decision(engine, *args, **kwargs)
        finally:
            engine._sync()

    return decide


def _pool_keys(requirement: Requirement) -> list[_BucketKey]:
    """Return the index keys an agent looks a pool up by: its most selective facet."""
    channel = requirement.channel
    if requirement.agents is not None:
        return [("g", channel, agent) for agent in sorted(requirement.agents)]
    if requirement.skills:
        return [("s", channel, requirement.skills[0][0])]
    if requirement.team is not None:
        return [("t", channel, requirement.team)]
    if requirement.languages:
        return [("l", channel, min(requirement.languages))]
    return [("a", channel)]


def _serving_order(record: _Task) -> tuple[bool, float, float, str]:
    """Order unanswered tasks as they will be served: those ringing first, then by priority."""
    return (record.status is not TaskStatus.RESERVED, record.key, record.task.created_at, record.task.id)


class RoutingEngine:
    """Skills- and value-based routing over in-memory indexes; one method per decision."""

    def __init__(self, rules: RoutingRules | None = None, settings: RoutingSettings | None = None) -> None:
        self.rules = rules or RoutingRules()
        self.settings = settings or RoutingSettings()
        self._agents: dict[str, _Agent] = {}
        self._tasks: dict[str, _Task] = {}
        self._reservations: dict[str, Reservation] = {}
        self._available: dict[_BucketKey, list[_Entry]] = {}
        # Agents with free capacity per (channel, skill), whatever their level: the sum of the level buckets' sizes.
        self._free_skill: dict[tuple[str, str], int] = {}
        self._pools: dict[Requirement, _Pool] = {}
        self._pool_index: dict[_BucketKey, dict[_Pool, None]] = {}
        # Agents whose buckets may be stale: bucket upkeep runs once per call (_sync), not once per change.
        self._dirty: dict[_Agent, None] = {}
        self._in_queue: dict[str, dict[str, None]] = {}
        self._timers: list[_Timer] = []
        self._roster_by_skill: dict[str, dict[str, None]] = {}
        self._serviceable: dict[Requirement, bool] = {}
        self._sequence = 0
        self._agent_order = 0

    # ----------------------------------------------------------------- agents

    @_synced
    def upsert_agent(self, state: AgentState, now: float) -> list[Event]:
        """Add an agent or update its profile; ``state.activity`` applies as if the agent had chosen it.

        ``busy`` and ``wrap_up`` are the engine's to set, so they read as ``available``. An existing agent keeps
        its load, misses and idle time.
        """
        events: list[Event] = []
        wanted = Activity.AVAILABLE if state.activity in (Activity.BUSY, Activity.WRAP_UP) else state.activity
        agent = self._agents.get(state.id)
        if agent is None:
            self._agent_order += 1
            agent = _Agent(state, self._agent_order, now)
            self._agents[agent.id] = agent
        else:
            self._unindex(agent)
            self._roster_remove(agent)
            agent.skills = dict(state.skills)
            agent.languages = frozenset(state.languages)
            agent.team = state.team
            agent.capacity = dict(state.capacity)
            agent.call_blocks = state.call_blocks_other_channels
        self._roster_add(agent)
        self._list_pools(agent)
        self._touch(agent)
        already_working = wanted is Activity.AVAILABLE and agent.activity not in (Activity.AWAY, Activity.OFFLINE)
        if wanted is not agent.activity and not already_working:
            self._apply_activity(agent, wanted, now, events, "requested")
        else:
            self._feed(agent, now, events)
        return events

    @_synced
    def remove_agent(self, agent_id: str, now: float) -> list[Event]:
        """Sign an agent out and forget it; its open offers go back to their queues."""
        agent = self._agent(agent_id)
        events: list[Event] = []
        if agent.activity is not Activity.OFFLINE:
            self._apply_activity(agent, Activity.OFFLINE, now, events, "removed")
        self._unindex(agent)
        self._dirty.pop(agent, None)
        self._roster_remove(agent)
        del self._agents[agent_id]
        return events

    @_synced
    def set_activity(self, agent_id: str, activity: Activity, now: float) -> list[Event]:
        """Apply an activity the agent chose: ``available`` (ends wrap-up too), ``away`` or ``offline``."""
        activity = Activity(activity)
        if activity not in _SETTABLE:
            raise InvalidTransition(f"activity {activity!s} is set by the engine, not by agents")
        agent = self._agent(agent_id)
        events: list[Event] = []
        if activity is Activity.AVAILABLE and agent.activity in _ROUTABLE:
            return events
        if activity is agent.activity:
            return events
        self._apply_activity(agent, activity, now, events, "requested")
        return events

    def get_agent(self, agent_id: str) -> AgentState | None:
        """Return a snapshot of one agent, or ``None``."""
        agent = self._agents.get(agent_id)
        return None if agent is None else agent.snapshot()

    def agent_reservations(self, agent_id: str) -> list[Reservation]:
        """Return the offers ringing for an agent now, oldest first."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return []
        return [self._reservations[reservation_id] for reservation_id in agent.reservations]

    def agents(self) -> Iterator[AgentState]:
        """Yield a snapshot of every known agent."""
        for agent in self._agents.values():
            yield agent.snapshot()

    # ------------------------------------------------------------------ tasks

    @_synced
    def submit(self, task: Task, now: float) -> list[Event]:
        """Accept a new task: offer it at once if an agent qualifies, else queue it.

        A task that no known agent could ever serve at any step is still accepted, flagged ``unserviceable`` and
        sent to its workflow's fallback.
        """
        if task.id in self._tasks:
            raise InvalidTransition(f"task {task.id!r} is already in the engine")
        plan = self.rules.plan(task)
        record = _Task(task, plan, priority_key(task, self.settings.weights))
        serviceable = any(self._could_serve(step.requirement) for step in plan.steps)
        step = min(plan.step_at(now), max(len(plan.steps) - 1, 0))
        step_name = plan.steps[step].name if plan.steps else ""
        events: list[Event] = [
            TaskCreated(
                at=now,
                task_id=task.id,
                queue=task.queue,
                channel=task.channel,
                created_at=task.created_at,
                value=task.value,
                step=step_name,
                unserviceable=not serviceable,
            )
        ]
        record.step = step
        record.unserviceable = not serviceable
        self._tasks[task.id] = record
        self._in_queue.setdefault(task.queue, {})[task.id] = None
        if not serviceable:
            self._fallback(record, now, events, "unserviceable")
            if task.id not in self._tasks:
                return events
        elif plan.step_at(now) >= len(plan.steps):
            # Created so long ago that every step has already timed out.
            self._fallback(record, now, events, "timeout")
            if task.id not in self._tasks:
                return events
        self._enqueue(record)
        self._schedule_step(record)
        self._place(record, now, events)
        return events

    def accept(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Accept an offer: the task is assigned to the agent. Raises a ReservationConflict when it cannot be."""
        reservation = self._open_reservation(reservation_id, agent_id, now)
        del self._reservations[reservation_id]
        record = self._tasks[reservation.task_id]
        record.status = TaskStatus.ASSIGNED
        record.reservation = None
        record.accepted_at = now
        self._leave_queue(record)
        agent = self._agents.get(agent_id)
        if agent is not None:
            del agent.reservations[reservation_id]
            agent.misses = 0
        task = record.task
        return [
            TaskAccepted(
                at=now,
                task_id=task.id,
                queue=task.queue,
                channel=task.channel,
                agent_id=agent_id,
                reservation_id=reservation_id,
                waited=now - task.created_at,
            )
        ]

    @_synced
    def reject(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Decline an offer: the task goes back to its queue and will not be offered to this agent again."""
        reservation = self._open_reservation(reservation_id, agent_id, now)
        events: list[Event] = []
        rejected = TaskRejected(
            at=now,
            task_id=reservation.task_id,
            queue=reservation.queue,
            agent_id=agent_id,
            reservation_id=reservation_id,
            reason="rejected",
        )
        self._end_offer(reservation, now, events, rejected, exclude=True, miss=self.settings.count_rejections_as_misses)
        return events

    @_synced
    def complete(self, task_id: str, now: float, wrap_up: float = 0.0) -> list[Event]:
        """Finish an assigned task; the agent then wraps up for ``wrap_up`` seconds before new offers."""
        record = self._task(task_id)
        if record.status is not TaskStatus.ASSIGNED:
            raise InvalidTransition(f"task {task_id!r} is {record.status!s}, not assigned")
        if wrap_up < 0:
            raise ValueError("wrap_up cannot be negative")
        del self._tasks[task_id]
        task = record.task
        agent_id = record.agent_id or ""
        events: list[Event] = [
            TaskCompleted(
                at=now,
                task_id=task_id,
                queue=task.queue,
                channel=task.channel,
                agent_id=agent_id,
                handle_time=now - record.accepted_at + wrap_up,
                wrap_up=wrap_up,
            )
        ]
        agent = self._agents.get(agent_id)
        if agent is None or agent.order != record.agent_order:
            return events
        if wrap_up > 0 and (agent.activity in _ROUTABLE or agent.activity is Activity.WRAP_UP):
            self._touch(agent)
            agent.wrap_slots.append(task.channel)
            agent.wrap_until = max(agent.wrap_until, now + wrap_up)
            agent.wrap_token = self._next_sequence()
            self._push_timer(agent.wrap_until, "wrap", agent.id, agent.wrap_token)
            if agent.activity is not Activity.WRAP_UP:
                self._change(agent, Activity.WRAP_UP, now, events, "wrap_up")
            return events
        self._touch(agent)
        self._release(agent, task.channel)
        agent.idle_since = now
        self._refresh_activity(agent, now, events, "task_completed")
        self._feed(agent, now, events)
        return events

    @_synced
    def abandon(self, task_id: str, now: float) -> list[Event]:
        """Record that the customer left before being answered; a ringing offer is withdrawn."""
        record = self._task(task_id)
        if record.status is TaskStatus.ASSIGNED:
            raise InvalidTransition(f"task {task_id!r} is already assigned; complete it instead")
        task = record.task
        events: list[Event] = [TaskAbandoned(at=now, task_id=task_id, queue=task.queue, waited=now - task.created_at)]
        self._drop(record)
        reservation = record.reservation
        if reservation is not None:
            del self._reservations[reservation.id]
            agent = self._agents.get(reservation.agent_id)
            if agent is not None:
                del agent.reservations[reservation.id]
                self._touch(agent)
                self._release(agent, reservation.channel)
                self._refresh_activity(agent, now, events, "offer_withdrawn")
                self._feed(agent, now, events)
        return events

    def get_task(self, task_id: str) -> TaskView | None:
        """Return a snapshot of one task still in the engine, or ``None``."""
        record = self._tasks.get(task_id)
        if record is None:
            return None
        steps = record.plan.steps
        return TaskView(
            task=record.task,
            status=record.status,
            step_index=record.step,
            step=steps[record.step].name if steps else "",
            priority_key=record.key,
            unserviceable=record.unserviceable,
            reservation=record.reservation,
            agent_id=record.agent_id,
        )

    def waiting_tasks(self, queue: str, now: float, limit: int | None = None) -> list[WaitingTask]:
        """List a queue's unanswered tasks in the order they will be served: ringing ones, then by priority."""
        ids = self._in_queue.get(queue, {})
        records = sorted((self._tasks[task_id] for task_id in ids), key=_serving_order)
        if limit is not None:
            records = records[:limit]
        weights = self.settings.weights
        return [
            WaitingTask(
                task_id=record.task.id,
                queue=queue,
                status=record.status,
                position=position,
                waited=now - record.task.created_at,
                score=score(record.task, now, weights),
                step=record.plan.steps[record.step].name if record.plan.steps else "",
            )
            for position, record in enumerate(records, start=1)
        ]

    def position(self, task_id: str) -> int | None:
        """Return the task's 1-based place among its queue's unanswered tasks, or ``None`` once answered."""
        record = self._tasks.get(task_id)
        if record is None or record.status is TaskStatus.ASSIGNED:
            return None
        mine = _serving_order(record)
        ahead = sum(
            1
            for other_id in self._in_queue.get(record.task.queue, {})
            if (other := self._tasks[other_id]) is not record and _serving_order(other) < mine
        )
        return ahead + 1

    def queues(self) -> list[str]:
        """Return the names of queues that currently hold unanswered tasks."""
        return [queue for queue, ids in self._in_queue.items() if ids]

    # ------------------------------------------------------------------ time

    @_synced
    def tick(self, now: float) -> list[Event]:
        """Fire every timer due by ``now``: offer time-outs, workflow step changes, ends of wrap-up."""
        events: list[Event] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, kind, ref, token = heapq.heappop(timers)
            if kind == "offer":
                reservation = self._reservations.get(ref)
                if reservation is not None:
                    timed_out = ReservationTimedOut(
                        at=now,
                        task_id=reservation.task_id,
                        queue=reservation.queue,
                        agent_id=reservation.agent_id,
                        reservation_id=reservation.id,
                    )
                    self._end_offer(reservation, now, events, timed_out, exclude=True, miss=True)
            elif kind == "step":
                record = self._tasks.get(ref)
                if record is not None and record.step == token and record.status is not TaskStatus.ASSIGNED:
                    self._next_step(record, now, events)
            else:
                agent = self._agents.get(ref)
                if agent is not None and agent.wrap_token == token and agent.activity is Activity.WRAP_UP:
                    self._apply_activity(agent, Activity.AVAILABLE, now, events, "wrap_up_ended")
        return events

    def next_due(self) -> float | None:
        """Return when the earliest live timer fires, or ``None``; callers sleep until then and call tick()."""
        timers = self._timers
        while timers and not self._timer_live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    # ------------------------------------------------------------- internals

    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"no agent {agent_id!r}")
        return agent

    def _task(self, task_id: str) -> _Task:
        record = self._tasks.get(task_id)
        if record is None:
            raise UnknownTask(f"no task {task_id!r}")
        return record

    def _open_reservation(self, reservation_id: str, agent_id: str, now: float) -> Reservation:
        reservation = self._reservations.get(reservation_id)
        if reservation is None:
            raise ReservationGone(reservation_id, "is no longer open (accepted, rejected, timed out or withdrawn)")
        if reservation.agent_id != agent_id:
            raise ReservationNotYours(reservation_id, f"was offered to another agent, not {agent_id!r}")
        if now >= reservation.expires_at:
            raise ReservationExpired(reservation_id, f"expired at {reservation.expires_at:.3f}")
        return reservation

    def _timer_live(self, timer: _Timer) -> bool:
        _, _, kind, ref, token = timer
        if kind == "offer":
            return ref in self._reservations
        if kind == "step":
            # An answered task has left its workflow: its step deadlines no longer mean anything.
            record = self._tasks.get(ref)
            return record is not None and record.step == token and record.status is not TaskStatus.ASSIGNED
        agent = self._agents.get(ref)
        return agent is not None and agent.wrap_token == token and agent.activity is Activity.WRAP_UP

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _push_timer(self, due: float, kind: str, ref: str, token: int) -> None:
        heapq.heappush(self._timers, (due, self._next_sequence(), kind, ref, token))

    # Agent indexes.

    def _touch(self, agent: _Agent) -> None:
        """Note that the agent's load, activity or idle time may change: its buckets follow at the next sync."""
        self._dirty[agent] = None

    def _sync(self) -> None:
        """Bring the buckets of every agent touched since the last sync up to date (before reading them)."""
        dirty = self._dirty
        if not dirty:
            return
        agents = self._agents
        for agent in dirty:
            if agents.get(agent.id) is agent:
                self._reindex(agent)
        dirty.clear()

    def _reindex(self, agent: _Agent) -> None:
        channels = agent.open_channels()
        entry = agent.entry
        if entry is None and not channels:
            return
        if entry is not None and entry[0] == agent.idle_since and channels == agent.channels:
            # Freed and offered the next task at one instant: the buckets already say so.
            return
        self._unindex(agent)
        self._index(agent, channels)

    def _index(self, agent: _Agent, channels: list[str]) -> None:
        """Put the agent in the buckets of ``channels``, those it can take work on now."""
        if not channels:
            return
        entry: _Entry = (agent.idle_since, agent.order, agent.id)
        agent.entry = entry
        agent.channels = channels
        buckets = agent.buckets
        available = self._available
        free_skill = self._free_skill
        for channel in channels:
            for skill in agent.skills:
                free_skill[channel, skill] = free_skill.get((channel, skill), 0) + 1
            keys: list[_BucketKey] = [("s", channel, skill, level) for skill, level in agent.skills.items()]
            if agent.team is not None:
                keys.append(("t", channel, agent.team))
            keys.extend(("l", channel, language) for language in agent.languages)
            keys.append(("a", channel))
            for key in keys:
                bucket = available.get(key)
                if bucket is None:
                    available[key] = [entry]
                else:
                    insort(bucket, entry)
                buckets.append(key)

    def _unindex(self, agent: _Agent) -> None:
        entry = agent.entry
        if entry is None:
            return
        available = self._available
        free_skill = self._free_skill
        for key in agent.buckets:
            bucket = available[key]
            del bucket[bisect_left(bucket, entry)]
            if key[0] == "a":
                # One ("a", channel) bucket per open channel: the channels whose skill counts _index raised.
                channel = str(key[1])
                for skill in agent.skills:
                    free_skill[channel, skill] -= 1
        agent.buckets = []
        agent.channels = []
        agent.entry = None

    def _roster_add(self, agent: _Agent) -> None:
        for skill in agent.skills:
            self._roster_by_skill.setdefault(skill, {})[agent.id] = None
        self._serviceable.clear()

    def _roster_remove(self, agent: _Agent) -> None:
        for skill in agent.skills:
            members = self._roster_by_skill.get(skill)
            if members is not None:
                members.pop(agent.id, None)
        self._serviceable.clear()

    def _could_serve(self, requirement: Requirement) -> bool:
        """Tell whether any known agent, in any activity, could ever take tasks with this requirement."""
        known = self._serviceable.get(requirement)
        if known is not None:
            return known
        if requirement.agents is not None:
            candidates: list[_Agent | None] = [self._agents.get(agent_id) for agent_id in requirement.agents]
        elif requirement.skills:
            by_skill = self._roster_by_skill.get(requirement.skills[0][0], {})
            candidates = [self._agents[agent_id] for agent_id in by_skill]
        else:
            candidates = list(self._agents.values())
        channel = requirement.channel
        found = any(
            agent is not None and agent.capacity.get(channel, 0) > 0 and agent.qualifies(requirement)
            for agent in candidates
        )
        if len(self._serviceable) >= _SERVICEABLE_CACHE_LIMIT:
            self._serviceable.clear()
        self._serviceable[requirement] = found
        return found

    # Activities and load.

    def _change(self, agent: _Agent, activity: Activity, now: float, events: list[Event], reason: str) -> None:
        previous = agent.activity
        agent.activity = activity
        events.append(
            AgentActivityChanged(at=now, agent_id=agent.id, previous=previous, activity=activity, reason=reason)
        )

    def _refresh_activity(self, agent: _Agent, now: float, events: list[Event], reason: str) -> None:
        """Switch an agent between available and busy to match whether it holds any work."""
        if agent.activity not in _ROUTABLE:
            return
        wanted = Activity.BUSY if agent.total_load else Activity.AVAILABLE
        if wanted is not agent.activity:
            self._change(agent, wanted, now, events, reason)

    def _release(self, agent: _Agent, channel: str) -> None:
        agent.load[channel] -= 1
        agent.total_load -= 1

    def _release_wrap_up(self, agent: _Agent) -> None:
        for channel in agent.wrap_slots:
            self._release(agent, channel)
        agent.wrap_slots = []
        agent.wrap_token = self._next_sequence()

    def _apply_activity(self, agent: _Agent, activity: Activity, now: float, events: list[Event], reason: str) -> None:
        """Move an agent to a chosen activity, with everything that follows from it."""
        self._touch(agent)
        self._release_wrap_up(agent)
        if activity is Activity.AVAILABLE:
            agent.misses = 0
            agent.idle_since = now
            self._change(agent, Activity.BUSY if agent.total_load else Activity.AVAILABLE, now, events, reason)
            self._feed(agent, now, events)
            return
        self._change(agent, activity, now, events, reason)
        # Offers still ringing for an agent who left go straight to someone else, without blame.
        for reservation_id in list(agent.reservations):
            reservation = self._reservations[reservation_id]
            withdrawn = TaskRejected(
                at=now,
                task_id=reservation.task_id,
                queue=reservation.queue,
                agent_id=agent.id,
                reservation_id=reservation_id,
                reason="agent_unavailable",
            )
            self._end_offer(reservation, now, events, withdrawn, exclude=False, miss=False)

    # Matching.

    def _reserve(self, record: _Task, agent: _Agent, now: float, events: list[Event]) -> None:
        self._dequeue(record)
        task = record.task
        self._sequence += 1
        timeout = record.plan.reservation_timeout or self.settings.reservation_timeout
        reservation = Reservation(
            id=f"R{self._sequence}",
            task_id=task.id,
            agent_id=agent.id,
            queue=task.queue,
            channel=task.channel,
            offered_at=now,
            expires_at=now + timeout,
        )
        self._reservations[reservation.id] = reservation
        record.status = TaskStatus.RESERVED
        record.reservation = reservation
        record.agent_id = agent.id
        record.agent_order = agent.order
        self._touch(agent)
        agent.load[task.channel] = agent.load.get(task.channel, 0) + 1
        agent.total_load += 1
        agent.idle_since = now
        agent.reservations[reservation.id] = None
        events.append(
            TaskReserved(
                at=now,
                task_id=task.id,
                queue=task.queue,
                channel=task.channel,
                agent_id=agent.id,
                reservation_id=reservation.id,
                expires_at=reservation.expires_at,
            )
        )
        self._refresh_activity(agent, now, events, "offer")
        self._push_timer(reservation.expires_at, "offer", reservation.id, 0)

    def _end_offer(
        self,
        reservation: Reservation,
        now: float,
        events: list[Event],
        event: Event,
        *,
        exclude: bool,
        miss: bool,
    ) -> None:
        """Close an unanswered offer: requeue the task, free the agent, count the miss."""
        del self._reservations[reservation.id]
        events.append(event)
        record = self._tasks[reservation.task_id]
        record.status = TaskStatus.WAITING
        record.reservation = None
        record.agent_id = None
        if exclude:
            record.excluded = set(record.excluded)
            record.excluded.add(reservation.agent_id)
        agent = self._agents.get(reservation.agent_id)
        if agent is not None:
            del agent.reservations[reservation.id]
            self._touch(agent)
            self._release(agent, reservation.channel)
            if miss:
                agent.misses += 1
            self._refresh_activity(agent, now, events, "offer_ended")
        if record.fallback_due:
            self._fallback(record, now, events, "timeout")
        else:
            self._enqueue(record)
            self._place(record, now, events)
        if agent is None or agent.activity not in _ROUTABLE:
            return
        limit = self.settings.max_consecutive_misses
        if miss and limit and agent.misses >= limit:
            self._apply_activity(agent, Activity.AWAY, now, events, "missed_offers")
        else:
            self._feed(agent, now, events)

    def _place(self, record: _Task, now: float, events: list[Event]) -> None:
        """Task side: offer a newly waiting (or widened) task to the best free agent, if any."""
        agent = self._find_agent(record)
        if agent is not None:
            self._reserve(record, agent, now, events)

    def _feed(self, agent: _Agent, now: float, events: list[Event]) -> None:
        """Agent side: give an agent with free capacity the best tasks it qualifies for until it is full."""
        while True:
            best = self._best_entry_for(agent)
            if best is None:
                return
            self._reserve(self._tasks[best[2]], agent, now, events)

    def _find_agent(self, record: _Task) -> _Agent | None:
        self._sync()
        requirement = record.requirement
        channel = requirement.channel
        excluded = record.excluded
        preferred = record.task.preferred_skills
        if requirement.agents is not None:
            return self._best_listed(requirement, excluded, preferred)
        available = self._available
        if requirement.skills:
            skill, minimum = requirement.skills[0]
            if not self._free_skill.get((channel, skill)):
                return None
            if self.settings.strategy is Strategy.LONGEST_IDLE:
                best: _Agent | None = None
                for level in range(minimum, MAX_SKILL_LEVEL + 1):
                    found = self._scan(available.get(("s", channel, skill, level)), requirement, excluded, 1)
                    if found and (
                        best is None or (found[0].idle_since, found[0].order) < (best.idle_since, best.order)
                    ):
                        best = found[0]
                return best
            limit = self.settings.lookahead if preferred else 1
            for level in range(MAX_SKILL_LEVEL, minimum - 1, -1):
                found = self._scan(available.get(("s", channel, skill, level)), requirement, excluded, limit)
                if found:
                    return self._most_preferred(found, preferred)
            return None
        key = _pool_keys(requirement)[0]
        limit = self.settings.lookahead if preferred and self.settings.strategy is Strategy.BEST_SKILL else 1
        found = self._scan(available.get(key), requirement, excluded, limit)
        return self._most_preferred(found, preferred) if found else None

    def _scan(
        self, bucket: list[_Entry] | None, requirement: Requirement, excluded: frozenset[str] | set[str], limit: int
    ) -> list[_Agent]:
        """Return up to ``limit`` qualified agents from a bucket, longest idle first."""
        found: list[_Agent] = []
        if not bucket:
            return found
        agents = self._agents
        for _, _, agent_id in bucket:
            if agent_id in excluded:
                continue
            agent = agents[agent_id]
            if agent.qualifies(requirement):
                found.append(agent)
                if len(found) >= limit:
                    break
        return found

    @staticmethod
    def _most_preferred(found: list[_Agent], preferred: Mapping[str, int]) -> _Agent:
        if len(found) == 1 or not preferred:
            return found[0]
        # max() keeps the first of equals, which is the longest idle.
        return max(found, key=lambda agent: preference_score(agent.skills, preferred))

    def _best_listed(
        self, requirement: Requirement, excluded: frozenset[str] | set[str], preferred: Mapping[str, int]
    ) -> _Agent | None:
        channel = requirement.channel
        candidates = []
        for agent_id in sorted(requirement.agents or ()):
            agent = self._agents.get(agent_id)
            if (
                agent is None
                or agent_id in excluded
                or channel not in agent.open_channels()
                or not agent.qualifies(requirement)
            ):
                continue
            candidates.append(agent)
        if not candidates:
            return None
        primary = requirement.skills[0][0] if requirement.skills else ""
        if self.settings.strategy is Strategy.LONGEST_IDLE:
            return min(candidates, key=lambda agent: (agent.idle_since, agent.order))
        return min(
            candidates,
            key=lambda agent: (
                -agent.skills.get(primary, 0),
                -preference_score(agent.skills, preferred),
                agent.idle_since,
                agent.order,
            ),
        )

    def _best_entry_for(self, agent: _Agent) -> _PoolEntry | None:
        """Return the best waiting task's pool entry among the pools this agent qualifies for."""
        channels = agent.open_channels()
        if not channels:
            return None
        best: _PoolEntry | None = None
        pools_by_channel = agent.pools
        pool_index = self._pool_index
        for channel in channels:
            # Listed pools come and go with sticky routing, so they are looked up (and qualified for) live.
            listed = pool_index.get(("g", channel, agent.id), ())
            qualified = [pool for pool in listed if agent.qualifies(pool.requirement)]
            for pool in chain(pools_by_channel[channel], qualified):
                head = pool.head
                # An empty pool, or even this pool's best task is worse than what we hold.
                if head is None or (best is not None and head > best):
                    continue
                head = self._head(pool, agent.id)
                if head is not None and (best is None or head < best):
                    best = head
        return best

    def _list_pools(self, agent: _Agent) -> None:
        """Find, per channel the agent works on, the unlisted pools it qualifies for."""
        pool_index = self._pool_index
        agent.pools = {}
        for channel in agent.capacity:
            keys: list[_BucketKey] = [("s", channel, skill) for skill in agent.skills]
            if agent.team is not None:
                keys.append(("t", channel, agent.team))
            keys.extend(("l", channel, language) for language in agent.languages)
            keys.append(("a", channel))
            agent.pools[channel] = [
                pool for key in keys for pool in pool_index.get(key, ()) if agent.qualifies(pool.requirement)
            ]

    def _head(self, pool: _Pool, agent_id: str) -> _PoolEntry | None:
        """Return the pool's best task entry that does not exclude ``agent_id``."""
        tasks = self._tasks
        head = pool.head
        if head is None or agent_id not in tasks[head[2]].excluded:
            return head
        # Rare path: the agent already missed the best tasks here; look past them.
        for entry in pool.entries:
            if agent_id not in tasks[entry[2]].excluded:
                return entry
        return None

    # Pools and workflow steps.

    def _enqueue(self, record: _Task) -> None:
        requirement = record.requirement
        self._sequence += 1
        record.seq = self._sequence
        record.status = TaskStatus.WAITING
        entry = (record.key, record.seq, record.task.id)
        pool = self._pools.get(requirement)
        if pool is None:
            pool = _Pool(requirement, _pool_keys(requirement), entry)
            self._pools[requirement] = pool
            for key in pool.keys:
                self._pool_index.setdefault(key, {})[pool] = None
            if requirement.agents is None:
                self._offer_pool(pool)
        else:
            pool.add(entry)
        record.pool = pool

    def _offer_pool(self, pool: _Pool) -> None:
        """Add a new unlisted pool to the pool lists of the agents who qualify for it (they cannot lack its skill)."""
        requirement = pool.requirement
        if requirement.skills:
            candidates = [
                self._agents[agent_id] for agent_id in self._roster_by_skill.get(requirement.skills[0][0], {})
            ]
        else:
            candidates = list(self._agents.values())
        channel = requirement.channel
        for agent in candidates:
            pools = agent.pools.get(channel)
            if pools is not None and agent.qualifies(requirement):
                pools.append(pool)

    def _dequeue(self, record: _Task) -> None:
        pool = record.pool
        if pool is None:
            return
        record.pool = None
        if not pool.remove((record.key, record.seq, record.task.id)) and pool.requirement.agents is not None:
            # Listed pools, one per remembered agent, would pile up; unlisted ones are few and stay registered.
            del self._pools[pool.requirement]
            for key in pool.keys:
                members = self._pool_index[key]
                del members[pool]
                if not members:
                    del self._pool_index[key]

    def _leave_queue(self, record: _Task) -> None:
        members = self._in_queue.get(record.task.queue)
        if members is not None:
            members.pop(record.task.id, None)
            if not members:
                del self._in_queue[record.task.queue]

    def _drop(self, record: _Task) -> None:
        """Remove a task that leaves the engine unanswered (abandoned or sent to its fallback)."""
        self._dequeue(record)
        self._leave_queue(record)
        self._tasks.pop(record.task.id, None)

    def _schedule_step(self, record: _Task) -> None:
        steps = record.plan.steps
        if steps and not record.exhausted and steps[record.step].until is not None:
            self._push_timer(steps[record.step].until or 0.0, "step", record.task.id, record.step)

    def _next_step(self, record: _Task, now: float, events: list[Event]) -> None:
        """A step timed out: widen to the next step, or apply the fallback after the last one."""
        task = record.task
        steps = record.plan.steps
        if record.step + 1 >= len(steps):
            self._fallback(record, now, events, "timeout")
            return
        record.step += 1
        events.append(
            WorkflowStepChanged(
                at=now, task_id=task.id, queue=task.queue, step_index=record.step, step=steps[record.step].name
            )
        )
        self._schedule_step(record)
        if record.status is TaskStatus.WAITING:
            self._dequeue(record)
            self._enqueue(record)
            self._place(record, now, events)

    def _fallback(self, record: _Task, now: float, events: list[Event], reason: str) -> None:
        """Apply the workflow's fallback; a ringing task gets it only if the offer ends unanswered."""
        task = record.task
        action = record.plan.fallback if record.plan.steps else FallbackAction.VOICEMAIL
        if action is not FallbackAction.QUEUE and record.status is TaskStatus.RESERVED:
            record.fallback_due = True
            return
        events.append(
            TaskFallback(
                at=now,
                task_id=task.id,
                queue=task.queue,
                action=str(action),
                reason=reason,
                waited=now - task.created_at,
            )
        )
        if action is not FallbackAction.QUEUE:
            self._drop(record)
        elif reason == "timeout":
            record.exhausted = True
