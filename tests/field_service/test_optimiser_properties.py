"""Invariants of every plan, on random small days: the optimiser and the greedy baseline break no hard rule.

Every assigned job meets its skills, parts, window and the technician's shift and breaks; no job appears twice;
pinned jobs stay on their technician; dispatched (fixed) visits keep technician and start when re-optimised.
The checks read only the plan's times (``check_plan``) plus direct assertions on the rules themselves.
"""

from __future__ import annotations

from datetime import time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from field_service.day import Day, build_day
from field_service.greedy import greedy
from field_service.optimiser import optimise
from field_service.plan import Plan, check_plan
from field_service.problem import Break, Problem, Shift, Technician, TimeWindow, WorkOrder
from field_service.replan import add_work_order, dispatch
from tests.field_service.factories import DAY, TRAVEL, TZ, at, near, problem

SKILLS = ("electrical", "plumbing", "gas")
PARTS = ("fuse", "valve")
SOLVE = {"seconds": 1.0, "max_iterations": 150}
PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@st.composite
def shifts(draw: st.DrawFn) -> Shift:
    start = draw(st.integers(6, 10))
    end = draw(st.integers(start + 3, 19))
    breaks: tuple[Break, ...] = ()
    if draw(st.booleans()) and end - start >= 5:
        earliest = draw(st.integers(start + 1, end - 3))
        breaks = (Break(time(earliest), time(earliest + 1), draw(st.sampled_from((15, 30, 45)))),)
    return Shift(time(start), time(end), breaks)


@st.composite
def technicians(draw: st.DrawFn, number: int) -> Technician:
    return Technician(
        id=f"T{number}",
        skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=3)),
        home=near(draw(st.floats(-8, 8)), draw(st.floats(-8, 8))),
        shifts={DAY.weekday(): draw(shifts())},
        van_stock=draw(st.dictionaries(st.sampled_from(PARTS), st.integers(0, 2), max_size=2)),
        warehouse=draw(st.sampled_from((None, "depot"))),
    )


@st.composite
def work_orders(draw: st.DrawFn, number: int, crew: list[Technician]) -> WorkOrder:
    window = None
    if draw(st.booleans()):
        start = draw(st.integers(7, 17))
        window = TimeWindow(at(start), at(draw(st.integers(start, 18))))
    return WorkOrder(
        id=f"W{number}",
        site=near(draw(st.floats(-10, 10)), draw(st.floats(-10, 10))),
        duration=timedelta(minutes=draw(st.sampled_from((15, 30, 60, 90)))),
        required_skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=1)),
        window=window,
        priority=draw(st.integers(1, 5)),
        sla_deadline=at(draw(st.integers(9, 18))) if draw(st.booleans()) else None,
        parts=draw(st.dictionaries(st.sampled_from(PARTS), st.integers(1, 2), max_size=1)),
        pinned_to=draw(st.sampled_from([None, None, *(t.id for t in crew)])),
    )


@st.composite
def days(draw: st.DrawFn) -> Problem:
    crew = [draw(technicians(n)) for n in range(draw(st.integers(1, 3)))]
    orders = [draw(work_orders(n, crew)) for n in range(draw(st.integers(1, 8)))]
    stock = {"depot": draw(st.dictionaries(st.sampled_from(PARTS), st.integers(0, 3), max_size=2))}
    return problem(crew, orders, warehouses=stock)


def assert_rules_hold(day: Day, plan: Plan) -> None:
    assert check_plan(day, plan) == []
    seen = [v.order_id for r in plan.routes for v in r.visits]
    assert len(seen) == len(set(seen))
    assert set(seen) | set(plan.unassigned) == {job.id for job in day.jobs}
    for route in plan.routes:
        crew = day.crew(route.technician_id)
        technician = crew.technician
        for visit in route.visits:
            order = day.job(visit.order_id).order
            assert all(technician.skills.get(s, 0) >= level for s, level in order.required_skills.items())
            if order.pinned_to is not None:
                assert route.technician_id == order.pinned_to
            if order.window is not None:
                assert order.window.start <= day.problem.instant(visit.start) <= order.window.end
            assert crew.start <= visit.start <= visit.end <= crew.end
        assert len(route.breaks) == len(crew.breaks)


@PROPERTY_SETTINGS
@given(days())
def test_optimised_plans_break_no_rule(problem: Problem) -> None:
    day = build_day(problem, TRAVEL)
    assert_rules_hold(day, optimise(day, **SOLVE))


@PROPERTY_SETTINGS
@given(days())
def test_greedy_plans_break_no_rule(problem: Problem) -> None:
    day = build_day(problem, TRAVEL)
    assert_rules_hold(day, greedy(day))


@PROPERTY_SETTINGS
@given(days(), st.data())
def test_reoptimising_keeps_fixed_visits_and_pins(problem: Problem, data: st.DataObject) -> None:
    day = build_day(problem, TRAVEL)
    first = optimise(day, **SOLVE)
    planned = sorted(v.order_id for r in first.routes for v in r.visits)
    chosen = data.draw(st.lists(st.sampled_from(planned), unique=True) if planned else st.just([]))
    extra = data.draw(work_orders(99, list(problem.technicians)))
    again = build_day(add_work_order(dispatch(day, first, chosen), extra), TRAVEL)
    second = optimise(again, **SOLVE)
    assert_rules_hold(again, second)
    before = {v.order_id: (r.technician_id, v.start) for r in first.routes for v in r.visits}
    after = {v.order_id: (r.technician_id, v.start) for r in second.routes for v in r.visits}
    for order_id in chosen:
        assert after[order_id] == before[order_id]


def test_the_tz_of_the_factories_is_the_problems() -> None:
    # Guards the strategies above: windows are built in the factories' zone, on the planned day.
    assert problem([], []).tz is TZ
