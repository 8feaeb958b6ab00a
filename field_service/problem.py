"""What a day's scheduling problem is made of: technicians, their shifts, work orders and stock.

Plain frozen dataclasses, free of I/O. Times of day are local wall-clock times in the problem's time zone; instants
(appointment windows, SLA deadlines, fixed visits) are timezone-aware datetimes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = [
    "Break",
    "FixedVisit",
    "JobType",
    "Location",
    "Problem",
    "ProblemError",
    "Shift",
    "Technician",
    "TimeWindow",
    "WorkOrder",
]


class ProblemError(ValueError):
    """The problem's data is inconsistent (an unknown technician, a window that ends before it starts, ...)."""


class JobType(enum.StrEnum):
    """What a visit is for."""

    INSTALLATION = "installation"
    REPAIR = "repair"
    PREVENTIVE_MAINTENANCE = "preventive_maintenance"
    INSPECTION = "inspection"
    METER_READING = "meter_reading"
    UPGRADE = "upgrade"


@dataclass(frozen=True)
class Location:
    """A point: latitude and longitude in degrees (or plane coordinates for benchmark instances)."""

    lat: float
    lon: float


@dataclass(frozen=True)
class Break:
    """A break of ``minutes`` that must start between ``earliest`` and ``latest`` (local times of day)."""

    earliest: time
    latest: time
    minutes: int

    def __post_init__(self) -> None:
        if self.minutes <= 0:
            raise ProblemError("a break must last at least a minute")
        if self.latest < self.earliest:
            raise ProblemError("a break's latest start is before its earliest start")


@dataclass(frozen=True)
class Shift:
    """Working hours of one weekday: leave home no earlier than ``start``, be back by ``end``."""

    start: time
    end: time
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ProblemError("a shift must end after it starts")
        ordered = sorted(self.breaks, key=lambda b: b.earliest)
        if list(self.breaks) != ordered:
            raise ProblemError("a shift's breaks must be listed in time order")
        for earlier, later in zip(self.breaks, self.breaks[1:], strict=False):
            # Non-overlapping windows keep each break between the two it separates, whatever the exact start.
            latest_end = _add_minutes(earlier.latest, earlier.minutes)
            if latest_end > later.earliest:
                raise ProblemError("a shift's break windows overlap")
        for item in self.breaks:
            if item.earliest < self.start or _add_minutes(item.latest, item.minutes) > self.end:
                raise ProblemError("a break must lie within its shift")


@dataclass(frozen=True)
class Technician:
    """A technician: skills with levels, home base, weekly shifts (0 = Monday), days off, van stock."""

    id: str
    skills: Mapping[str, int]
    home: Location
    shifts: Mapping[int, Shift]
    days_off: frozenset[date] = frozenset()
    van_stock: Mapping[str, int] = field(default_factory=dict)
    warehouse: str | None = None
    # Units the van carries (Solomon-style capacity); None means unlimited.
    capacity: int | None = None
    name: str = ""

    def shift_on(self, day: date) -> Shift | None:
        """Return the shift worked on ``day``, or None on a day off or a weekday without a shift."""
        if day in self.days_off:
            return None
        return self.shifts.get(day.weekday())


@dataclass(frozen=True)
class TimeWindow:
    """The customer's appointment window: service starts no earlier than ``start`` and no later than ``end``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ProblemError("appointment windows need timezone-aware datetimes")
        if self.end < self.start:
            raise ProblemError("an appointment window ends before it starts")


@dataclass(frozen=True)
class FixedVisit:
    """A visit already dispatched: re-optimising keeps its technician and its start."""

    technician_id: str
    start: datetime


@dataclass(frozen=True)
class WorkOrder:
    """A job to schedule at a site."""

    id: str
    site: Location
    duration: timedelta
    job_type: JobType = JobType.REPAIR
    required_skills: Mapping[str, int] = field(default_factory=dict)
    window: TimeWindow | None = None
    # 1 (low) to 5 (urgent): weighs what leaving the job unassigned costs.
    priority: int = 3
    sla_deadline: datetime | None = None
    parts: Mapping[str, int] = field(default_factory=dict)
    pinned_to: str | None = None
    fixed: FixedVisit | None = None
    # Units it takes from the van's capacity (Solomon demand).
    load: int = 0

    def __post_init__(self) -> None:
        if self.duration < timedelta(0):
            raise ProblemError(f"work order {self.id}: negative duration")
        if not 1 <= self.priority <= 5:
            raise ProblemError(f"work order {self.id}: priority must be between 1 and 5")
        if self.sla_deadline is not None and self.sla_deadline.tzinfo is None:
            raise ProblemError(f"work order {self.id}: the SLA deadline needs a timezone-aware datetime")
        if self.fixed is not None and self.fixed.start.tzinfo is None:
            raise ProblemError(f"work order {self.id}: the fixed start needs a timezone-aware datetime")
        if any(quantity <= 0 for quantity in self.parts.values()):
            raise ProblemError(f"work order {self.id}: part quantities must be positive")


@dataclass(frozen=True)
class Problem:
    """One day to plan: who works, what is to be done, and the stock each warehouse holds."""

    day: date
    tz: tzinfo
    technicians: tuple[Technician, ...]
    work_orders: tuple[WorkOrder, ...]
    warehouses: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        technician_ids = [t.id for t in self.technicians]
        if len(set(technician_ids)) != len(technician_ids):
            raise ProblemError("technician ids must be unique")
        order_ids = [o.id for o in self.work_orders]
        if len(set(order_ids)) != len(order_ids):
            raise ProblemError("work order ids must be unique")
        known = set(technician_ids)
        for order in self.work_orders:
            for who in (order.pinned_to, order.fixed.technician_id if order.fixed else None):
                if who is not None and who not in known:
                    raise ProblemError(f"work order {order.id} refers to unknown technician {who}")
            if order.fixed and order.pinned_to and order.fixed.technician_id != order.pinned_to:
                raise ProblemError(f"work order {order.id} is fixed on another technician than it is pinned to")
        for technician in self.technicians:
            if technician.warehouse is not None and technician.warehouse not in self.warehouses:
                raise ProblemError(f"technician {technician.id} draws on unknown warehouse {technician.warehouse}")

    def midnight(self) -> datetime:
        """Return the start of the planned day in the problem's time zone."""
        return datetime.combine(self.day, time(0), tzinfo=self.tz)

    def seconds(self, instant: datetime) -> int:
        """Return ``instant`` as whole seconds since the day's local midnight."""
        # Through UTC, so that a DST change during the day counts real seconds.
        return int((instant.astimezone(UTC) - self.midnight().astimezone(UTC)).total_seconds())

    def seconds_of(self, moment: time) -> int:
        """Return a local time of day on the planned day as seconds since local midnight."""
        return self.seconds(datetime.combine(self.day, moment, tzinfo=self.tz))

    def instant(self, seconds: int) -> datetime:
        """Return the instant ``seconds`` after the day's local midnight, in UTC."""
        return self.midnight().astimezone(UTC) + timedelta(seconds=seconds)


def _add_minutes(moment: time, minutes: int) -> time:
    total = moment.hour * 60 + moment.minute + minutes
    if total >= 24 * 60:
        return time(23, 59, 59)
    return time(total // 60, total % 60, moment.second)
