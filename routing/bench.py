"""Routing benchmark: decisions per second, decision latency and memory at a given scale, then at double it.

The scenario is a busy contact center in steady state: every agent works at capacity and a large backlog waits.
Each timed step is one backend call, the unit a process waits on: an agent completes a task (and is offered the
best waiting task it qualifies for), accepts that offer, and a new task arrives; one offer in twenty is rejected
and ``tick`` fires the workflow steps that fall due. Skills are drawn so that every queue's workflow widens from
experts (level >= 7) to anyone with the skill, and a third of the agents also take chats next to calls.

With ``backend="redis"`` the same scenario runs against a Redis server (``redis_url``) under a key prefix of its
own, deleted afterwards, and the run also times a bare Lua round trip (``EVALSHA`` of a script that only returns)
on the same connection, so the report shows how far a decision is from the wire: ``lua_round_trip_*`` and the
ratio of decision p50 to bare round trip p50. ``server_memory_mb`` is Redis's ``used_memory`` after the run, and
``server_cpu_us_per_decision`` the Redis server's CPU time (``INFO cpu``: user + system) over the timed phase divided
by its decisions, which counts every client's commands: give the benchmark a Redis of its own for a clean figure.
``client_cpu_us_per_decision`` is the benchmark process's own CPU time per decision (``time.process_time``).

``concurrency`` callers share the timed phase: each runs the same mix of decisions against one backend, so with
Redis their calls meet on one connection pool and leave pipelined, as an app serving many requests at once sends
them (every decision still one atomic ``FCALL``). Latency is then each call's own wait, queueing included; with
``concurrency=1`` (the default of :func:`run_bench`) calls are strictly one after another. The command line's default
is :data:`DEFAULT_CONCURRENCY`: one caller for memory, eight for Redis.

Memory is the process's peak resident set (``max_rss_mb``; a doubled run follows its base run in the same process,
so its figure is the larger of the two, which is its own). With ``trace_memory`` the build also runs under
tracemalloc and reports its peak (``build_peak_mb``, the Python heap the routing state needs); that slows the build
and inflates the resident set, and it is always off during the timed phase, where it would distort latency. Without
``trace_memory`` nothing measured it, so ``build_peak_mb`` is ``None`` (JSON ``null``), not a misleading 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import random
import resource
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from routing.backend import RoutingBackend
from routing.errors import ReservationConflict
from routing.events import Event, TaskAccepted, TaskReserved
from routing.memory import MemoryBackend
from routing.models import Activity, AgentState, Task
from routing.workflows import QueueRules, RoutingRules, Step, Workflow

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_REDIS_URL",
    "BenchResult",
    "as_json",
    "bench_rules",
    "format_table",
    "run_bench",
    "run_bench_pair",
]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Callers in the timed phase when the command line names none. One app process serves many requests at once, and with
# Redis the calls they issue meanwhile share the wire (one write and one read per batch, each call its own FCALL), so
# the Redis figure is taken the way an app meets it; the in-process engine has no wire to share.
DEFAULT_CONCURRENCY = {"memory": 1, "redis": 8}

BackendFactory = Callable[[RoutingRules], RoutingBackend]

# Two thirds of arrivals are calls, the rest chats; one in seven customers is served in Spanish.
_CHAT_SHARE = 1 / 3
_SPANISH_SHARE = 1 / 7
# Warm-up calls: at 5 ms of simulated time each, 30 s, past the default 15 s offer time-out.
_WARM_UP_DECISIONS = 6000


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One scale point's figures."""

    backend: str
    concurrency: int
    agents: int
    skills: int
    tasks: int
    decisions: int
    seconds: float
    decisions_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    build_peak_mb: float | None
    max_rss_mb: float
    lua_round_trip_p50_ms: float | None = None
    lua_round_trip_p99_ms: float | None = None
    lua_round_trips_per_second: float | None = None
    server_memory_mb: float | None = None
    client_cpu_us_per_decision: float = 0.0
    server_cpu_us_per_decision: float | None = None

    @property
    def round_trip_ratio(self) -> float | None:
        """Return how many bare Lua round trips one median decision costs (``None`` without Redis)."""
        if not self.lua_round_trip_p50_ms:
            return None
        return self.p50_ms / self.lua_round_trip_p50_ms


def bench_rules(skills: int) -> RoutingRules:
    """Return one queue per skill, each widening from experts to anyone with the skill."""
    workflows: dict[str, Workflow] = {}
    queues: dict[str, QueueRules] = {}
    for index in range(skills):
        skill = _skill(index)
        workflows[skill] = Workflow(
            name=skill,
            steps=(
                Step(name="experts", skills={skill: 7}, timeout=30.0),
                Step(name="proficient", skills={skill: 4}, timeout=120.0),
                Step(name="anyone", skills={skill: 1}),
            ),
        )
        queues[skill] = QueueRules(name=skill, workflow=skill)
    return RoutingRules(workflows=workflows, queues=queues)


def _skill(index: int) -> str:
    return f"skill-{index:03d}"


def _memory_backend(rules: RoutingRules) -> RoutingBackend:
    return MemoryBackend(rules, retention=600.0)


class _RedisSession:
    """A Redis connection and a key prefix of the benchmark's own, deleted on exit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"bench:routing:{{{uuid.uuid4().hex}}}:"
        self.client: Any = None

    async def __aenter__(self) -> _RedisSession:
        # Imported here: routing's other modules must not need redis.
        from redis.asyncio import Redis

        self.client = Redis.from_url(self.url)
        await self.client.ping()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        batch: list[Any] = []
        async for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self.client.delete(*batch)
                batch = []
        if batch:
            await self.client.delete(*batch)
        await self.client.aclose()

    def factory(self, rules: RoutingRules) -> RoutingBackend:
        from routing.redis_backend import RedisBackend

        return RedisBackend(self.client, rules, prefix=self.prefix, retention=600.0)

    async def bare_round_trips(self, count: int) -> tuple[list[int], float]:
        """Time ``count`` EVALSHA calls of a script that only returns; return latencies (ns) and total seconds."""
        script = self.client.register_script("return 1")
        await script()
        clock = time.perf_counter_ns
        latencies: list[int] = []
        started = time.perf_counter()
        for _ in range(count):
            start = clock()
            await script()
            latencies.append(clock() - start)
        return latencies, time.perf_counter() - started

    async def server_cpu_seconds(self) -> float:
        """Return the Redis server's CPU time so far (``used_cpu_user`` + ``used_cpu_sys``), all its threads."""
        info = await self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def used_memory_mb(self) -> float:
        info = await self.client.info("memory")
        return float(info["used_memory"]) / (1024 * 1024)


class _Scenario:
    def __init__(self, backend: RoutingBackend, agents: int, skills: int, tasks: int, seed: int) -> None:
        self.backend = backend
        self.agents = agents
        self.skills = skills
        self.tasks = tasks
        self.random = random.Random(seed)
        self.now = 1_000_000.0
        self.created = 0
        self.assigned: list[str] = []
        self.offers: list[TaskReserved] = []

    def agent(self, index: int) -> AgentState:
        rng = self.random
        chosen = rng.sample(range(self.skills), k=min(5, self.skills))
        skills = {_skill(skill): rng.randint(1, 10) for skill in chosen}
        languages = frozenset({"en", "es"}) if rng.random() < 0.3 else frozenset({"en"})
        capacity = {"voice": 1, "chat": 3} if rng.random() < _CHAT_SHARE else {"voice": 1}
        return AgentState(
            id=f"agent-{index:06d}",
            activity=Activity.AVAILABLE,
            skills=skills,
            languages=languages,
            team=f"team-{chosen[0] % 10}",
            capacity=capacity,
        )

    def task(self, age: float) -> Task:
        rng = self.random
        self.created += 1
        skill = _skill(rng.randrange(self.skills))
        preferred = {_skill(rng.randrange(self.skills)): 5} if rng.random() < 0.2 else {}
        return Task(
            id=f"task-{self.created:07d}",
            queue=skill,
            channel="chat" if rng.random() < _CHAT_SHARE else "voice",
            created_at=self.now - age,
            required_skills={skill: 1},
            preferred_skills=preferred,
            language="es" if rng.random() < _SPANISH_SHARE else "en",
            value=rng.randrange(101),
            base_priority=rng.randrange(3),
            sla_target=rng.choice((20.0, 60.0, 300.0)),
        )

    def take(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, TaskReserved):
                self.offers.append(event)
            elif isinstance(event, TaskAccepted):
                self.assigned.append(event.task_id)

    async def build(self) -> None:
        """Sign agents in, queue the backlog with ages spread over ten minutes, accept every offer."""
        for index in range(self.agents):
            self.take(await self.backend.upsert_agent(self.agent(index), self.now))
        for _ in range(self.tasks):
            self.take(await self.backend.submit(self.task(self.random.uniform(0.0, 600.0)), self.now))
        while self.offers:
            offer = self.offers.pop()
            self.take(await self.backend.accept(offer.reservation_id, offer.agent_id, self.now))

    async def measure_together(self, decisions: int, callers: int) -> list[int]:
        """Run ``decisions`` timed calls from ``callers`` concurrent callers; return all their latencies (ns)."""
        if callers <= 1:
            return await self.measure(decisions)
        shares = [decisions // callers + (1 if index < decisions % callers else 0) for index in range(callers)]
        # A task group, so that one caller's failure stops the others before the key prefix is cleaned up.
        async with asyncio.TaskGroup() as group:
            runs = [group.create_task(self.measure(share)) for share in shares if share]
        return [latency for run in runs for latency in run.result()]

    async def measure(self, decisions: int) -> list[int]:
        """Run ``decisions`` timed backend calls and return each one's latency in nanoseconds."""
        backend = self.backend
        rng = self.random
        latencies: list[int] = []
        clock = time.perf_counter_ns
        while len(latencies) < decisions:
            self.now += 0.005
            step = len(latencies) % 4
            start = clock()
            if step == 0 and self.assigned:
                index = rng.randrange(len(self.assigned))
                self.assigned[index], self.assigned[-1] = self.assigned[-1], self.assigned[index]
                events = await backend.complete(self.assigned.pop(), self.now)
            elif step == 1 and self.offers:
                offer = self.offers.pop()
                answer = backend.reject if rng.random() < 0.05 else backend.accept
                try:
                    events = await answer(offer.reservation_id, offer.agent_id, self.now)
                except ReservationConflict:
                    # With concurrent callers an older offer may have timed out in another caller's tick first:
                    # the engine still decided (409), so the call counts like any other.
                    events = []
            elif step == 2:
                events = await backend.submit(self.task(0.0), self.now)
            else:
                events = await backend.tick(self.now)
            latencies.append(clock() - start)
            self.take(events)
        return latencies


def _percentile(sorted_values: list[int], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * (len(sorted_values) - 1))))
    return sorted_values[index] / 1e6


def _max_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def _run(
    factory: BackendFactory | None,
    name: str,
    agents: int,
    skills: int,
    tasks: int,
    decisions: int,
    seed: int,
    trace_memory: bool,
    redis_url: str,
    concurrency: int,
) -> BenchResult:
    if name != "redis":
        return await _measure(
            factory or _memory_backend, name, agents, skills, tasks, decisions, seed, trace_memory, concurrency
        )
    async with _RedisSession(redis_url) as session:
        result = await _measure(
            factory or session.factory,
            name,
            agents,
            skills,
            tasks,
            decisions,
            seed,
            trace_memory,
            concurrency,
            session.server_cpu_seconds,
        )
        bare, seconds = await session.bare_round_trips(max(decisions // 4, 2000))
        bare.sort()
        return dataclasses.replace(
            result,
            lua_round_trip_p50_ms=_percentile(bare, 0.50),
            lua_round_trip_p99_ms=_percentile(bare, 0.99),
            lua_round_trips_per_second=len(bare) / seconds if seconds > 0 else 0.0,
            server_memory_mb=await session.used_memory_mb(),
        )


async def _measure(
    factory: BackendFactory,
    name: str,
    agents: int,
    skills: int,
    tasks: int,
    decisions: int,
    seed: int,
    trace_memory: bool,
    concurrency: int,
    server_cpu: Callable[[], Awaitable[float]] | None = None,
) -> BenchResult:
    gc.collect()
    if trace_memory:
        tracemalloc.start()
    scenario = _Scenario(factory(bench_rules(skills)), agents, skills, tasks, seed)
    await scenario.build()
    build_peak: float | None = None
    if trace_memory:
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        build_peak = peak_bytes / (1024 * 1024)
    # A collection in the middle of the timed phase would be charged to one unlucky decision; the state built so
    # far is long-lived, so freeze it out of the collector's view, as a long-running server effectively does.
    gc.collect()
    gc.freeze()
    try:
        # Warm caches and run past the build's own offer time-outs: every build offer rang at the same instant,
        # and popping thousands of their stale timers in one tick is an artefact of the build, not steady state.
        await scenario.measure_together(max(decisions // 10, _WARM_UP_DECISIONS), concurrency)
        server_started = await server_cpu() if server_cpu else 0.0
        cpu_started = time.process_time()
        started = time.perf_counter()
        latencies = await scenario.measure_together(decisions, concurrency)
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
        server_seconds = await server_cpu() - server_started if server_cpu else None
    finally:
        gc.unfreeze()
    latencies.sort()
    return BenchResult(
        backend=name,
        concurrency=concurrency,
        agents=agents,
        skills=skills,
        tasks=tasks,
        decisions=decisions,
        seconds=seconds,
        decisions_per_second=decisions / seconds if seconds > 0 else 0.0,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=latencies[-1] / 1e6,
        build_peak_mb=build_peak,
        max_rss_mb=_max_rss_mb(),
        client_cpu_us_per_decision=client_cpu * 1e6 / decisions,
        server_cpu_us_per_decision=None if server_seconds is None else server_seconds * 1e6 / decisions,
    )


def run_bench(
    agents: int,
    skills: int,
    tasks: int,
    decisions: int = 40_000,
    seed: int = 1,
    backend: str = "memory",
    factory: BackendFactory | None = None,
    trace_memory: bool = False,
    redis_url: str = DEFAULT_REDIS_URL,
    concurrency: int = 1,
) -> BenchResult:
    """Benchmark one scale point on a fresh backend; ``trace_memory`` also reports the traced heap peak."""
    if agents < 1 or skills < 1 or tasks < 0 or decisions < 1 or concurrency < 1:
        raise ValueError("need at least one agent, skill, decision and caller, and no negative task count")
    return asyncio.run(
        _run(factory, backend, agents, skills, tasks, decisions, seed, trace_memory, redis_url, concurrency)
    )


def run_bench_pair(
    agents: int,
    skills: int,
    tasks: int,
    decisions: int = 40_000,
    seed: int = 1,
    backend: str = "memory",
    factory: BackendFactory | None = None,
    trace_memory: bool = False,
    redis_url: str = DEFAULT_REDIS_URL,
    concurrency: int = 1,
) -> tuple[BenchResult, BenchResult]:
    """Benchmark a scale point and the same with agents and tasks doubled."""
    base = run_bench(agents, skills, tasks, decisions, seed, backend, factory, trace_memory, redis_url, concurrency)
    doubled = run_bench(
        agents * 2, skills, tasks * 2, decisions, seed, backend, factory, trace_memory, redis_url, concurrency
    )
    return base, doubled


def as_json(results: tuple[BenchResult, ...]) -> dict[str, Any]:
    """Return the results as a JSON-able report with the p99 growth on doubling."""
    report: dict[str, Any] = {
        "runs": [{**asdict(result), "round_trip_ratio": result.round_trip_ratio} for result in results]
    }
    if len(results) == 2 and results[0].p99_ms > 0:
        report["p99_ratio_when_doubled"] = results[1].p99_ms / results[0].p99_ms
    return report


def format_table(results: tuple[BenchResult, ...]) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| backend | callers | agents | skills | tasks | decisions/s | p50 ms | p99 ms | max ms | build heap MB "
        "| max RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        lines.append(
            f"| {result.backend} | {result.concurrency} | {result.agents} | {result.skills} | {result.tasks} | "
            f"{result.decisions_per_second:,.0f} | {result.p50_ms:.3f} | {result.p99_ms:.3f} | {result.max_ms:.2f} | "
            f"{'-' if result.build_peak_mb is None else f'{result.build_peak_mb:.0f}'} | {result.max_rss_mb:.0f} |"
        )
    if len(results) == 2 and results[0].p99_ms > 0:
        lines.append("")
        lines.append(f"p99 after doubling agents and tasks: x{results[1].p99_ms / results[0].p99_ms:.2f}")
    for result in results:
        cpu = f"{result.agents} agents: client CPU {result.client_cpu_us_per_decision:.0f} us per decision"
        if result.server_cpu_us_per_decision is not None:
            cpu += f", Redis CPU {result.server_cpu_us_per_decision:.0f} us per decision"
        lines.append("")
        lines.append(cpu)
        if result.lua_round_trip_p50_ms is not None:
            lines.append("")
            lines.append(
                f"{result.agents} agents: bare Lua round trip (EVALSHA of `return 1`) p50 "
                f"{result.lua_round_trip_p50_ms:.3f} ms, p99 {result.lua_round_trip_p99_ms:.3f} ms, "
                f"{result.lua_round_trips_per_second or 0:,.0f}/s; a median decision costs "
                f"x{result.round_trip_ratio:.2f} of it; Redis used_memory {result.server_memory_mb or 0:.0f} MB"
            )
    return "\n".join(lines)
