"""Personas and builders for field-service tests: technicians ada, ben and cleo in a small town, work orders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from field_service.day import Day, build_day
from field_service.problem import Break, Location, Problem, Shift, Technician, TimeWindow, WorkOrder
from field_service.travel import HaversineTravel

DAY = date(2026, 12, 7)  # a Monday
TZ = ZoneInfo("Europe/Amsterdam")
TOWN = Location(52.0, 5.0)
LUNCH = Break(time(12, 0), time(13, 0), 30)
OFFICE_HOURS = Shift(time(8, 0), time(17, 0), (LUNCH,))
TRAVEL = HaversineTravel()


def at(hour: int, minute: int = 0) -> datetime:
    """Return a local time on the test day as a UTC instant."""
    return datetime.combine(DAY, time(hour, minute), tzinfo=TZ).astimezone(UTC)


def near(km_east: float = 0.0, km_north: float = 0.0) -> Location:
    """Return a point this many kilometres from the town centre."""
    return Location(TOWN.lat + km_north / 111.2, TOWN.lon + km_east / (111.2 * 0.6157))


def technician(name: str, **changes: Any) -> Technician:
    """Return a persona: ada (electrical 4, plumbing 2), ben (hvac 3, gas 2), cleo (electrical 2, network 3)."""
    personas: dict[str, dict[str, Any]] = {
        "ada": {"skills": {"electrical": 4, "plumbing": 2}, "home": near(-5)},
        "ben": {"skills": {"hvac": 3, "gas": 2}, "home": near(5)},
        "cleo": {"skills": {"electrical": 2, "network": 3}, "home": near(0, 5)},
    }
    values: dict[str, Any] = {"id": name, "shifts": dict.fromkeys(range(5), OFFICE_HOURS), **personas[name]}
    values.update(changes)
    return Technician(**values)


def order(order_id: str, **changes: Any) -> WorkOrder:
    """Return a one-hour work order in the town centre that needs no skills."""
    values: dict[str, Any] = {"id": order_id, "site": TOWN, "duration": timedelta(hours=1)}
    values.update(changes)
    return WorkOrder(**values)


def window(from_hour: int, to_hour: int) -> TimeWindow:
    """Return an appointment window between two local hours of the test day."""
    return TimeWindow(at(from_hour), at(to_hour))


def problem(technicians: list[Technician], orders: list[WorkOrder], **changes: Any) -> Problem:
    """Return the test day's problem."""
    return Problem(DAY, TZ, tuple(technicians), tuple(orders), **changes)


def day_of(technicians: list[Technician], orders: list[WorkOrder], **changes: Any) -> Day:
    """Return the compiled test day, with haversine travel."""
    return build_day(problem(technicians, orders, **changes), TRAVEL)


def seconds(hour: int, minute: int = 0) -> int:
    """Return a local time of the test day as seconds since midnight."""
    return hour * 3600 + minute * 60
