"""A day's plan: each technician's route, what is left unassigned, its figures, and an independent check of it."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from field_service.day import Day, RouteTimes

__all__ = ["Plan", "check_plan", "plan_json"]


@dataclass(frozen=True)
class Plan:
    """Routes of the technicians who have work, and the work orders nobody does today."""

    routes: tuple[RouteTimes, ...]
    unassigned: tuple[str, ...]

    @property
    def travel_seconds(self) -> int:
        """Return the total driving time of all routes."""
        return sum(route.travel for route in self.routes)

    @property
    def lateness_seconds(self) -> int:
        """Return the total time by which visits end after their SLA deadlines."""
        return sum(visit.late for route in self.routes for visit in route.visits)

    def technician_of(self, order_id: str) -> str | None:
        """Return who does ``order_id``, or None if it is unassigned."""
        for route in self.routes:
            if any(visit.order_id == order_id for visit in route.visits):
                return route.technician_id
        return None


def check_plan(day: Day, plan: Plan) -> list[str]:
    """Return every hard rule ``plan`` breaks (empty when it is feasible), checked from its times alone.

    Independent of how the plan was made: it looks only at the intervals (visits, breaks, the shift) and the
    travel matrix, so it also checks the scheduler's own timeline.
    """
    problems: list[str] = []
    seen = Counter(v.order_id for route in plan.routes for v in route.visits) + Counter(plan.unassigned)
    for order_id, count in seen.items():
        if count > 1:
            problems.append(f"{order_id} appears {count} times")
    known = {job.id for job in day.jobs}
    problems.extend(f"{order_id} is not a work order of the day" for order_id in seen.keys() - known)
    problems.extend(f"{order_id} is neither assigned nor unassigned" for order_id in known - seen.keys())
    for job in day.jobs:
        if job.fixed_start is not None and job.id in plan.unassigned:
            problems.append(f"{job.id} is fixed but left unassigned")
    crews = {crew.id: crew for crew in day.crews}
    for route in plan.routes:
        crew = crews.get(route.technician_id)
        if crew is None:
            problems.append(f"{route.technician_id} does not work today")
            continue
        problems.extend(_check_route(day, route))
    return problems


def _check_route(day: Day, route: RouteTimes) -> list[str]:
    crew = day.crew(route.technician_id)
    who = route.technician_id
    problems: list[str] = []
    if not route.visits:
        return problems
    load = 0
    for visit in route.visits:
        if visit.order_id not in day.allowed:
            continue
        job = day.job(visit.order_id)
        load += job.order.load
        if who not in day.allowed[job.id]:
            problems.append(f"{job.id}: {who} lacks the skills, parts or pin for it")
        if not job.early <= visit.start <= job.late:
            problems.append(f"{job.id}: starts at {visit.start}, outside its window [{job.early}, {job.late}]")
        if visit.end - visit.start != job.duration:
            problems.append(f"{job.id}: lasts {visit.end - visit.start} s instead of {job.duration} s")
        if job.order.fixed is not None and (job.order.fixed.technician_id != who or visit.start != job.fixed_start):
            problems.append(f"{job.id}: moved although it is fixed")
    capacity = crew.technician.capacity
    if capacity is not None and load > capacity:
        problems.append(f"{who}: load {load} over the van's capacity {capacity}")
    if len(route.breaks) != len(crew.breaks):
        problems.append(f"{who}: takes {len(route.breaks)} breaks instead of {len(crew.breaks)}")
    for taken, rule in zip(route.breaks, crew.breaks, strict=False):
        if not rule.earliest <= taken.start <= rule.latest or taken.end - taken.start != rule.length:
            problems.append(f"{who}: break {taken.start}-{taken.end} outside its rule")
    # Sites in time order, with home at both ends of the shift; breaks must fall in the gaps, and each gap must
    # leave enough time, breaks deducted, to drive from one site to the next.
    sites = [(crew.point, crew.start, crew.start)]
    sites += [(day.job(v.order_id).point, v.start, v.end) for v in route.visits if v.order_id in day.allowed]
    sites.append((crew.point, crew.end, crew.end))
    for (point_a, _, end_a), (point_b, start_b, _) in itertools.pairwise(sites):
        if start_b < end_a:
            problems.append(f"{who}: visits overlap at {start_b}")
            continue
        resting = sum(
            min(b.end, start_b) - max(b.start, end_a) for b in route.breaks if b.end > end_a and b.start < start_b
        )
        if start_b - end_a - resting < day.travel[point_a][point_b]:
            problems.append(f"{who}: no time to drive to the visit at {start_b}")
    for taken in route.breaks:
        if any(v.start < taken.end and taken.start < v.end for v in route.visits):
            problems.append(f"{who}: break {taken.start}-{taken.end} overlaps a visit")
        if taken.start < crew.start or taken.end > crew.end:
            problems.append(f"{who}: break {taken.start}-{taken.end} outside the shift")
    return problems


def plan_json(day: Day, plan: Plan) -> dict[str, Any]:
    """Return the plan as JSON-ready data, with ISO 8601 UTC instants."""
    problem = day.problem

    def iso(seconds: int) -> str:
        return problem.instant(seconds).isoformat()

    return {
        "date": problem.day.isoformat(),
        "travel_seconds": plan.travel_seconds,
        "lateness_seconds": plan.lateness_seconds,
        "unassigned": list(plan.unassigned),
        "routes": [
            {
                "technician": route.technician_id,
                "travel_seconds": route.travel,
                "back_home": iso(route.back),
                "visits": [
                    {
                        "work_order": v.order_id,
                        "start": iso(v.start),
                        "end": iso(v.end),
                        "travel_seconds": v.travel,
                        "late_seconds": v.late,
                    }
                    for v in route.visits
                ],
                "breaks": [{"start": iso(b.start), "end": iso(b.end)} for b in route.breaks],
            }
            for route in plan.routes
        ],
    }
