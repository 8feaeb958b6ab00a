"""Builders for technician visits on a case (shared by the desktop's and the portal's tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from field_service.models import TechnicianRecord, WorkOrderRecord, WorkOrderStatus


async def add_visits(session, case_id: int, now: datetime) -> None:
    """Ada Lovelace on her way to a repair on the case; an inspection not planned yet."""
    session.add(TechnicianRecord(code="ada", name="Ada Lovelace", home_lat=52.37, home_lon=4.89))
    for code, status, technician, start in (
        ("W-inspect", WorkOrderStatus.UNSCHEDULED, None, None),
        ("W-repair", WorkOrderStatus.EN_ROUTE, "ada", now + timedelta(minutes=20)),
    ):
        session.add(
            WorkOrderRecord(
                code=code,
                case_id=case_id,
                job_type="repair" if code == "W-repair" else "inspection",
                status=status,
                lat=52.36,
                lon=4.90,
                duration_minutes=60,
                window_start=now,
                window_end=now + timedelta(hours=2),
                technician=technician,
                planned_start=start,
                created_at=now,
                updated_at=now,
            )
        )
