"""The Redis backend: routing state shared by every app process, each decision one atomic Lua script.

Every decision (upsert or remove an agent, set an activity, submit, accept, reject, complete, abandon, tick) is a
single ``FCALL`` of ``routing/lua/engine.lua``, a port of :class:`routing.engine.RoutingEngine` loaded once as a
Redis 7 function library (an ``EVALSHA`` would recompile the whole port's closures on every call). Redis runs one
function at a time, so N processes sharing one Redis never offer a task twice, assign it twice or fill an agent past
its capacity, and two accepts of one offer see exactly one winner. Python does the pure work first (the
:class:`~routing.workflows.RoutePlan`, the priority key, key names) and passes it in with ``now``; the script
replies with the events, flat: each one's kind and fields (strings as they are, floats as 8-byte doubles).

Key layout, under ``prefix`` (give it a hash tag such as ``routing:{cc}:`` on a Redis Cluster, so every key
shares one slot):

==============================  =====================================================================================
``a:<agent>`` ``t:<task>``      one record per agent (its live state), task (its live state, the scalars every
``r:<reservation>``             decision reads, its plan's id, steps' deadlines and preferred skills) and open
                                reservation: a MessagePack sequence of the fields' values in a fixed order, not a map
                                (a task's first value packs the scalars fixed at submit, once)
``tf:<task>``                   the task's fixed part: its plan's shape (JSON) and the task's JSON, written once by
                                submit and read only by a listing, or for a plan the library does not hold
``ap:<agent>``                  the agent's profile: skills, languages, team, capacity and the index keys they imply,
                                written only by ``upsert_agent``; decoded profiles are kept in the library by agent,
                                tagged with the profile's version (``pv`` in ``a:<agent>``)
``apv``                         the last profile version given out (``<clock>:<count>``)
``aj:<agent>``                  the agent's profile as JSON, written by ``upsert_agent``, read only by ``get_agent``
``seq``, ``order``              the engine's sequence number (reservation ids ``R<n>``) and agent creation counter
``ep``                          the records' epoch (``<clock>:<count>``), renewed by every call that writes or deletes
                                an ``a:``, ``t:`` or ``r:`` record: the library keeps decoded records across calls and
                                trusts them only while ``ep`` holds the value it last saw or wrote
``av:s:<ch>:<skill>:<level>``   sorted sets of agents with free capacity on a channel, scored by idle-since (ties by
``av:t:<ch>:<team>``            creation order); a task looks only at its primary skill's buckets, level 10 down
``av:s:<ch>:<skill>:*``         (``*``: any level, checked first)
``av:l:<ch>:<lang>`` ``av:a:<ch>``
``p:<signature>``               a pool: waiting tasks of one :class:`~routing.matching.Requirement`, every score 0,
                                ordered by member: the fixed priority key as 16 hex digits (``_pool_key``), then
                                the arrival (ties), an exclusion flag and the task id
``ph``                          every non-empty pool's head, ``<signature> -> <priority key's hex digits>`` and
                                ``#<signature> -> <member>``: an agent looking for work reads the keys of all its
                                pools with one ``HMGET``, and the members of the few that can win
``pr`` ``pl``                   every pool signature ever registered (but listed agents'), as a set and as a list of
                                ``<facet>, <signature>`` in the order registered: a pool that empties stays registered
``piv``                         ``<clock>:<count>`` of ``pl``'s pools: the library reads only the entries it has not
                                seen yet
``pi:g:<agent>`` ``pgv``        a listed agent's pools, only while they hold tasks, and the version of all such sets
``rv``                          the roster's version: "could anyone ever serve it" is kept in the library under it
``q:<queue>``                   the queue's unanswered tasks, a set of ``<created_at><task>`` (the time as 8 bytes
                                little-endian): listings, positions and the statistics' waiting tasks
``timers``                      every offer, workflow-step and wrap-up timeout, scored by when it falls due
``ro:<facet>``                  who could ever serve what (roster sets), for the unserviceable check
``so:<queue>``                  statistics, binary (doubles as 8 bytes little-endian): outcomes ``<dBd`` (at, kind,
``sao`` ``sh:<agent>``          value); agents in first-seen order, and each one's activity changes (at, then the
                                activity; the last of a call only), from which the reader replays the ledger's
                                track; the lists are trimmed to the retention now and then, and read as if trimmed
                                at every record
==============================  =====================================================================================

Calls from concurrent callers share the wire (``routing/redis_wire.py``): calls issued while others are on the wire
leave together as one pipeline (each still its own ``FCALL``, run atomically and in the order issued), up to two
batches at once so that Redis runs one while the client turns the other's replies into new calls. The backend packs
those FCALLs itself and sends them on one connection it keeps from the client's pool, which cuts the client's CPU per
call by a third (one caller) to a half (batches) next to redis-py's command and pipeline layers.

Timeouts fail over by construction: they are members of ``timers``, not tasks in a process, and ``tick(now)`` in
any process pops and fires every due one inside the script. A process that dies leaves its timers to whichever
process ticks next, and two processes ticking at once never fire one timer twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from routing.engine import RoutingSettings, TaskView, WaitingTask
from routing.errors import (
    InvalidTransition,
    ReservationExpired,
    ReservationGone,
    ReservationNotYours,
    RoutingError,
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
from routing.matching import Requirement
from routing.models import (
    Activity,
    AgentState,
    Reservation,
    Task,
    TaskStatus,
    agent_to_dict,
    task_from_dict,
    task_to_dict,
)
from routing.priority import priority_key
from routing.redis_wire import FcallPipe
from routing.statistics import (
    ABANDONED,
    SHORT_ABANDONED,
    AgentStatistics,
    QueueStatistics,
    ServiceLevelPolicy,
    agent_figures,
    queue_figures,
)
from routing.workflows import RoutePlan, RoutingRules

__all__ = ["ENGINE_SCRIPT", "FUNCTION_NAME", "RedisBackend", "key_part"]

ENGINE_SCRIPT = resources.files("routing").joinpath("lua/engine.lua").read_text(encoding="utf-8")
# The library and its one function are named after the script's hash: processes running different versions of
# this package each call their own, and loading is idempotent.
FUNCTION_NAME = "routing_" + hashlib.sha1(ENGINE_SCRIPT.encode(), usedforsecurity=False).hexdigest()[:16]
LIBRARY = f"#!lua name={FUNCTION_NAME}\nlocal FUNCTION_NAME = '{FUNCTION_NAME}'\n{ENGINE_SCRIPT}"

_SETTABLE = (Activity.AVAILABLE, Activity.AWAY, Activity.OFFLINE)


def key_part(name: str) -> str:
    """Escape a name for use inside a key, so that a ``:`` in a skill or team cannot make two keys collide."""
    if "%" in name or ":" in name:
        return name.replace("%", "%25").replace(":", "%3A")
    return name


def _number(value: float) -> str:
    # repr() of a float round-trips exactly through Lua's tonumber (strtod).
    return repr(float(value))


_SIGN = 1 << 63
_ALL_BITS = (1 << 64) - 1


def _pool_key(key: float) -> str:
    """Return the priority key as 16 hex digits that sort as the keys do: a pool's members start with them.

    The bits of a key >= 0 with the sign bit set, those of a negative one all flipped (``+ 0.0``: -0.0 is 0.0).
    """
    bits = int.from_bytes(struct.pack(">d", key + 0.0), "big")
    return f"{bits ^ _SIGN if bits < _SIGN else bits ^ _ALL_BITS:016x}"


def _pool_suffixes(requirement: Requirement) -> list[str]:
    """Return the facets agents look a pool up by, as RoutingEngine's ``_pool_keys`` does."""
    channel = key_part(requirement.channel)
    if requirement.agents is not None:
        return [f"g:{key_part(agent)}" for agent in sorted(requirement.agents)]
    if requirement.skills:
        return [f"s:{channel}:{key_part(requirement.skills[0][0])}"]
    if requirement.team is not None:
        return [f"t:{channel}:{key_part(requirement.team)}"]
    if requirement.languages:
        return [f"l:{channel}:{key_part(min(requirement.languages))}"]
    return [f"a:{channel}"]


# Plan shapes whose JSON a backend keeps (listed agents' shapes, one per sticky customer, come and go without bound).
_PLAN_TEXT_LIMIT = 10_000


def _plan_json(plan: RoutePlan) -> str:
    """Return the plan's shape: the same for every task of a workflow, so the script keeps it decoded by its text."""
    steps: list[dict[str, Any]] = []
    for step in plan.steps:
        requirement = step.requirement
        item: dict[str, Any] = {"n": step.name, "g": requirement.signature(), "k": _pool_suffixes(requirement)}
        if requirement.skills:
            item["b"] = f"s:{key_part(requirement.channel)}:{key_part(requirement.skills[0][0])}:"
        steps.append(item)
    data: dict[str, Any] = {"f": str(plan.fallback), "s": steps}
    if plan.reservation_timeout:
        data["rt"] = _number(plan.reservation_timeout)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _plan_deadlines(plan: RoutePlan) -> str:
    """Return the steps' deadlines, the one part of a plan that differs between a workflow's tasks."""
    return "|".join("" if step.until is None else _number(step.until) for step in plan.steps)


def _agent_json(agent: AgentState, activity: Activity) -> str:
    """Return the agent's profile with the keys of every index it joins, computed once here rather than in Lua."""
    skills = dict(agent.skills)
    languages = sorted(agent.languages)
    buckets: dict[str, list[str]] = {}
    pool_facets: dict[str, list[str]] = {}
    for channel in agent.capacity:
        ch = key_part(channel)
        facets = [f"s:{ch}:{key_part(skill)}:{level}" for skill, level in skills.items()]
        # One more bucket per skill at any level: a task finds out with one EXISTS that nobody with the skill is
        # free, instead of looking through ten empty level buckets (the common case when every agent is busy).
        facets.extend(f"s:{ch}:{key_part(skill)}:*" for skill in skills)
        lookups = [f"s:{ch}:{key_part(skill)}" for skill in skills]
        if agent.team is not None:
            facets.append(f"t:{ch}:{key_part(agent.team)}")
            lookups.append(f"t:{ch}:{key_part(agent.team)}")
        facets.extend(f"l:{ch}:{key_part(language)}" for language in languages)
        lookups.extend(f"l:{ch}:{key_part(language)}" for language in languages)
        facets.append(f"a:{ch}")
        lookups.append(f"a:{ch}")
        buckets[channel] = facets
        pool_facets[channel] = lookups
    roster = [f"s:{key_part(skill)}" for skill in skills]
    if agent.team is not None:
        roster.append(f"t:{key_part(agent.team)}")
    roster.extend(f"l:{key_part(language)}" for language in languages)
    roster.extend(f"c:{key_part(channel)}" for channel, slots in agent.capacity.items() if slots > 0)
    data = {
        "id": agent.id,
        "activity": str(activity),
        "skills": skills,
        "langs": languages,
        "team": agent.team,
        "cap": dict(agent.capacity),
        "call_blocks": agent.call_blocks_other_channels,
        "bk": buckets,
        "pk": pool_facets,
        "gk": f"g:{key_part(agent.id)}",
        "rk": roster,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _reservation(data: dict[str, Any]) -> Reservation:
    return Reservation(**data)


def _serving_order(item: list[Any]) -> tuple[bool, float, float, str]:
    task_id, status, key, created_at, _ = item
    return (status != TaskStatus.RESERVED, key, created_at, task_id)


class RedisBackend:
    """Routing state in Redis, shared by every process using the same client target and prefix."""

    def __init__(
        self,
        client: Redis,
        rules: RoutingRules | None = None,
        settings: RoutingSettings | None = None,
        *,
        prefix: str = "routing:",
        policy: ServiceLevelPolicy | None = None,
        retention: float = 86_400.0,
        owns_client: bool = False,
    ) -> None:
        if not prefix:
            raise ValueError("a Redis key prefix is required")
        if not retention > 0:
            raise ValueError("retention must be positive")
        self.client = client
        self.rules = rules or RoutingRules()
        self.settings = settings or RoutingSettings()
        self.prefix = prefix
        self.policy = policy or ServiceLevelPolicy()
        self.retention = retention
        self._owns_client = owns_client
        self._loaded = False
        self._pipe = FcallPipe(client, FUNCTION_NAME)
        # Each plan shape's JSON, by what the shape is made of: every task of a workflow shares one, so building its
        # signatures, pool suffixes and JSON once per shape rather than once per submit.
        self._plan_texts: dict[tuple[object, ...], str] = {}
        s = self.settings
        self._config = "|".join(
            (
                _number(s.reservation_timeout),
                str(s.max_consecutive_misses),
                "1" if s.count_rejections_as_misses else "0",
                str(s.strategy),
                str(s.lookahead),
                _number(retention),
            )
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        rules: RoutingRules | None = None,
        settings: RoutingSettings | None = None,
        *,
        prefix: str = "routing:",
        policy: ServiceLevelPolicy | None = None,
        retention: float = 86_400.0,
    ) -> RedisBackend:
        """Connect to ``url`` (``redis://host:port/db``); :meth:`aclose` closes the connection pool it opens."""
        client: Redis = Redis.from_url(url)
        return cls(client, rules, settings, prefix=prefix, policy=policy, retention=retention, owns_client=True)

    async def aclose(self) -> None:
        """Close the client if this backend opened it (``from_url``); a client passed in stays the caller's."""
        await self._pipe.aclose()
        if self._owns_client:
            await self.client.aclose()

    # The one way into Redis.

    async def _load(self) -> None:
        await self.client.function_load(LIBRARY, replace=True)
        self._loaded = True

    async def _reply(self, op: str, now: float, *args: str) -> list[Any]:
        if not self._loaded:
            await self._load()
        call_args = (self.prefix, op, _number(now), self._config, *args)
        try:
            reply: list[Any] = await self._pipe.call(call_args)
        except ResponseError as exc:
            # A restarted Redis without persistence has forgotten the library: load it again, once.
            if "function not found" not in str(exc).lower():
                raise
            await self._load()
            reply = await self._pipe.call(call_args)
        if reply[0] == b"ok":
            return reply
        raise _error(_text(reply[1]), _text(reply[2]), args)

    async def _call(self, op: str, now: float, *args: str) -> Any:
        reply = await self._reply(op, now, *args)
        return reply[1] if len(reply) == 2 else reply[1:]

    async def _decide(self, op: str, now: float, *args: str) -> list[Event]:
        reply = await self._reply(op, now, *args)
        at = float(now)
        events: list[Event] = []
        index, end = 1, len(reply)
        while index < end:
            width, make = _EVENT_READERS[reply[index]]
            index += 1
            events.append(make(at, reply[index : index + width]))
            index += width
        return events

    async def _read(self, op: str, *args: str) -> Any:
        return json.loads(await self._call(op, 0.0, *args))

    # Decisions.

    async def upsert_agent(self, agent: AgentState, now: float) -> list[Event]:
        """Add an agent or update its profile and chosen activity; it may receive offers at once."""
        profile = json.dumps(agent_to_dict(agent), ensure_ascii=False, separators=(",", ":"))
        return await self._decide("upsert_agent", now, _agent_json(agent, agent.activity), profile)

    async def remove_agent(self, agent_id: str, now: float) -> list[Event]:
        """Forget an agent; offers still ringing for it go back to their queues."""
        return await self._decide("remove_agent", now, agent_id)

    async def set_activity(self, agent_id: str, activity: Activity, now: float) -> list[Event]:
        """Apply an activity the agent chose: available, away or offline."""
        activity = Activity(activity)
        if activity not in _SETTABLE:
            raise InvalidTransition(f"activity {activity!s} is set by the engine, not by agents")
        return await self._decide("set_activity", now, agent_id, str(activity))

    async def submit(self, task: Task, now: float) -> list[Event]:
        """Queue a new task, offering it at once when a qualified agent has capacity."""
        return await self._decide("submit", now, *self._submit_args(task))

    async def submit_many(self, tasks: Sequence[Task], now: float) -> list[list[Event] | RoutingError]:
        """Queue tasks in order, each its own atomic FCALL, pipelined; a task refused gives its error in its place.

        The calls are issued together, so after the first they leave as one pipeline (see the module docstring),
        and Redis runs them in order. A failure of Redis itself (not a routing error) is raised.
        """
        outcomes: list[list[Event] | RoutingError | None] = [None] * len(tasks)
        calls: list[tuple[int, Awaitable[list[Event]]]] = []
        for index, task in enumerate(tasks):
            try:
                args = self._submit_args(task)
            except RoutingError as exc:
                outcomes[index] = exc
            else:
                calls.append((index, self._decide("submit", now, *args)))
        replies = await asyncio.gather(*(call for _, call in calls), return_exceptions=True)
        for (index, _), reply in zip(calls, replies, strict=True):
            if isinstance(reply, RoutingError) or not isinstance(reply, BaseException):
                outcomes[index] = reply
            else:
                raise reply
        return [outcome for outcome in outcomes if outcome is not None]

    def _submit_args(self, task: Task) -> tuple[str, ...]:
        plan = self.rules.plan(task)
        return (
            task.id,
            task.queue,
            task.channel,
            _number(task.created_at),
            str(task.value),
            _pool_key(priority_key(task, self.settings.weights)),
            json.dumps(task_to_dict(task), ensure_ascii=False, separators=(",", ":")),
            self._plan_text(plan),
            json.dumps(dict(task.preferred_skills), ensure_ascii=False, separators=(",", ":")),
            _plan_deadlines(plan),
        )

    def _plan_text(self, plan: RoutePlan) -> str:
        key = (plan.fallback, plan.reservation_timeout, *((step.name, step.requirement) for step in plan.steps))
        text = self._plan_texts.get(key)
        if text is None:
            if len(self._plan_texts) >= _PLAN_TEXT_LIMIT:
                self._plan_texts.clear()
            text = self._plan_texts[key] = _plan_json(plan)
        return text

    async def accept(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Accept an offer; raises ReservationConflict if it is expired, gone or another agent's."""
        return await self._decide("accept", now, reservation_id, agent_id)

    async def reject(self, reservation_id: str, agent_id: str, now: float) -> list[Event]:
        """Decline an offer; the task is re-offered to someone else."""
        return await self._decide("reject", now, reservation_id, agent_id)

    async def complete(self, task_id: str, now: float, wrap_up: float = 0.0) -> list[Event]:
        """Finish an assigned task; the agent wraps up for ``wrap_up`` seconds, then takes new work."""
        if wrap_up < 0:
            raise ValueError("wrap_up cannot be negative")
        return await self._decide("complete", now, task_id, _number(wrap_up))

    async def abandon(self, task_id: str, now: float) -> list[Event]:
        """Record that the customer left before an agent accepted."""
        return await self._decide("abandon", now, task_id)

    async def tick(self, now: float) -> list[Event]:
        """Fire every offer, workflow-step and wrap-up timeout due by ``now``, whichever process set it."""
        return await self._decide("tick", now)

    # Reads.

    async def next_due(self) -> float | None:
        """Return when the next timeout falls due in any process (``None``: nothing pending)."""
        due = await self._call("next_due", 0.0)
        text = _text(due)
        return None if text == "null" else float(text)

    async def get_task(self, task_id: str) -> TaskView | None:
        """Return a task still in routing, or ``None``."""
        data = await self._read("get_task", task_id)
        if data is None:
            return None
        reservation = data["reservation"]
        return TaskView(
            task=task_from_dict(data["task"]),
            status=TaskStatus(data["status"]),
            step_index=data["step_index"],
            step=data["step"],
            priority_key=data["priority_key"],
            unserviceable=data["unserviceable"],
            reservation=None if reservation is None else _reservation(reservation),
            agent_id=data["agent_id"],
        )

    async def get_agent(self, agent_id: str) -> AgentState | None:
        """Return an agent's state, or ``None``."""
        data = await self._read("get_agent", agent_id)
        if data is None:
            return None
        profile = data["profile"]
        return AgentState(
            id=profile["id"],
            activity=Activity(data["activity"]),
            skills=profile["skills"],
            languages=frozenset(profile["languages"]),
            team=profile["team"],
            capacity=profile["capacity"],
            call_blocks_other_channels=profile["call_blocks_other_channels"],
            load=data["load"],
            idle_since=data["idle_since"],
            consecutive_misses=data["consecutive_misses"],
        )

    async def get_agents(self, agent_ids: Sequence[str]) -> list[AgentState | None]:
        """Return the states of many agents, in the order asked, in one pipelined batch instead of a trip each."""
        # Concurrent calls ride one pipelined write (see `_fcall`), so a wallboard of 200 agents costs a batch, not
        # 200 round trips one after another.
        return list(await asyncio.gather(*(self.get_agent(agent_id) for agent_id in agent_ids)))

    async def agent_reservations(self, agent_id: str) -> list[Reservation]:
        """Return the offers ringing for an agent now, oldest first (what the agent desktop shows)."""
        return [_reservation(item) for item in await self._read("agent_reservations", agent_id)]

    async def waiting_tasks(self, queue: str, now: float, limit: int | None = None) -> list[WaitingTask]:
        """List a queue's unanswered tasks in the order they will be served."""
        items = sorted(await self._read("waiting", queue), key=_serving_order)
        if limit is not None:
            items = items[:limit]
        return [
            WaitingTask(
                task_id=task_id,
                queue=queue,
                status=TaskStatus(status),
                position=position,
                waited=now - created_at,
                score=now - key,
                step=step,
            )
            for position, (task_id, status, key, created_at, step) in enumerate(items, start=1)
        ]

    async def position(self, task_id: str) -> int | None:
        """Return a task's 1-based place in its queue, or ``None`` once answered or gone."""
        data = await self._read("position", task_id)
        if data is None:
            return None
        items = data["tasks"]
        mine = next((_serving_order(item) for item in items if item[0] == task_id), None)
        if mine is None:
            return None
        return 1 + sum(1 for item in items if item[0] != task_id and _serving_order(item) < mine)

    async def queue_statistics(self, queue: str, now: float, window: float) -> QueueStatistics:
        """Return one queue's live figures and its totals over the last ``window`` seconds, alike in every process."""
        waiting, outcomes = await self._call("queue_stats", now, queue, _number(now - window))
        short_abandon = self.policy.short_abandon
        records: list[tuple[float, int, float]] = []
        for raw in outcomes:
            at, kind, value = _outcome(raw)
            if kind == ABANDONED and value < short_abandon:
                kind = SHORT_ABANDONED
            records.append((at, kind, value))
        created = [_double_from(item)[0] for item in waiting]
        return queue_figures(queue, created, records, self.policy.threshold, now, window)

    async def agent_statistics(self, now: float, window: float) -> AgentStatistics:
        """Return agents by activity and occupancy over the last ``window`` seconds, as every process sees them."""
        tracks: list[tuple[Activity, float, deque[tuple[float, float, Activity]]]] = []
        retention = self.retention
        for changes in await self._call("agent_stats", now):
            # The ledger's track, replayed from the agent's changes (at, activity): a span per change that moves time
            # on, trimmed to the retention at each change; the script trimmed only changes this replay would drop.
            first = changes[0]
            activity, since = _ACTIVITIES[first[8:]], _double_from(first)[0]
            history: deque[tuple[float, float, Activity]] = deque()
            for index in range(1, len(changes)):
                change = changes[index]
                at = _double_from(change)[0]
                if at > since:
                    history.append((since, at, activity))
                activity, since = _ACTIVITIES[change[8:]], at
                horizon = at - retention
                while history and history[0][1] < horizon:
                    history.popleft()
            tracks.append((activity, since, history))
        return agent_figures(tracks, now, window)


# A decision's reply, after its status: each event's one-letter kind, then its fields in the order the script's ev_*
# functions put them (at is the call's now). Strings come as bytes, integers as integers and floats as 8-byte
# little-endian doubles, so each event is built positionally with no JSON to parse.
_double = struct.Struct("<d").unpack
# Statistics records (see the key layout): an outcome, and the double that leads an activity change or a waiting task.
_outcome = struct.Struct("<dBd").unpack
_double_from = struct.Struct("<d").unpack_from
_ACTIVITIES = {str(activity).encode(): activity for activity in Activity}


def _created(at: float, f: list[Any]) -> Event:
    return TaskCreated(
        at, f[0].decode(), f[1].decode(), f[2].decode(), _double(f[3])[0], f[4], f[5].decode(), f[6] == 1
    )


def _reserved(at: float, f: list[Any]) -> Event:
    return TaskReserved(at, f[0].decode(), f[1].decode(), f[2].decode(), f[3].decode(), f[4].decode(), _double(f[5])[0])


def _accepted(at: float, f: list[Any]) -> Event:
    return TaskAccepted(at, f[0].decode(), f[1].decode(), f[2].decode(), f[3].decode(), f[4].decode(), _double(f[5])[0])


def _rejected(at: float, f: list[Any]) -> Event:
    return TaskRejected(at, f[0].decode(), f[1].decode(), f[2].decode(), f[3].decode(), f[4].decode())


def _timed_out(at: float, f: list[Any]) -> Event:
    return ReservationTimedOut(at, f[0].decode(), f[1].decode(), f[2].decode(), f[3].decode())


def _completed(at: float, f: list[Any]) -> Event:
    return TaskCompleted(
        at, f[0].decode(), f[1].decode(), f[2].decode(), f[3].decode(), _double(f[4])[0], _double(f[5])[0]
    )


def _abandoned(at: float, f: list[Any]) -> Event:
    return TaskAbandoned(at, f[0].decode(), f[1].decode(), _double(f[2])[0])


def _step_changed(at: float, f: list[Any]) -> Event:
    return WorkflowStepChanged(at, f[0].decode(), f[1].decode(), f[2], f[3].decode())


def _fallback(at: float, f: list[Any]) -> Event:
    return TaskFallback(at, f[0].decode(), f[1].decode(), f[2].decode(), f[3].decode(), _double(f[4])[0])


def _activity_changed(at: float, f: list[Any]) -> Event:
    return AgentActivityChanged(at, f[0].decode(), _ACTIVITIES[f[1]], _ACTIVITIES[f[2]], f[3].decode())


_EVENT_READERS: dict[bytes, tuple[int, Callable[[float, list[Any]], Event]]] = {
    b"C": (7, _created),
    b"R": (6, _reserved),
    b"A": (6, _accepted),
    b"J": (5, _rejected),
    b"O": (4, _timed_out),
    b"D": (6, _completed),
    b"B": (3, _abandoned),
    b"S": (4, _step_changed),
    b"F": (5, _fallback),
    b"G": (4, _activity_changed),
}


def _error(code: str, detail: str, args: tuple[str, ...]) -> RoutingError:
    """Turn the script's error reply into the exception RoutingEngine raises in the same case."""
    if code == "gone":
        return ReservationGone(args[0], "is no longer open (accepted, rejected, timed out or withdrawn)")
    if code == "not_yours":
        return ReservationNotYours(args[0], f"was offered to another agent, not {args[1]!r}")
    if code == "expired":
        return ReservationExpired(args[0], f"expired at {float(detail):.3f}")
    if code == "unknown_agent":
        return UnknownAgent(f"no agent {args[0]!r}")
    if code == "unknown_task":
        return UnknownTask(f"no task {args[0]!r}")
    if code == "duplicate":
        return InvalidTransition(f"task {args[0]!r} is already in the engine")
    if code == "not_assigned":
        return InvalidTransition(f"task {args[0]!r} is {detail}, not assigned")
    if code == "assigned":
        return InvalidTransition(f"task {args[0]!r} is already assigned; complete it instead")
    return RoutingError(f"routing script failed: {code} {detail}".strip())
