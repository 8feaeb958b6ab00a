"""Business-hours calendars: when a team is open, and how much open time lies between two instants.

SLA clocks, queue opening hours and IVR hours checks all ask the same questions, so the answer lives here once,
pure and clock-free: every method takes the instants it reasons about. Instants are timezone-aware; the calendar's
blocks are wall-clock times in its own IANA time zone, so daylight-saving changes move them as people expect.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WEEKDAYS", "BusinessCalendar", "CalendarError"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A calendar whose next open block lies further than this is treated as never open (a misconfiguration).
_HORIZON_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar definition or question that cannot be answered."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening blocks per weekday (0 = Monday) in a time zone, minus holidays."""

    time_zone: str = "UTC"
    hours: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {self.time_zone!r}") from exc
        for weekday, blocks in self.hours.items():
            if weekday not in range(7):
                raise CalendarError(f"weekday {weekday} is not 0-6")
            for start, end in blocks:
                if start >= end:
                    raise CalendarError(f"block {start:%H:%M}-{end:%H:%M} ends before it starts")

    @classmethod
    def always_open(cls, time_zone: str = "UTC") -> BusinessCalendar:
        """Return a calendar open around the clock (24/7 teams)."""
        whole_day = ((time(0, 0), time.max),)
        return cls(time_zone=time_zone, hours=dict.fromkeys(range(7), whole_day))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from configuration.

        Example: ``{"time_zone": "Europe/London", "hours": {"mon": ["09:00-12:00", "13:00-17:00"]},
        "holidays": ["2026-12-25"]}``.
        """
        raw_hours = data.get("hours") or {}
        if not isinstance(raw_hours, Mapping):
            raise CalendarError("hours must map weekday names to lists of 'HH:MM-HH:MM' blocks")
        hours: dict[int, tuple[tuple[time, time], ...]] = {}
        for name, blocks in raw_hours.items():
            key = str(name).lower()[:3]
            if key not in WEEKDAYS:
                raise CalendarError(f"unknown weekday {name!r}; use one of {', '.join(WEEKDAYS)}")
            if isinstance(blocks, str):
                blocks = [blocks]
            hours[WEEKDAYS.index(key)] = tuple(sorted(_parse_block(b) for b in blocks))
        holidays: set[date] = set()
        for raw in data.get("holidays") or ():
            try:
                holidays.add(raw if isinstance(raw, date) else date.fromisoformat(str(raw)))
            except ValueError as exc:
                raise CalendarError(f"holiday {raw!r} is not a YYYY-MM-DD date") from exc
        return cls(time_zone=str(data.get("time_zone") or "UTC"), hours=hours, holidays=frozenset(holidays))

    def to_mapping(self) -> dict[str, Any]:
        """Return the configuration form that `from_mapping` reads."""
        return {
            "time_zone": self.time_zone,
            "hours": {
                WEEKDAYS[day]: [f"{s:%H:%M}-{_format_end(e)}" for s, e in blocks]
                for day, blocks in sorted(self.hours.items())
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    def is_open(self, at: datetime) -> bool:
        """Tell whether the instant falls inside an opening block."""
        _require_aware(at)
        return any(start <= at < end for start, end in self._blocks_on(at.astimezone(self._zone).date()))

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Count the open seconds in [start, end); zero when end is not after start."""
        _require_aware(start, end)
        if end <= start:
            return 0.0
        total = 0.0
        for block_start, block_end in self._blocks_from(start):
            if block_start >= end:
                break
            total += (min(block_end, end) - max(block_start, start)).total_seconds()
        return total

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """Return the instant at which `seconds` of open time have passed since `start`."""
        _require_aware(start)
        if seconds < 0:
            raise CalendarError("cannot add negative business time")
        remaining = seconds
        for block_start, block_end in self._blocks_from(start):
            begin = max(block_start, start)
            available = (block_end - begin).total_seconds()
            if remaining <= available:
                return begin + timedelta(seconds=remaining)
            remaining -= available
        raise CalendarError(f"calendar has no open time within {_HORIZON_DAYS} days")

    def next_open(self, at: datetime) -> datetime:
        """Return `at` if open, otherwise the start of the next opening block."""
        for block_start, _ in self._blocks_from(at):
            return max(block_start, at)
        raise CalendarError(f"calendar has no open time within {_HORIZON_DAYS} days")

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _blocks_on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Yield the day's opening blocks as UTC instants."""
        if day in self.holidays:
            return
        zone = self._zone
        for start, end in self.hours.get(day.weekday(), ()):
            local_end = (
                datetime.combine(day + timedelta(days=1), time(0), zone)
                if end == time.max
                else datetime.combine(day, end, zone)
            )
            yield datetime.combine(day, start, zone).astimezone(UTC), local_end.astimezone(UTC)

    def _blocks_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield opening blocks that end after `at`, in order, up to the horizon."""
        _require_aware(at)
        day = at.astimezone(self._zone).date() - timedelta(days=1)
        for offset in range(_HORIZON_DAYS + 2):
            for start, end in self._blocks_on(day + timedelta(days=offset)):
                if end > at:
                    yield start, end


def _parse_block(text: str) -> tuple[time, time]:
    try:
        start_text, end_text = (part.strip() for part in str(text).split("-"))
        start = time.fromisoformat(start_text)
        end = time.max if end_text in ("24:00", "24:00:00") else time.fromisoformat(end_text)
    except ValueError as exc:
        raise CalendarError(f"opening block {text!r} is not 'HH:MM-HH:MM'") from exc
    if start >= end:
        raise CalendarError(f"opening block {text!r} ends before it starts")
    return start, end


def _format_end(end: time) -> str:
    return "24:00" if end == time.max else f"{end:%H:%M}"


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None:
            raise CalendarError("business-hours arithmetic needs timezone-aware datetimes")
