from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.calendar import BusinessCalendar, CalendarError

LONDON = BusinessCalendar.from_mapping(
    {
        "time_zone": "Europe/London",
        "hours": {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-12-25"],
    }
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_open_inside_a_block_and_closed_at_lunch_weekends_and_holidays() -> None:
    assert LONDON.is_open(at("2026-11-23T09:30"))  # Monday, GMT == UTC in winter
    assert not LONDON.is_open(at("2026-11-23T12:30"))
    assert not LONDON.is_open(at("2026-11-22T10:00"))  # Sunday
    assert not LONDON.is_open(at("2026-12-25T10:00"))  # Friday, holiday


def test_summer_time_moves_blocks_in_utc() -> None:
    assert LONDON.is_open(at("2026-07-01T08:30"))  # 09:30 BST
    assert not LONDON.is_open(at("2026-07-01T16:30"))  # 17:30 BST


def test_business_seconds_skip_lunch_night_and_weekend() -> None:
    friday_16 = at("2026-11-27T16:00")
    monday_10 = at("2026-11-30T10:00")
    assert LONDON.business_seconds_between(friday_16, monday_10) == 2 * 3600


def test_add_business_seconds_crosses_the_gap() -> None:
    assert LONDON.add_business_seconds(at("2026-11-23T11:30"), 3600) == at("2026-11-23T13:30")
    assert LONDON.add_business_seconds(at("2026-11-27T16:30"), 3600) == at("2026-11-30T09:30")
    assert LONDON.next_open(at("2026-11-22T20:00")) == at("2026-11-23T09:00")


def test_bad_definitions_are_named() -> None:
    with pytest.raises(CalendarError, match="weekday"):
        BusinessCalendar.from_mapping({"hours": {"funday": ["09:00-10:00"]}})
    with pytest.raises(CalendarError, match="ends before"):
        BusinessCalendar.from_mapping({"hours": {"mon": ["10:00-09:00"]}})
    with pytest.raises(CalendarError, match="time zone"):
        BusinessCalendar.from_mapping({"time_zone": "Mars/Olympus"})
    with pytest.raises(CalendarError, match="aware"):
        LONDON.is_open(datetime(2026, 1, 1))


def test_round_trips_through_its_mapping() -> None:
    assert BusinessCalendar.from_mapping(LONDON.to_mapping()) == LONDON
    always = BusinessCalendar.always_open()
    assert always.business_seconds_between(at("2026-01-01T00:00"), at("2026-01-02T00:00")) == 86400


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    seconds=st.integers(min_value=0, max_value=40 * 3600),
)
def test_adding_then_measuring_gives_back_the_same_business_time(start: datetime, seconds: int) -> None:
    due = LONDON.add_business_seconds(start, seconds)
    assert due >= start
    assert abs(LONDON.business_seconds_between(start, due) - seconds) < 1e-6
    assert due - start >= timedelta(seconds=seconds)
