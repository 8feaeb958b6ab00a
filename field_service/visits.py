"""Technician visits as the people around a case see them: the agent desktop's 360 view and the customer portal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.models import TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.problem import JobType

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
    return [
        Visit(
            work_order=order.code,
            case_id=order.case_id or 0,
            job_type=order.job_type,
            status=order.status,
            window_start=order.window_start,
            window_end=order.window_end,
            planned_start=order.planned_start,
            technician=name,
        )
        for order, name in rows.all()
    ]
