"""Who may do what (skills, parts, pins) and the exact timeline of a route, breaks included."""

from __future__ import annotations

from datetime import time, timedelta

from field_service.day import Stop, compatible, timeline
from field_service.problem import FixedVisit, Shift
from tests.field_service.factories import TOWN, at, day_of, near, order, seconds, technician, window


def test_skills_must_reach_the_required_level() -> None:
    ada, cleo = technician("ada"), technician("cleo")
    needs_expert = order("W1", required_skills={"electrical": 3})
    assert compatible(ada, needs_expert, {})
    assert not compatible(cleo, needs_expert, {})
    assert not compatible(ada, order("W2", required_skills={"gas": 1}), {})


def test_parts_may_come_from_the_van_and_the_technicians_warehouse_together() -> None:
    stocked = technician("ada", van_stock={"fuse": 1}, warehouse="north")
    unstocked = technician("ada", van_stock={}, warehouse=None)
    warehouses = {"north": {"fuse": 2}}
    assert compatible(stocked, order("W1", parts={"fuse": 3}), warehouses)
    assert not compatible(stocked, order("W1", parts={"fuse": 4}), warehouses)
    assert not compatible(unstocked, order("W1", parts={"fuse": 1}), warehouses)


def test_pins_and_fixed_visits_allow_only_their_technician() -> None:
    ada, ben = technician("ada"), technician("ben")
    assert not compatible(ben, order("W1", pinned_to="ada"), {})
    assert not compatible(ben, order("W1", fixed=FixedVisit("ada", at(9))), {})
    assert compatible(ada, order("W1", pinned_to="ada"), {})


def test_technicians_off_today_may_do_nothing() -> None:
    day = day_of([technician("ada", shifts={})], [order("W1")])
    assert day.crews == ()
    assert day.allowed["W1"] == frozenset()


def test_a_break_is_taken_at_the_site_when_the_visit_ends_inside_its_window() -> None:
    day = day_of([technician("ada", home=TOWN)], [order("W1", window=window(11, 12)), order("W2")])
    crew = day.crew("ada")
    times = timeline(day, crew, [Stop("W1"), Stop("W2", breaks_before=0)])
    # Without a break before W2, the technician works 11:00-13:00 and takes the break at its latest start.
    assert times is not None
    assert [(v.start, v.end) for v in times.visits] == [(seconds(11), seconds(12)), (seconds(12), seconds(13))]
    assert [(b.start, b.end) for b in times.breaks] == [(seconds(13), seconds(13, 30))]
    after = timeline(day, crew, [Stop("W1"), Stop("W2", breaks_before=1)])
    assert after is not None
    assert [(b.start, b.end) for b in after.breaks] == [(seconds(12), seconds(12, 30))]
    assert after.visits[1].start == seconds(12, 30)


def test_a_break_that_falls_during_a_drive_is_taken_by_pulling_over() -> None:
    day = day_of(
        [technician("ada", home=TOWN)],
        [order("W1", window=window(11, 11), duration=timedelta(minutes=50)), order("W2", site=near(20))],
    )
    drive = day.travel[day.job("W1").point][day.job("W2").point]
    assert drive > 30 * 60
    times = timeline(day, day.crew("ada"), [Stop("W1"), Stop("W2", breaks_before=1)])
    assert times is not None
    # W1 ends 11:50; ten minutes of driving, the break 12:00-12:30, then the rest of the drive.
    assert [(b.start, b.end) for b in times.breaks] == [(seconds(12), seconds(12, 30))]
    assert times.visits[1].start == seconds(11, 50) + drive + 30 * 60


def test_routes_that_miss_a_window_the_break_or_the_shift_end_are_refused() -> None:
    short = Shift(time(8), time(10))
    day = day_of(
        [technician("ada", home=TOWN), technician("ben", home=TOWN, shifts=dict.fromkeys(range(5), short))],
        [order("W1", window=window(9, 9)), order("W2", window=window(9, 9)), order("W3", window=window(13, 14))],
    )
    ada, ben = day.crew("ada"), day.crew("ben")
    assert timeline(day, ada, [Stop("W1"), Stop("W2")]) is None  # both at 09:00
    assert timeline(day, ada, [Stop("W3", breaks_before=0)]) is None  # W3 ends after the break's latest start
    assert timeline(day, ada, [Stop("W3", breaks_before=1)]) is not None
    assert timeline(day, ben, [Stop("W1")]) is not None  # 09:00-10:00, at home by 10:00
    assert timeline(day, ben, [Stop("W3")]) is None
    assert timeline(day, ada, []) is not None
