"""Changes to a day between two optimiser runs: dispatching visits, a technician calling in sick, a new job."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from field_service.day import Day
from field_service.plan import Plan
from field_service.problem import FixedVisit, Problem, ProblemError, WorkOrder

__all__ = ["add_work_order", "dispatch", "technician_off"]


def dispatch(day: Day, plan: Plan, order_ids: Iterable[str]) -> Problem:
    """Return the day's problem with these planned visits fixed: the next run keeps technician and start."""
    wanted = set(order_ids)
    fixed: dict[str, FixedVisit] = {}
    for route in plan.routes:
        for visit in route.visits:
            if visit.order_id in wanted:
                fixed[visit.order_id] = FixedVisit(route.technician_id, day.problem.instant(visit.start))
    unknown = wanted - fixed.keys()
    if unknown:
        raise ProblemError(f"not planned, so cannot be dispatched: {', '.join(sorted(unknown))}")
    problem = day.problem
    orders = tuple(
        dataclasses.replace(order, fixed=fixed[order.id]) if order.id in fixed else order
        for order in problem.work_orders
    )
    return dataclasses.replace(problem, work_orders=orders)


def technician_off(problem: Problem, technician_id: str) -> Problem:
    """Return the problem with the technician off for the day; their fixed and pinned work orders are released."""
    technicians = []
    for technician in problem.technicians:
        if technician.id == technician_id:
            technician = dataclasses.replace(technician, days_off=technician.days_off | {problem.day})
        technicians.append(technician)
    if all(t.id != technician_id for t in problem.technicians):
        raise ProblemError(f"no technician {technician_id}")
    orders = tuple(
        dataclasses.replace(
            order,
            fixed=None if order.fixed and order.fixed.technician_id == technician_id else order.fixed,
            pinned_to=None if order.pinned_to == technician_id else order.pinned_to,
        )
        for order in problem.work_orders
    )
    return dataclasses.replace(problem, technicians=tuple(technicians), work_orders=orders)


def add_work_order(problem: Problem, order: WorkOrder) -> Problem:
    """Return the problem with one more work order."""
    return dataclasses.replace(problem, work_orders=(*problem.work_orders, order))
