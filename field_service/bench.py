"""Scheduling benchmarks: a generated field-service day (optimiser against the greedy baseline) and Solomon files.

The generated day is a city of 30 x 30 km with technicians of six trades at skill levels 1-5, shifts with a lunch
break, work orders with appointment windows, priorities, SLA deadlines and parts. The same seed gives the same day.

For Solomon instances both sides optimise travel distance only (no fleet minimisation, at most the file's vehicle
count): our scheduler (the instance converted to technicians and work orders, solved by :func:`optimise`) and
plain PyVRP on the instance as it is, each for the same time, one after the other in the same process.
"""

from __future__ import annotations

import math
import random
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyvrp
from pyvrp.stop import MaxRuntime

from field_service.day import Day, build_day
from field_service.greedy import greedy
from field_service.optimiser import DISTANCE_ONLY, optimise
from field_service.plan import Plan, check_plan
from field_service.problem import (
    Break,
    JobType,
    Location,
    Problem,
    Shift,
    Technician,
    TimeWindow,
    WorkOrder,
)
from field_service.solomon import SolomonInstance, read_solomon, solomon_problem
from field_service.travel import EuclideanTravel, HaversineTravel

__all__ = ["SKILLS", "generate_problem", "run_generated", "run_solomon"]

SKILLS = ("electrical", "plumbing", "hvac", "gas", "network", "metering")
PARTS = tuple(f"P-{n:03d}" for n in range(1, 13))
_CENTRE = Location(52.37, 4.90)
_BENCH_DAY = date(2026, 12, 7)  # a Monday
_TZ = ZoneInfo("Europe/Amsterdam")


def generate_problem(jobs: int, technicians: int, seed: int = 1) -> Problem:
    """Return a seeded day of ``jobs`` work orders for ``technicians`` technicians."""
    rng = random.Random(seed)

    def spot() -> Location:
        # Uniform in a 30 x 30 km square around the centre (a degree of latitude is 111 km).
        return Location(
            _CENTRE.lat + rng.uniform(-15, 15) / 111.0,
            _CENTRE.lon + rng.uniform(-15, 15) / (111.0 * math.cos(math.radians(_CENTRE.lat))),
        )

    warehouses = {
        "north": {part: rng.randint(0, 6) for part in PARTS},
        "south": {part: rng.randint(0, 6) for part in PARTS},
    }
    crew = []
    for number in range(technicians):
        trades = rng.sample(SKILLS, rng.randint(2, 4))
        start = time(7, 0) if number % 4 == 0 else time(8, 0)
        end = time(15, 30) if number % 4 == 0 else time(17, 0)
        lunch = Break(time(11, 30), time(13, 0), 30)
        shift = Shift(start, end, (lunch,))
        crew.append(
            Technician(
                id=f"T{number + 1:02d}",
                skills={trade: rng.randint(1, 5) for trade in trades},
                home=spot(),
                shifts=dict.fromkeys(range(5), shift),
                van_stock={part: rng.randint(0, 2) for part in rng.sample(PARTS, 4)},
                warehouse="north" if number % 2 == 0 else "south",
            )
        )
    orders = []
    for number in range(jobs):
        duration = timedelta(minutes=rng.choice((20, 30, 30, 45, 45, 60, 90)))
        window = None
        kind = rng.random()
        if kind < 0.3:
            window = _window(8, 12)
        elif kind < 0.6:
            window = _window(12, 17)
        elif kind < 0.75:
            hour = rng.randint(8, 15)
            window = _window(hour, hour + 2)
        deadline = None
        if rng.random() < 0.3:
            deadline = datetime.combine(_BENCH_DAY, time(rng.randint(10, 17)), tzinfo=_TZ).astimezone(UTC)
        parts = {}
        if rng.random() < 0.3:
            parts = {rng.choice(PARTS): rng.randint(1, 2)}
        orders.append(
            WorkOrder(
                id=f"W{number + 1:04d}",
                site=spot(),
                duration=duration,
                job_type=rng.choice(tuple(JobType)),
                required_skills={rng.choice(SKILLS): rng.choice((1, 1, 2, 2, 3, 4))},
                window=window,
                priority=rng.choice((1, 2, 3, 3, 3, 4, 5)),
                sla_deadline=deadline,
                parts=parts,
            )
        )
    return Problem(_BENCH_DAY, _TZ, tuple(crew), tuple(orders), warehouses)


def _window(from_hour: int, to_hour: int) -> TimeWindow:
    return TimeWindow(
        datetime.combine(_BENCH_DAY, time(from_hour), tzinfo=_TZ).astimezone(UTC),
        datetime.combine(_BENCH_DAY, time(to_hour), tzinfo=_TZ).astimezone(UTC),
    )


@dataclass(frozen=True)
class _Outcome:
    plan: Plan
    seconds: float


def _figures(day: Day, outcome: _Outcome) -> dict[str, Any]:
    plan = outcome.plan
    violations = check_plan(day, plan)
    return {
        "travel_seconds": plan.travel_seconds,
        "lateness_seconds": plan.lateness_seconds,
        "late_visits": sum(1 for r in plan.routes for v in r.visits if v.late > 0),
        "unassigned": len(plan.unassigned),
        "unassigned_priority": sum(day.job(o).order.priority for o in plan.unassigned),
        "assigned_work_seconds": sum(v.end - v.start for r in plan.routes for v in r.visits),
        "technicians_used": sum(1 for r in plan.routes if r.visits),
        "solve_seconds": round(outcome.seconds, 3),
        "violations": len(violations),
    }


def run_generated(jobs: int, technicians: int, seconds: float, seed: int = 1) -> dict[str, Any]:
    """Solve a generated day with the optimiser and the greedy baseline; return both sides' figures."""
    problem = generate_problem(jobs, technicians, seed)
    day = build_day(problem, HaversineTravel())
    started = clock.perf_counter()
    optimised = _Outcome(optimise(day, seconds=seconds, seed=seed), clock.perf_counter() - started)
    started = clock.perf_counter()
    baseline = _Outcome(greedy(day), clock.perf_counter() - started)
    ours, theirs = _figures(day, optimised), _figures(day, baseline)
    return {
        "instance": {"jobs": jobs, "technicians": technicians, "seed": seed, "seconds": seconds},
        "optimiser": ours,
        "greedy": theirs,
        "gain": {
            "unassigned": theirs["unassigned"] - ours["unassigned"],
            "lateness_seconds": theirs["lateness_seconds"] - ours["lateness_seconds"],
            "travel_per_visit_ratio": _ratio(
                ours["travel_seconds"] / max(1, jobs - ours["unassigned"]),
                theirs["travel_seconds"] / max(1, jobs - theirs["unassigned"]),
            ),
        },
    }


def run_solomon(paths: Sequence[Path], seconds: float, seed: int = 1) -> dict[str, Any]:
    """Solve each Solomon file with our scheduler and with plain PyVRP, distance only; return the figures."""
    rows = []
    for path in paths:
        instance = read_solomon(path.read_text())
        problem = solomon_problem(instance)
        day = build_day(problem, EuclideanTravel(instance.seconds_per_unit))
        started = clock.perf_counter()
        plan = optimise(day, seconds=seconds, seed=seed, weights=DISTANCE_ONLY)
        ours_seconds = clock.perf_counter() - started
        ours_routes = [[int(v.order_id) for v in route.visits] for route in plan.routes if route.visits]
        theirs_routes, theirs_seconds = _plain_pyvrp(instance, seconds, seed)
        ours = _solomon_figures(instance, ours_routes, ours_seconds, len(plan.unassigned), check_plan(day, plan))
        theirs = _solomon_figures(instance, theirs_routes, theirs_seconds, 0, [])
        rows.append(
            {
                "instance": instance.name,
                "ours": ours,
                "pyvrp": theirs,
                "distance_ratio": _ratio(ours["distance"], theirs["distance"]),
            }
        )
    return {"objective": "distance only, at most the file's vehicles", "seconds": seconds, "instances": rows}


def _solomon_figures(
    instance: SolomonInstance, routes: list[list[int]], seconds: float, unassigned: int, violations: list[str]
) -> dict[str, Any]:
    return {
        "vehicles": len(routes),
        "distance": round(instance.route_distance(routes), 2),
        "seconds": round(seconds, 3),
        "unassigned": unassigned,
        "violations": len(violations),
    }


# Plain PyVRP scales the plane distances to integers with two decimals, as its own VRPTW examples do.
_PLAIN_SCALE = 100


def _plain_pyvrp(instance: SolomonInstance, seconds: float, seed: int) -> tuple[list[list[int]], float]:
    """Solve the instance with PyVRP's own model, distance only; return routes of customer numbers and time."""
    model = pyvrp.Model()
    depot_row = instance.depot
    depot = model.add_depot(
        model.add_location(depot_row.x, depot_row.y),
        tw_early=round(depot_row.ready * _PLAIN_SCALE),
        tw_late=round(depot_row.due * _PLAIN_SCALE),
    )
    model.add_vehicle_type(
        num_available=instance.vehicles,
        capacity=instance.capacity,
        start_depot=depot,
        end_depot=depot,
        tw_early=round(depot_row.ready * _PLAIN_SCALE),
        tw_late=round(depot_row.due * _PLAIN_SCALE),
    )
    for row in instance.customers:
        model.add_client(
            model.add_location(row.x, row.y),
            delivery=row.demand,
            service_duration=round(row.service * _PLAIN_SCALE),
            tw_early=round(row.ready * _PLAIN_SCALE),
            tw_late=round(row.due * _PLAIN_SCALE),
        )
    rows = [depot_row, *instance.customers]
    for frm, a in zip(model.locations, rows, strict=True):
        for to, b in zip(model.locations, rows, strict=True):
            scaled = round(math.dist((a.x, a.y), (b.x, b.y)) * _PLAIN_SCALE)
            model.add_edge(frm, to, distance=scaled, duration=scaled)
    started = clock.perf_counter()
    result = model.solve(MaxRuntime(seconds), seed=seed, collect_stats=False, display=False)
    elapsed = clock.perf_counter() - started
    routes = [
        [instance.customers[activity.idx].number for activity in route if activity.is_client()]
        for route in result.best.routes()
    ]
    return routes, elapsed


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 4) if theirs else None
