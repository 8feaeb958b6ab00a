"""Due dates of preventive maintenance plans, and, over random histories, that plans are never skipped or doubled."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from field_service.maintenance import PlanView, Reading, advance, due_on, plans_due, service_window

START = date(2026, 1, 1)


def reading(day: date, value: float, hour: int = 12) -> Reading:
    return Reading(datetime.combine(day, time(hour), tzinfo=UTC), value)


def test_a_calendar_plan_is_due_its_interval_after_the_last_service() -> None:
    plan = PlanView(id=1, asset_id=1, last_service_on=START, interval_days=90, lead_days=14)
    assert due_on(plan, []) == date(2026, 4, 1)
    assert plans_due([plan], {}, date(2026, 3, 17)) == []
    assert [d.due_on for d in plans_due([plan], {}, date(2026, 3, 18))] == [date(2026, 4, 1)]


def test_a_meter_plan_projects_its_due_date_from_the_rate_of_use() -> None:
    # 10 hours a day since the service at 1000 h; due every 500 h, so at 1500 h, 50 days after the service.
    plan = PlanView(id=1, asset_id=7, last_service_on=START, meter_interval=500, last_service_meter=1000, lead_days=7)
    readings = [reading(START + timedelta(days=n), 1000 + 10 * n, hour=0) for n in (10, 20)]
    assert due_on(plan, readings) == START + timedelta(days=50)
    assert plans_due([plan], {7: readings}, START + timedelta(days=42)) == []
    assert len(plans_due([plan], {7: readings}, START + timedelta(days=43))) == 1


def test_a_meter_plan_is_due_the_day_a_reading_reached_the_threshold() -> None:
    plan = PlanView(id=1, asset_id=7, last_service_on=START, meter_interval=100, last_service_meter=0)
    readings = [reading(date(2026, 1, 5), 60), reading(date(2026, 1, 9), 130), reading(date(2026, 1, 10), 150)]
    assert due_on(plan, readings) == date(2026, 1, 9)


def test_a_meter_plan_without_use_is_not_due() -> None:
    plan = PlanView(id=1, asset_id=7, last_service_on=START, meter_interval=100)
    assert due_on(plan, []) is None
    assert due_on(plan, [reading(START, 5)]) is None
    assert due_on(plan, [reading(START, 5), reading(START + timedelta(days=3), 5)]) is None
    # Readings from before the last service say nothing about the current cycle.
    assert due_on(plan, [reading(START - timedelta(days=9), 0), reading(START - timedelta(days=1), 500)]) is None


def test_inactive_plans_and_plans_with_an_open_order_are_not_due() -> None:
    plan = PlanView(id=1, asset_id=1, last_service_on=START, interval_days=1)
    later = START + timedelta(days=30)
    assert plans_due([PlanView(**{**plan.__dict__, "active": False})], {}, later) == []
    assert plans_due([PlanView(**{**plan.__dict__, "has_open_order": True})], {}, later) == []


def test_completion_moves_the_plan_on() -> None:
    days = PlanView(id=1, asset_id=1, last_service_on=START, interval_days=30, has_open_order=True)
    moved = advance(days, date(2026, 2, 3), None)
    assert (moved.last_service_on, moved.has_open_order, due_on(moved, [])) == (
        date(2026, 2, 3),
        False,
        date(2026, 3, 5),
    )
    meter = PlanView(id=2, asset_id=1, last_service_on=START, meter_interval=100, last_service_meter=0)
    assert advance(meter, date(2026, 2, 3), 117).last_service_meter == 117
    assert advance(meter, date(2026, 2, 3), None).last_service_meter == 100


def test_an_overdue_plan_still_gets_a_window_it_can_be_planned_in() -> None:
    start, end = service_window(date(2026, 3, 1), date(2026, 3, 20), 2)
    assert start == datetime(2026, 2, 27, tzinfo=UTC)
    assert end == datetime(2026, 3, 23, tzinfo=UTC)
    start, end = service_window(date(2026, 3, 1), date(2026, 2, 10), 2)
    assert (start.date(), end.date()) == (date(2026, 2, 27), date(2026, 3, 4))


@settings(max_examples=150, deadline=None)
@given(
    interval=st.one_of(
        st.tuples(st.just("days"), st.integers(1, 60)), st.tuples(st.just("meter"), st.integers(5, 400))
    ),
    lead=st.integers(0, 20),
    usage=st.lists(st.integers(0, 40), min_size=90, max_size=90),
    run_days=st.lists(st.booleans(), min_size=90, max_size=90),
    delays=st.lists(st.integers(1, 25), min_size=30, max_size=30),
)
def test_over_any_history_a_plan_is_never_skipped_and_never_doubled(
    interval: tuple[str, int], lead: int, usage: list[int], run_days: list[bool], delays: list[int]
) -> None:
    kind, every = interval
    plan = PlanView(
        id=1,
        asset_id=1,
        last_service_on=START,
        interval_days=every if kind == "days" else None,
        meter_interval=float(every) if kind == "meter" else None,
        last_service_meter=0.0 if kind == "meter" else None,
        lead_days=lead,
    )
    readings: list[Reading] = []
    meter = 0.0
    open_orders: list[tuple[date, date]] = []  # (due date, day it will be completed)
    created: list[date] = []
    for offset in range(90):
        today = START + timedelta(days=offset)
        meter += usage[offset]
        readings.append(reading(today, meter))
        for due, finish in list(open_orders):
            if finish == today:
                open_orders.remove((due, finish))
                plan = advance(plan, today, meter)
        if not run_days[offset]:
            continue
        # Two runners on the same day, one after the other: the second must find nothing to do.
        for _ in range(2):
            for item in plans_due([plan], {1: readings}, today):
                assert item.plan_id == 1
                # A cycle counts from the last service: it is never due before it.
                assert item.due_on >= plan.last_service_on
                open_orders.append((item.due_on, today + timedelta(days=delays[len(created) % len(delays)])))
                created.append(item.due_on)
                plan = PlanView(**{**plan.__dict__, "has_open_order": True})
        assert len(open_orders) <= 1
        if not open_orders:
            # Never skipped: with no open order after a run, nothing is due within the lead time.
            due = due_on(plan, readings)
            assert due is None or due - timedelta(days=lead) > today
    if kind == "days":
        assert created == sorted(set(created))
