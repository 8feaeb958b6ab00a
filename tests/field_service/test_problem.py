"""The problem's data refuses what makes no sense, and converts wall-clock times to seconds of the day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from field_service.problem import Break, FixedVisit, Problem, ProblemError, Shift, TimeWindow
from tests.field_service.factories import DAY, OFFICE_HOURS, TZ, at, order, problem, technician


def test_a_day_off_and_a_weekend_have_no_shift() -> None:
    ada = technician("ada", days_off=frozenset({DAY}))
    assert ada.shift_on(DAY) is None
    assert ada.shift_on(DAY + timedelta(days=1)) == OFFICE_HOURS
    assert ada.shift_on(date(2026, 12, 12)) is None  # a Saturday


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Shift(time(17), time(8)), "end after it starts"),
        (lambda: Shift(time(8), time(17), (Break(time(7), time(7, 30), 30),)), "within its shift"),
        (
            lambda: Shift(time(8), time(17), (Break(time(12), time(13), 30), Break(time(13, 15), time(14), 15))),
            "overlap",
        ),
        (lambda: Break(time(13), time(12), 30), "latest start"),
        (lambda: TimeWindow(at(12), at(10)), "ends before"),
        (lambda: TimeWindow(datetime(2026, 12, 7, 10), at(12)), "timezone-aware"),
        (lambda: order("W1", priority=9), "priority"),
        (lambda: order("W1", parts={"fuse": 0}), "positive"),
    ],
)
def test_inconsistent_pieces_are_refused(make: object, message: str) -> None:
    with pytest.raises(ProblemError, match=message):
        make()  # type: ignore[operator]


def test_references_to_unknown_technicians_and_warehouses_are_refused() -> None:
    with pytest.raises(ProblemError, match="unknown technician zed"):
        problem([technician("ada")], [order("W1", pinned_to="zed")])
    with pytest.raises(ProblemError, match="fixed on another technician"):
        problem(
            [technician("ada"), technician("ben")],
            [order("W1", pinned_to="ada", fixed=FixedVisit("ben", at(9)))],
        )
    with pytest.raises(ProblemError, match="unknown warehouse"):
        problem([technician("ada", warehouse="north")], [])
    with pytest.raises(ProblemError, match="unique"):
        problem([technician("ada")], [order("W1"), order("W1")])


def test_seconds_of_the_day_count_real_seconds_across_a_dst_change() -> None:
    # 29 March 2026: clocks in Amsterdam jump from 02:00 to 03:00.
    spring = Problem(date(2026, 3, 29), ZoneInfo("Europe/Amsterdam"), (), ())
    assert spring.seconds_of(time(12)) == 11 * 3600
    assert spring.instant(11 * 3600).isoformat() == "2026-03-29T10:00:00+00:00"
    plain = problem([], [])
    assert plain.seconds(at(9, 30)) == 9 * 3600 + 1800
    assert plain.instant(9 * 3600) == datetime.combine(DAY, time(9), tzinfo=TZ)
