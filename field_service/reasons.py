"""Why a work order is left out of a day's plan, in words a dispatcher can act on.

Pure: it reads the compiled day and the plan. A work order nobody may do today is explained by the first rule that
rules every technician out (nobody works, the pin, skills, parts, capacity); one that some technician could do but
no route takes was crowded out by the time its window, the shifts and the other jobs leave.
"""

from __future__ import annotations

from field_service.day import Day, Job
from field_service.plan import Plan
from field_service.problem import Technician, WorkOrder

__all__ = ["unassigned_reasons"]


def unassigned_reasons(day: Day, plan: Plan) -> dict[str, str]:
    """Return {work order id: why it is unassigned} for every unassigned work order of the plan."""
    return {order_id: _reason(day, day.job(order_id)) for order_id in plan.unassigned}


def _reason(day: Day, job: Job) -> str:
    order = job.order
    working = [crew.technician for crew in day.crews]
    if not working:
        return "no technician works this day"
    if day.allowed.get(job.id):
        if job.early > job.late:
            return "its appointment window has already passed"
        who = ", ".join(sorted(day.allowed[job.id]))
        return f"no room: the routes of those who could do it ({who}) cannot fit it in its window"
    if order.pinned_to is not None and all(t.id != order.pinned_to for t in working):
        return f"pinned to {order.pinned_to}, who does not work this day"
    skilled = [t for t in working if _skilled(t, order)]
    if not skilled:
        needs = ", ".join(f"{skill} {level}" for skill, level in sorted(order.required_skills.items()))
        return f"no technician working this day has the skills ({needs})"
    stocked = [t for t in skilled if _stocked(day, t, order)]
    if not stocked:
        parts = ", ".join(f"{quantity} x {sku}" for sku, quantity in sorted(order.parts.items()))
        return f"parts not in stock for any skilled technician ({parts})"
    if order.pinned_to is not None:
        return f"pinned to {order.pinned_to}, who lacks the skills or parts for it"
    return "no technician's van can carry its load"


def _skilled(technician: Technician, order: WorkOrder) -> bool:
    return all(technician.skills.get(skill, 0) >= level for skill, level in order.required_skills.items())


def _stocked(day: Day, technician: Technician, order: WorkOrder) -> bool:
    warehouses = day.problem.warehouses
    warehouse = warehouses.get(technician.warehouse, {}) if technician.warehouse else {}
    return all(
        technician.van_stock.get(sku, 0) + warehouse.get(sku, 0) >= quantity for sku, quantity in order.parts.items()
    )
