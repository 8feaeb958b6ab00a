"""A problem compiled into whole seconds of the day, and the exact timeline of one technician's route.

Every scheduler (the PyVRP optimiser, the greedy baseline) hands its routes to :func:`timeline`, which is the one
place that decides when each visit and break happens. The rule for breaks: a break is taken at the first moment
within its window when the technician is not on a site: right after a visit, at home, or by pulling over on the
way; travel resumes after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from field_service.problem import Location, Problem, Technician, WorkOrder
from field_service.travel import TravelMatrix

__all__ = [
    "BreakRule",
    "Crew",
    "Day",
    "Job",
    "PlannedBreak",
    "RouteTimes",
    "Stop",
    "VisitTimes",
    "build_day",
    "compatible",
    "timeline",
]

# Jobs without an appointment window may start any time of the planned day (shifts bound them anyway).
_END_OF_DAY = 2 * 24 * 3600


@dataclass(frozen=True)
class BreakRule:
    """A break that starts between ``earliest`` and ``latest`` (seconds of the day) and lasts ``length``."""

    earliest: int
    latest: int
    length: int


@dataclass(frozen=True)
class Crew:
    """A technician working on the planned day, in seconds."""

    technician: Technician
    point: int
    start: int
    end: int
    breaks: tuple[BreakRule, ...]

    @property
    def id(self) -> str:
        """Return the technician's id."""
        return self.technician.id


@dataclass(frozen=True)
class Job:
    """A work order in seconds: service must start within [early, late]."""

    order: WorkOrder
    point: int
    duration: int
    early: int
    late: int
    deadline: int | None
    fixed_start: int | None

    @property
    def id(self) -> str:
        """Return the work order's id."""
        return self.order.id


@dataclass(frozen=True)
class Day:
    """The problem in seconds: crews, jobs, the travel matrix over their points, and who may do what."""

    problem: Problem
    crews: tuple[Crew, ...]
    jobs: tuple[Job, ...]
    # Homes of the working technicians, then the sites, in travel-matrix order.
    points: tuple[Location, ...]
    travel: Sequence[Sequence[int]]
    # work order id -> ids of the technicians allowed to do it today.
    allowed: Mapping[str, frozenset[str]]
    _by_id: dict[str, Job] = field(init=False, repr=False, compare=False)

    def crew(self, technician_id: str) -> Crew:
        """Return the crew of a technician working today."""
        for crew in self.crews:
            if crew.id == technician_id:
                return crew
        raise KeyError(technician_id)

    def job(self, order_id: str) -> Job:
        """Return the job of a work order."""
        return self._by_id[order_id]

    def __post_init__(self) -> None:
        # Frozen, so the index is set once here; timelines look jobs up for every stop they time.
        object.__setattr__(self, "_by_id", {job.id: job for job in self.jobs})


def compatible(technician: Technician, order: WorkOrder, warehouses: Mapping[str, Mapping[str, int]]) -> bool:
    """Say whether ``technician`` may do ``order``: skills, parts in the van or their warehouse, pin, capacity."""
    if order.pinned_to is not None and order.pinned_to != technician.id:
        return False
    if order.fixed is not None and order.fixed.technician_id != technician.id:
        return False
    for skill, level in order.required_skills.items():
        if technician.skills.get(skill, 0) < level:
            return False
    warehouse = warehouses.get(technician.warehouse, {}) if technician.warehouse else {}
    for part, quantity in order.parts.items():
        if technician.van_stock.get(part, 0) + warehouse.get(part, 0) < quantity:
            return False
    return technician.capacity is None or order.load <= technician.capacity


def build_day(problem: Problem, travel: TravelMatrix, now: datetime | None = None) -> Day:
    """Compile ``problem`` into seconds of its day and compute the travel matrix once.

    With ``now`` (re-optimising during the day), visits that are not fixed cannot start before it.
    """
    not_before = problem.seconds(now) if now is not None else 0
    crews: list[Crew] = []
    points: list[Location] = []
    for technician in problem.technicians:
        shift = technician.shift_on(problem.day)
        if shift is None:
            continue
        breaks = tuple(
            BreakRule(problem.seconds_of(b.earliest), problem.seconds_of(b.latest), b.minutes * 60)
            for b in shift.breaks
        )
        crews.append(
            Crew(technician, len(points), problem.seconds_of(shift.start), problem.seconds_of(shift.end), breaks)
        )
        points.append(technician.home)
    jobs: list[Job] = []
    for order in problem.work_orders:
        early, late = 0, _END_OF_DAY
        if order.window is not None:
            early, late = problem.seconds(order.window.start), problem.seconds(order.window.end)
        early = max(early, not_before)
        fixed_start = problem.seconds(order.fixed.start) if order.fixed else None
        if fixed_start is not None:
            early = late = fixed_start
        deadline = problem.seconds(order.sla_deadline) if order.sla_deadline else None
        jobs.append(Job(order, len(points), int(order.duration.total_seconds()), early, late, deadline, fixed_start))
        points.append(order.site)
    working = {crew.id for crew in crews}
    allowed = {
        order.id: frozenset(
            t.id for t in problem.technicians if t.id in working and compatible(t, order, problem.warehouses)
        )
        for order in problem.work_orders
    }
    return Day(problem, tuple(crews), tuple(jobs), tuple(points), travel.seconds(points), allowed)


@dataclass(frozen=True)
class Stop:
    """A visit in a route, after taking ``breaks_before`` of the crew's pending breaks."""

    order_id: str
    breaks_before: int = 0


@dataclass(frozen=True)
class VisitTimes:
    """When a visit happens, in seconds of the day, and the drive that leads to it."""

    order_id: str
    start: int
    end: int
    travel: int
    late: int


@dataclass(frozen=True)
class PlannedBreak:
    """A break taken from ``start`` to ``end``."""

    start: int
    end: int


@dataclass(frozen=True)
class RouteTimes:
    """A crew's day: visits and breaks in time order, and the drive home."""

    technician_id: str
    visits: tuple[VisitTimes, ...]
    breaks: tuple[PlannedBreak, ...]
    back: int
    travel: int


@dataclass
class _Cursor:
    time: int
    point: int
    breaks_taken: int


def timeline(day: Day, crew: Crew, stops: Sequence[Stop]) -> RouteTimes | None:
    """Return the earliest-start times of ``stops`` for ``crew``, or None if the route breaks a hard rule.

    Hard rules: appointment windows (service starts within them), breaks within their windows, the shift (leave
    home no earlier than its start, home again by its end). The crew takes every break of its shift when it works.
    """
    if not stops:
        return RouteTimes(crew.id, (), (), crew.start, 0)
    cursor = _Cursor(crew.start, crew.point, 0)
    visits: list[VisitTimes] = []
    breaks: list[PlannedBreak] = []
    for stop in stops:
        job = day.job(stop.order_id)
        visit = _visit(day, crew, cursor, job, stop.breaks_before, breaks)
        if visit is None:
            return None
        visits.append(visit)
    back = _drive(day, crew, cursor, crew.point, len(crew.breaks) - cursor.breaks_taken, breaks)
    if back is None or back > crew.end:
        return None
    travel = sum(v.travel for v in visits) + day.travel[day.job(stops[-1].order_id).point][crew.point]
    return RouteTimes(crew.id, tuple(visits), tuple(breaks), back, travel)


def _visit(
    day: Day, crew: Crew, cursor: _Cursor, job: Job, breaks_before: int, breaks: list[PlannedBreak]
) -> VisitTimes | None:
    start_point = cursor.point
    arrival = _drive(day, crew, cursor, job.point, breaks_before, breaks)
    if arrival is None:
        return None
    start = max(arrival, job.early)
    if start > job.late:
        return None
    end = start + job.duration
    # The next pending break must still be able to start after this visit.
    if cursor.breaks_taken < len(crew.breaks) and end > crew.breaks[cursor.breaks_taken].latest:
        return None
    cursor.time, cursor.point = end, job.point
    late = max(0, end - job.deadline) if job.deadline is not None else 0
    return VisitTimes(job.id, start, end, day.travel[start_point][job.point], late)


def _drive(
    day: Day, crew: Crew, cursor: _Cursor, destination: int, breaks_before: int, breaks: list[PlannedBreak]
) -> int | None:
    """Drive from the cursor to ``destination``, taking ``breaks_before`` breaks first; return the arrival."""
    if breaks_before < 0 or cursor.breaks_taken + breaks_before > len(crew.breaks):
        return None
    remaining = day.travel[cursor.point][destination]
    now = cursor.time
    for rule in crew.breaks[cursor.breaks_taken : cursor.breaks_taken + breaks_before]:
        begin = max(now, rule.earliest)
        if begin > rule.latest:
            return None
        # Drive until the break begins (or arrive and wait for it), then rest.
        remaining -= min(remaining, begin - now)
        breaks.append(PlannedBreak(begin, begin + rule.length))
        now = begin + rule.length
    cursor.breaks_taken += breaks_before
    return now + remaining
