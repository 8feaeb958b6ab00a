"""A discrete-event contact-center simulation that drives a real routing backend.

Calls arrive as a Poisson process, agents answer offers at once, talk for exponential handle times and hang up;
customers with (optional) exponential patience abandon if nobody answers in time. Every routing decision is made
by the backend under test (:class:`~routing.memory.MemoryBackend` by default), through the same async protocol
the app uses, so the simulation checks the engine rather than a model of it. The same seed gives the same report.

Figures count the calls that arrive after a warm-up (10 % of the run by default), when the queue has left its
empty starting state, and follow each of them to its end, so no call is cut off by the end of the run.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass

from routing.backend import RoutingBackend
from routing.events import AgentActivityChanged, Event, TaskAbandoned, TaskAccepted, TaskReserved
from routing.memory import MemoryBackend
from routing.models import CALL_CHANNEL, Activity, AgentState, Task
from routing.statistics import StatisticsLedger

__all__ = ["SimulationConfig", "SimulationReport", "run_simulation", "simulate"]

_QUEUE = "simulated"
_SKILL = "support"
_ARRIVAL, _HANG_UP, _PATIENCE_OUT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate; rates per second, times in seconds."""

    agents: int
    arrival_rate: float
    aht: float
    duration: float
    seed: int = 0
    patience: float | None = None
    threshold: float = 20.0
    warmup: float | None = None
    """Seconds at the start whose arrivals are not counted (``None``: a tenth of ``duration``)."""

    def __post_init__(self) -> None:
        if self.agents < 1:
            raise ValueError("need at least one agent")
        if not self.arrival_rate > 0 or not self.aht > 0 or not self.duration > 0:
            raise ValueError("arrival rate, AHT and duration must be positive")
        if not math.isfinite(self.duration * self.arrival_rate * self.aht):
            raise ValueError("arrival rate, AHT and duration must be finite")
        if self.patience is not None and not self.patience > 0:
            raise ValueError("patience must be positive")
        if self.threshold < 0:
            raise ValueError("threshold cannot be negative")
        if self.warmup is not None and not 0 <= self.warmup < self.duration:
            raise ValueError("warm-up must lie within the run")

    @property
    def warmup_seconds(self) -> float:
        """Return the warm-up length in seconds."""
        return self.duration / 10 if self.warmup is None else self.warmup


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """What the simulated contact center achieved over the counted calls."""

    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    service_level: float | None
    average_speed_of_answer: float | None
    abandonment_rate: float | None
    occupancy: float | None
    decisions: int
    threshold: float


class _Run:
    def __init__(self, backend: RoutingBackend, config: SimulationConfig) -> None:
        self.backend = backend
        self.config = config
        self.arrivals = random.Random(f"{config.seed}:arrivals")
        self.handling = random.Random(f"{config.seed}:handling")
        self.patience = random.Random(f"{config.seed}:patience")
        self.agenda: list[tuple[float, int, int, str]] = []
        self.sequence = 0
        self.created: dict[str, float] = {}
        self.unanswered: set[str] = set()
        self.ledger = StatisticsLedger(retention=math.inf)
        self.counted_from = config.warmup_seconds
        self.offered = self.answered = self.within = self.abandoned = 0
        self.decisions = 0
        self.wait_total = 0.0

    def schedule(self, at: float, kind: int, task_id: str) -> None:
        self.sequence += 1
        heapq.heappush(self.agenda, (at, self.sequence, kind, task_id))

    async def run(self) -> SimulationReport:
        config = self.config
        for index in range(config.agents):
            agent = AgentState(
                id=f"agent-{index:05d}",
                activity=Activity.AVAILABLE,
                skills={_SKILL: 5},
                capacity={CALL_CHANNEL: 1},
            )
            await self.handle(await self.backend.upsert_agent(agent, 0.0), 0.0)
        self.schedule(self.arrivals.expovariate(config.arrival_rate), _ARRIVAL, "")
        arrivals = 0
        while self.agenda:
            at, _, kind, task_id = self.agenda[0]
            due = await self.backend.next_due()
            if due is not None and due <= at:
                await self.handle(await self.backend.tick(due), due)
                continue
            heapq.heappop(self.agenda)
            if kind == _ARRIVAL:
                arrivals += 1
                await self.arrive(f"call-{arrivals}", at)
                following = at + self.arrivals.expovariate(config.arrival_rate)
                if following < config.duration:
                    self.schedule(following, _ARRIVAL, "")
            elif kind == _HANG_UP:
                await self.handle(await self.backend.complete(task_id, at), at)
            elif task_id in self.unanswered:
                await self.handle(await self.backend.abandon(task_id, at), at)
        end = config.duration
        occupancy = self.ledger.agents(end, end - self.counted_from).occupancy
        offered = self.offered
        return SimulationReport(
            offered=offered,
            answered=self.answered,
            answered_within_threshold=self.within,
            abandoned=self.abandoned,
            service_level=self.within / offered if offered else None,
            average_speed_of_answer=self.wait_total / self.answered if self.answered else None,
            abandonment_rate=self.abandoned / offered if offered else None,
            occupancy=occupancy,
            decisions=self.decisions,
            threshold=config.threshold,
        )

    async def arrive(self, task_id: str, at: float) -> None:
        config = self.config
        task = Task(
            id=task_id,
            queue=_QUEUE,
            channel=CALL_CHANNEL,
            created_at=at,
            required_skills={_SKILL: 1},
            sla_target=max(config.threshold, 1.0),
        )
        self.created[task_id] = at
        self.unanswered.add(task_id)
        if at >= self.counted_from:
            self.offered += 1
        if config.patience is not None:
            self.schedule(at + self.patience.expovariate(1.0 / config.patience), _PATIENCE_OUT, task_id)
        await self.handle(await self.backend.submit(task, at), at)

    async def handle(self, events: list[Event], at: float) -> None:
        """Play the agents' and customers' part: answer every offer at once, then talk."""
        self.decisions += 1
        pending = deque(events)
        while pending:
            event = pending.popleft()
            if isinstance(event, AgentActivityChanged):
                self.ledger.apply(event)
            elif isinstance(event, TaskReserved):
                self.decisions += 1
                pending.extend(await self.backend.accept(event.reservation_id, event.agent_id, at))
            elif isinstance(event, TaskAccepted):
                self.unanswered.discard(event.task_id)
                if self.created.pop(event.task_id) >= self.counted_from:
                    self.answered += 1
                    self.wait_total += event.waited
                    self.within += event.waited <= self.config.threshold
                talk = self.handling.expovariate(1.0 / self.config.aht)
                self.schedule(at + talk, _HANG_UP, event.task_id)
            elif isinstance(event, TaskAbandoned):
                self.unanswered.discard(event.task_id)
                if self.created.pop(event.task_id) >= self.counted_from:
                    self.abandoned += 1


async def run_simulation(backend: RoutingBackend, config: SimulationConfig) -> SimulationReport:
    """Simulate ``config`` against ``backend``, which must start empty."""
    return await _Run(backend, config).run()


def simulate(config: SimulationConfig) -> SimulationReport:
    """Simulate ``config`` against a fresh in-memory backend."""
    return asyncio.run(run_simulation(MemoryBackend(), config))
