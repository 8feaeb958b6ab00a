"""Technician visits as the people around a case see them: the agent desktop's 360 view and the customer portal.

The status is live: each visit carries when its last step happened and, while the technician is on the way, the
ETA computed when they set off (from ``work_order_events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.models import TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.problem import JobType
from field_service.worklog import WorkOrderEvent, WorkOrderEventKind

__all__ = ["CUSTOMER_STAGES", "Visit", "visits_for_cases"]

#: What a customer is told of each work-order status: a visit is being planned, scheduled, on the way, done.
CUSTOMER_STAGES: dict[WorkOrderStatus, str] = {
    WorkOrderStatus.UNSCHEDULED: "planning",
    WorkOrderStatus.SCHEDULED: "scheduled",
    WorkOrderStatus.DISPATCHED: "scheduled",
    WorkOrderStatus.EN_ROUTE: "on_the_way",
    WorkOrderStatus.ON_SITE: "on_site",
    WorkOrderStatus.COMPLETED: "done",
    WorkOrderStatus.CANNOT_COMPLETE: "not_completed",
}


@dataclass(frozen=True)
class Visit:
    """One work order of a case, with its technician's name once one is planned."""

    work_order: str
    case_id: int
    job_type: JobType
    status: WorkOrderStatus
    window_start: datetime | None
    window_end: datetime | None
    planned_start: datetime | None
    technician: str | None
    # When the status last changed, and the expected arrival while the technician is on the way.
    status_since: datetime | None = None
    eta: datetime | None = None

    @property
    def stage(self) -> str:
        """Return the customer's word for where the visit stands."""
        return CUSTOMER_STAGES[self.status]

    @property
    def technician_first_name(self) -> str | None:
        """Return the technician's first name only: all a customer needs to greet them at the door."""
        return self.technician.split()[0] if self.technician else None


async def visits_for_cases(session: AsyncSession, case_ids: Sequence[int]) -> list[Visit]:
    """Return the visits of these cases, earliest first (unplanned ones last)."""
    if not case_ids:
        return []
    rows = await session.execute(
        select(WorkOrderRecord, TechnicianRecord.name)
        .join(TechnicianRecord, col(TechnicianRecord.code) == col(WorkOrderRecord.technician), isouter=True)
        .where(col(WorkOrderRecord.case_id).in_(list(case_ids)))
        .order_by(
            col(WorkOrderRecord.planned_start).is_(None), col(WorkOrderRecord.planned_start), col(WorkOrderRecord.id)
        )
    )
    found = rows.all()
    steps = await _last_steps(session, [order.id for order, _name in found if order.id is not None])
    visits = []
    for order, name in found:
        step = steps.get(order.id or 0)
        eta = step.data.get("eta") if step and order.status is WorkOrderStatus.EN_ROUTE else None
        visits.append(
            Visit(
                work_order=order.code,
                case_id=order.case_id or 0,
                job_type=order.job_type,
                status=order.status,
                window_start=order.window_start,
                window_end=order.window_end,
                planned_start=order.planned_start,
                technician=name,
                status_since=step.created_at if step else None,
                eta=datetime.fromisoformat(str(eta)) if eta else None,
            )
        )
    return visits


async def _last_steps(session: AsyncSession, order_ids: list[int]) -> dict[int, WorkOrderEvent]:
    """Return each work order's latest status step."""
    rows = await session.execute(
        select(WorkOrderEvent)
        .where(col(WorkOrderEvent.work_order_id).in_(order_ids), WorkOrderEvent.kind == WorkOrderEventKind.STATUS)
        .order_by(col(WorkOrderEvent.id))
    )
    return {event.work_order_id: event for event in rows.scalars()}
