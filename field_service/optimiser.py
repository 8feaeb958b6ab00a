"""The schedule optimiser: a day compiled into a PyVRP model, solved, and read back through the exact timeline.

How the field-service rules map onto PyVRP (a prize-collecting VRP with time windows, heterogeneous fleet,
routing profiles and mutually exclusive client groups):

- Each technician is a vehicle type (identical technicians share one) starting and ending at their home base, its
  time window the shift.
- Skills, parts and pins are client/vehicle compatibility: every technician class has its own routing profile in
  which the work orders it may not do are unreachable (edges of prohibitive length and duration).
- Breaks. A work order gets one copy per *segment* of a technician's day (before the first break, between the first
  and the second, ...). A copy in segment s must end before break s can no longer start and may start only once
  break s-1 can be over. In the technician's profile, driving from segment s to segment t costs the travel time
  plus the breaks in between, and going back to an earlier segment is impossible, so every route passes through its
  breaks in order and the timeline (field_service.day) can always place them.
- SLA lateness. A work order with an SLA deadline gets copies per lateness tier (on time, up to 15 minutes late,
  up to an hour, ...), each with a lower prize; the copies of one work order form a mutually exclusive group.
- Unassigned work orders cost their prize (by priority): work orders are optional clients. Fixed (dispatched)
  visits are required and their window is their fixed start.
- Balanced load: route time beyond a technician's fair share of the day's work is overtime with a cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvrp
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from field_service.day import BreakRule, Crew, Day, Job, Stop, timeline
from field_service.greedy import greedy
from field_service.plan import Plan

__all__ = ["DISTANCE_ONLY", "ScheduleError", "Weights", "optimise"]

# Costs are integers in PyVRP: a second of driving costs this many units, so fractional weights survive rounding.
_COST_PER_SECOND = 10
# An edge this long (about 136 years) can never be part of a feasible route, yet sums of them do not overflow.
_FORBIDDEN = 1 << 32


class ScheduleError(RuntimeError):
    """The rules cannot all be met (fixed visits that no longer fit)."""


@dataclass(frozen=True)
class Weights:
    """What the optimiser trades off, in seconds of driving."""

    # Leaving a work order unassigned costs this much driving per priority level (priority 3: 6 hours).
    unassigned_per_priority: int = 2 * 3600
    # A second past the SLA deadline weighs as much as this many seconds of driving.
    lateness: float = 2.0
    # A second of route time beyond the technician's fair share of the day's work.
    balance: float = 0.2
    # Upper bounds of the lateness tiers after "on time"; a last tier takes any lateness.
    lateness_tiers: tuple[int, ...] = (15 * 60, 3600, 4 * 3600)


# Distance (travel time) only: the objective of the classic VRPTW benchmarks.
DISTANCE_ONLY = Weights(unassigned_per_priority=10**6, lateness=0.0, balance=0.0, lateness_tiers=())


@dataclass(frozen=True)
class _Copy:
    job: Job
    segment: int
    pattern: int
    early: int
    late: int
    prize: int


def optimise(
    day: Day,
    *,
    seconds: float,
    seed: int = 0,
    weights: Weights | None = None,
    max_iterations: int | None = None,
) -> Plan:
    """Plan ``day`` with PyVRP within ``seconds`` (and ``max_iterations``, if given)."""
    weights = weights or Weights()
    if not day.crews:
        return Plan((), tuple(job.id for job in day.jobs))
    model = _Model(day, weights)
    if not model.copies:
        return Plan((), tuple(job.id for job in day.jobs))
    stop: StoppingCriterion = MaxRuntime(seconds)
    if max_iterations is not None:
        stop = MultipleCriteria([stop, MaxIterations(max_iterations)])
    # Starting from the greedy plan, the search only ever improves on the baseline.
    initial = model.solution(greedy(day))
    result = pyvrp.solve(model.data, stop, seed=seed, collect_stats=False, display=False, initial_solution=initial)
    if not result.is_feasible():
        fixed = ", ".join(job.id for job in day.jobs if job.fixed_start is not None)
        raise ScheduleError(f"no plan keeps every fixed visit ({fixed}): re-plan them by hand or unfix some")
    return model.read(result.best)


class _Model:
    """The PyVRP problem data of a day, and how to read a solution back."""

    def __init__(self, day: Day, weights: Weights) -> None:
        self.day = day
        self.patterns: list[tuple[BreakRule, ...]] = sorted({crew.breaks for crew in day.crews}, key=repr)
        self.copies: list[_Copy] = []
        self.day_end = max(crew.end for crew in day.crews)
        self._build_copies(weights)
        self.data = self._build_data(weights)

    def _build_copies(self, weights: Weights) -> None:
        crews_by_pattern = {
            index: {c.id for c in self.day.crews if c.breaks == p} for index, p in enumerate(self.patterns)
        }
        for job in self.day.jobs:
            before = len(self.copies)
            self._copy_job(job, weights, crews_by_pattern)
            if job.fixed_start is not None and len(self.copies) == before:
                raise ScheduleError(f"work order {job.id} is fixed at a time its technician cannot make")

    def _copy_job(self, job: Job, weights: Weights, crews_by_pattern: dict[int, set[str]]) -> None:
        prize = weights.unassigned_per_priority * job.order.priority * _COST_PER_SECOND
        for index, pattern in enumerate(self.patterns):
            if not crews_by_pattern[index] & self.day.allowed[job.id]:
                continue
            for segment in range(len(pattern) + 1):
                early, late = _segment_window(job, pattern, segment)
                if early > late:
                    continue
                for tier_late, tier_prize in _tiers(job, late, prize, weights, self.day_end):
                    if early <= tier_late:
                        self.copies.append(_Copy(job, segment, index, early, tier_late, tier_prize))

    def _build_data(self, weights: Weights) -> pyvrp.ProblemData:
        day = self.day
        homes = sorted({crew.point for crew in day.crews})
        depot_of_point = {point: index for index, point in enumerate(homes)}
        # Locations: the depots, then one per (job, pattern, segment) that has copies.
        slots: dict[tuple[str, int, int], int] = {}
        for copy in self.copies:
            slots.setdefault((copy.job.id, copy.pattern, copy.segment), len(homes) + len(slots))
        size = len(homes) + len(slots)
        point = np.zeros(size, dtype=np.int64)
        point[: len(homes)] = homes
        segment = np.full(size, -1, dtype=np.int64)
        pattern = np.full(size, -1, dtype=np.int64)
        job_index = np.full(size, -1, dtype=np.int64)
        job_number = {job.id: number for number, job in enumerate(day.jobs)}
        for (order_id, pattern_index, segment_index), slot in slots.items():
            point[slot] = day.job(order_id).point
            segment[slot], pattern[slot], job_index[slot] = segment_index, pattern_index, job_number[order_id]
        travel = np.asarray(day.travel, dtype=np.int64)[np.ix_(point, point)]
        locations = [pyvrp.Location(day.points[p].lon, day.points[p].lat) for p in point]
        depots = [pyvrp.Depot(location=i) for i in range(len(homes))]
        members: dict[str, list[int]] = {}
        for number, copy in enumerate(self.copies):
            members.setdefault(copy.job.id, []).append(number)
        groups: list[pyvrp.ClientGroup] = []
        group_of: dict[str, int] = {}
        for order_id, numbers in members.items():
            required = day.job(order_id).fixed_start is not None
            if len(numbers) > 1 or required:
                group_of[order_id] = len(groups)
                groups.append(pyvrp.ClientGroup(numbers, required=required))
        clients = [
            pyvrp.Client(
                location=slots[(copy.job.id, copy.pattern, copy.segment)],
                delivery=[copy.job.order.load] if self._has_capacity else [],
                service_duration=copy.job.duration,
                tw_early=copy.early,
                tw_late=copy.late,
                prize=copy.prize,
                required=False,
                group=group_of.get(copy.job.id),
            )
            for copy in self.copies
        ]
        # Profiles and vehicle types: one per class of interchangeable technicians.
        targets = _fair_shares(day)
        profiles: dict[tuple[int, frozenset[str]], int] = {}
        # PyVRP's stub spells the matrix type np.ndarray[int], which no real array matches.
        distance_matrices: list[Any] = []
        duration_matrices: list[Any] = []
        classes: dict[tuple[object, ...], list[Crew]] = {}
        profile_of: dict[str, int] = {}
        for crew in day.crews:
            pattern_index = self.patterns.index(crew.breaks)
            doable = frozenset(job.id for job in day.jobs if crew.id in day.allowed[job.id])
            key = (pattern_index, doable)
            if key not in profiles:
                profiles[key] = len(profiles)
                usable = np.array([job_index[i] < 0 or day.jobs[job_index[i]].id in doable for i in range(size)])
                usable &= (pattern < 0) | (pattern == pattern_index)
                distance, duration = _matrices(travel, segment, job_index, usable, crew.breaks)
                distance_matrices.append(distance)
                duration_matrices.append(duration)
            profile_of[crew.id] = profiles[key]
            class_key = (crew.point, crew.start, crew.end, profiles[key], crew.technician.capacity, targets[crew.id])
            classes.setdefault(class_key, []).append(crew)
        self.classes = list(classes.values())
        vehicle_types = []
        for crews in self.classes:
            crew = crews[0]
            depot = depot_of_point[crew.point]
            shift = crew.end - crew.start
            target = targets[crew.id] if weights.balance > 0 else shift
            capacity = crew.technician.capacity
            vehicle_types.append(
                pyvrp.VehicleType(
                    num_available=len(crews),
                    capacity=([capacity if capacity is not None else 2**40] if self._has_capacity else []),
                    start_depot=depot,
                    end_depot=depot,
                    tw_early=crew.start,
                    tw_late=crew.end,
                    shift_duration=target,
                    max_overtime=shift - target,
                    unit_overtime_cost=round(weights.balance * _COST_PER_SECOND),
                    unit_distance_cost=_COST_PER_SECOND,
                    profile=profile_of[crew.id],
                    name=crew.id,
                )
            )
        return pyvrp.ProblemData(
            locations, clients, depots, vehicle_types, distance_matrices, duration_matrices, groups=groups
        )

    @property
    def _has_capacity(self) -> bool:
        return any(crew.technician.capacity is not None for crew in self.day.crews)

    def solution(self, plan: Plan) -> pyvrp.Solution:
        """Return ``plan`` as a PyVRP solution: each visit as the copy of its segment and lateness tier."""
        class_of = {crew.id: number for number, crews in enumerate(self.classes) for crew in crews}
        copies: dict[tuple[str, int], list[int]] = {}
        for number, copy in enumerate(self.copies):
            copies.setdefault((copy.job.id, copy.segment), []).append(number)
        routes = []
        for route in plan.routes:
            crew = self.day.crew(route.technician_id)
            pattern = self.patterns.index(crew.breaks)
            visits = []
            for visit in route.visits:
                segment = sum(1 for b in route.breaks if b.end <= visit.start)
                fitting = [
                    n
                    for n in copies.get((visit.order_id, segment), [])
                    if self.copies[n].pattern == pattern and self.copies[n].early <= visit.start <= self.copies[n].late
                ]
                if fitting:
                    # The tightest tier that still fits is the one the plan's lateness earns.
                    visits.append(min(fitting, key=lambda n: self.copies[n].late))
            if visits:
                routes.append(pyvrp.Route(self.data, visits, class_of[crew.id]))
        return pyvrp.Solution(self.data, routes)

    def read(self, solution: pyvrp.Solution) -> Plan:
        """Turn a PyVRP solution into a plan, timed by the exact timeline."""
        free = [list(crews) for crews in self.classes]
        routes = []
        assigned: set[str] = set()
        for route in solution.routes():
            crew = free[route.vehicle_type()].pop(0)
            stops: list[Stop] = []
            at_segment = 0
            for activity in route:
                if not activity.is_client():
                    continue
                copy = self.copies[activity.idx]
                stops.append(Stop(copy.job.id, copy.segment - at_segment))
                at_segment = copy.segment
                assigned.add(copy.job.id)
            times = timeline(self.day, crew, stops)
            if times is None:
                # The model is built so that this cannot happen; a plan that breaks a hard rule must never leave.
                raise ScheduleError(f"internal error: the solver's route for {crew.id} breaks a hard rule")
            routes.append(times)
        routes.sort(key=lambda r: [c.id for c in self.day.crews].index(r.technician_id))
        unassigned = tuple(job.id for job in self.day.jobs if job.id not in assigned)
        return Plan(tuple(routes), unassigned)


def _segment_window(job: Job, pattern: Sequence[BreakRule], segment: int) -> tuple[int, int]:
    """Return the start window of ``job`` between break ``segment - 1`` and break ``segment``."""
    early, late = job.early, job.late
    if segment > 0:
        before = pattern[segment - 1]
        early = max(early, before.earliest + before.length)
    if segment < len(pattern):
        late = min(late, pattern[segment].latest - job.duration)
    return early, late


def _tiers(job: Job, late: int, prize: int, weights: Weights, day_end: int) -> list[tuple[int, int]]:
    """Return (latest start, prize) per lateness tier of ``job``; one tier when it has no SLA deadline.

    Left undone, a job with a deadline is at least as late as the end of the day, so its prize includes that
    lateness: doing it late always beats not doing it.
    """
    if job.deadline is None or job.fixed_start is not None:
        return [(late, prize if job.fixed_start is None else 0)]

    def cost(lateness: int) -> int:
        return round(weights.lateness * lateness * _COST_PER_SECOND)

    prize += cost(max(0, day_end - job.deadline))
    on_time = job.deadline - job.duration
    tiers = []
    for bound in (0, *weights.lateness_tiers):
        tiers.append((min(late, on_time + bound), prize - cost(bound)))
        if on_time + bound >= late:
            return [t for t in tiers if t[1] > 0]
    tiers.append((late, prize - cost(max(0, min(late, day_end - job.duration) - on_time))))
    return [t for t in tiers if t[1] > 0]


def _matrices(
    travel: npt.NDArray[np.int64],
    segment: npt.NDArray[np.int64],
    job_index: npt.NDArray[np.int64],
    usable: npt.NDArray[np.bool_],
    breaks: Sequence[BreakRule],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the distance and duration matrices of one profile (see the module docstring)."""
    rest = np.concatenate([[0], np.cumsum([b.length for b in breaks], dtype=np.int64)])
    depot = segment < 0
    # Locations of other break patterns may have more segments; they are unusable here, so any index will do.
    own_segment = np.minimum(segment, len(breaks))
    leaving = np.where(depot, 0, own_segment)
    arriving = np.where(depot, len(breaks), own_segment)
    duration = travel + rest[arriving][None, :] - rest[leaving][:, None]
    forbidden = arriving[None, :] < leaving[:, None]
    forbidden |= ~usable[:, None] | ~usable[None, :]
    same_job = (job_index[:, None] == job_index[None, :]) & ~depot[:, None]
    forbidden |= same_job
    np.fill_diagonal(forbidden, False)
    forbidden[np.ix_(depot, depot)] = False
    duration = np.where(forbidden, _FORBIDDEN, duration)
    duration[np.ix_(depot, depot)] = 0
    np.fill_diagonal(duration, 0)
    distance = np.where(forbidden, _FORBIDDEN, travel)
    np.fill_diagonal(distance, 0)
    return distance.astype(np.int64), duration.astype(np.int64)


def _fair_shares(day: Day) -> dict[str, int]:
    """Return each technician's share of the day's work (service plus a travel estimate), by shift length."""
    doable = [job for job in day.jobs if day.allowed[job.id]]
    work = 0
    for job in doable:
        others = [day.travel[job.point][o.point] for o in doable if o is not job]
        work += job.duration + (min(others) if others else 0)
    total_shift = sum(crew.end - crew.start for crew in day.crews) or 1
    shares = {}
    for crew in day.crews:
        shift = crew.end - crew.start
        rest = sum(b.length for b in crew.breaks)
        shares[crew.id] = min(shift, math.ceil(work * shift / total_shift) + rest)
    return shares
