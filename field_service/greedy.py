"""The baseline: nearest-feasible greedy dispatching, to show what the optimiser gains.

Repeatedly, the technician who is free the earliest takes the work order they can start soonest (driving plus
waiting for its window), higher priority first on ties, provided they can still get home by the end of the shift
and reach their next fixed visit in time, and the van has room for its load. A technician with nothing feasible
left is done for the day. The optimiser starts its search from this plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from field_service.day import Crew, Day, RouteTimes, Stop, timeline
from field_service.plan import Plan

__all__ = ["greedy"]


def greedy(day: Day) -> Plan:
    """Plan ``day`` with the nearest-feasible greedy rule."""
    routes: dict[str, list[Stop]] = {crew.id: [] for crew in day.crews}
    times: dict[str, RouteTimes | None] = {crew.id: _times(day, crew, []) for crew in day.crews}
    fixed: dict[str, list[str]] = {crew.id: [] for crew in day.crews}
    for job in sorted(day.jobs, key=lambda j: j.fixed_start or 0):
        if job.order.fixed is not None and job.order.fixed.technician_id in fixed:
            fixed[job.order.fixed.technician_id].append(job.id)
    left = {job.id for job in day.jobs if job.fixed_start is None}
    active = {crew.id for crew in day.crews}
    while active:
        crew_id = min(active, key=lambda c: (_free_at(times[c], day.crew(c)), c))
        crew = day.crew(crew_id)
        best: tuple[tuple[int, int, str], list[Stop], RouteTimes] | None = None
        load = sum(day.job(stop.order_id).order.load for stop in routes[crew_id])
        room = crew.technician.capacity - load if crew.technician.capacity is not None else None
        candidates = [
            o for o in left if crew_id in day.allowed[o] and (room is None or day.job(o).order.load <= room)
        ] + fixed[crew_id][:1]
        for order_id in candidates:
            for extended in _extensions(routes[crew_id], order_id, len(crew.breaks)):
                # Check the whole day with the pending fixed visits still ahead.
                pending = [Stop(o) for o in fixed[crew_id] if o != order_id]
                trial = _times(day, crew, extended + pending)
                if trial is None:
                    continue
                visit = trial.visits[len(extended) - 1]
                key = (visit.start, -day.job(order_id).order.priority, order_id)
                if best is None or key < best[0]:
                    best = (key, extended, _times_or_fail(day, crew, extended))
                break
        if best is None:
            active.discard(crew_id)
            continue
        _, extended, route_times = best
        routes[crew_id] = extended
        times[crew_id] = route_times
        chosen = extended[-1].order_id
        left.discard(chosen)
        if fixed[crew_id] and fixed[crew_id][0] == chosen:
            fixed[crew_id].pop(0)
    plans = [t for crew in day.crews if routes[crew.id] and (t := times[crew.id]) is not None]
    assigned = {stop.order_id for stops in routes.values() for stop in stops}
    return Plan(tuple(plans), tuple(job.id for job in day.jobs if job.id not in assigned))


def _extensions(stops: Sequence[Stop], order_id: str, breaks: int) -> list[list[Stop]]:
    """Return the route with ``order_id`` appended: without a break first, then after each pending break."""
    taken = sum(stop.breaks_before for stop in stops)
    return [[*stops, Stop(order_id, before)] for before in range(breaks - taken + 1)]


def _free_at(times: RouteTimes | None, crew: Crew) -> int:
    if times is None or not times.visits:
        return crew.start
    return times.visits[-1].end


def _times(day: Day, crew: Crew, stops: list[Stop]) -> RouteTimes | None:
    return timeline(day, crew, stops)


def _times_or_fail(day: Day, crew: Crew, stops: list[Stop]) -> RouteTimes:
    result = timeline(day, crew, stops)
    if result is None:
        raise AssertionError("a route that fits with its fixed visits ahead must fit without them")
    return result
