"""The optimiser honours skills, parts, pins, windows, breaks and fixed visits, and weighs priority and SLAs."""

from __future__ import annotations

from datetime import time, timedelta
from itertools import permutations

import pytest

from field_service.bench import generate_problem
from field_service.day import Stop, build_day, timeline
from field_service.greedy import greedy
from field_service.optimiser import ScheduleError, Weights, optimise
from field_service.plan import Plan, check_plan, plan_json
from field_service.problem import FixedVisit, Shift
from field_service.replan import add_work_order, dispatch, technician_off
from tests.field_service.factories import TOWN, TRAVEL, at, day_of, near, order, problem, seconds, technician, window

SOLVE = {"seconds": 2.0, "max_iterations": 400}


def assert_feasible(day: object, plan: Plan) -> None:
    assert check_plan(day, plan) == []  # type: ignore[arg-type]


def test_each_job_goes_to_the_only_technician_who_can_do_it() -> None:
    day = day_of(
        [technician("ada"), technician("ben"), technician("cleo")],
        [
            order("gas", required_skills={"gas": 2}),
            order("expert", required_skills={"electrical": 3}),
            order("network", required_skills={"network": 1}),
            order("fuse", parts={"fuse": 2}),
        ],
        warehouses={"south": {"fuse": 1}},
    )
    # Only cleo's van and warehouse together hold two fuses.
    day = build_day(
        problem(
            [technician("ada"), technician("ben"), technician("cleo", van_stock={"fuse": 1}, warehouse="south")],
            [o.order for o in day.jobs],
            warehouses={"south": {"fuse": 1}},
        ),
        TRAVEL,
    )
    plan = optimise(day, **SOLVE)
    assert_feasible(day, plan)
    assert plan.technician_of("gas") == "ben"
    assert plan.technician_of("expert") == "ada"
    assert plan.technician_of("network") == "cleo"
    assert plan.technician_of("fuse") == "cleo"
    assert plan.unassigned == ()


def test_a_pinned_job_stays_with_its_technician_even_when_another_is_nearer() -> None:
    day = day_of([technician("ada"), technician("ben")], [order("W1", site=near(5), pinned_to="ada")])
    plan = optimise(day, **SOLVE)
    assert plan.technician_of("W1") == "ada"


def test_nearby_jobs_share_a_route_and_the_order_minimises_travel() -> None:
    sites = {"east": near(4), "far east": near(8), "west": near(-4), "far west": near(-8)}
    day = day_of([technician("ada", home=TOWN)], [order(name, site=site) for name, site in sites.items()])
    plan = optimise(day, **SOLVE)
    assert_feasible(day, plan)
    (route,) = plan.routes
    crew = day.crew("ada")
    tours = [timeline(day, crew, [Stop(name, int(i == 2)) for i, name in enumerate(p)]) for p in permutations(sites)]
    assert route.travel == min(t.travel for t in tours if t is not None)
    (lunch,) = route.breaks
    assert seconds(12) <= lunch.start <= seconds(13)


def test_windows_and_the_lunch_break_are_kept() -> None:
    orders = [order(f"W{n}", site=near(n % 3, n // 3), window=window(11, 14)) for n in range(4)]
    day = day_of([technician("ada", home=TOWN)], orders)
    plan = optimise(day, **SOLVE)
    assert_feasible(day, plan)
    (route,) = plan.routes
    for visit in route.visits:
        assert seconds(11) <= visit.start <= seconds(14)
    (lunch,) = route.breaks
    assert all(v.end <= lunch.start or v.start >= lunch.end for v in route.visits)


def test_when_time_runs_short_the_higher_priority_job_is_done() -> None:
    short = Shift(time(8), time(10))
    ada = technician("ada", home=TOWN, shifts=dict.fromkeys(range(5), short))
    day = day_of(
        [ada],
        [
            order("low", priority=1, duration=timedelta(minutes=90)),
            order("high", priority=5, duration=timedelta(minutes=90)),
        ],
    )
    plan = optimise(day, **SOLVE)
    assert plan.technician_of("high") == "ada"
    assert plan.unassigned == ("low",)


def test_the_job_with_the_sla_deadline_goes_first() -> None:
    day = day_of(
        [technician("ada", home=TOWN)],
        [order("relaxed", site=near(1)), order("urgent", site=near(1.2), sla_deadline=at(9, 30))],
    )
    plan = optimise(day, **SOLVE)
    (route,) = plan.routes
    assert route.visits[0].order_id == "urgent"
    assert plan.lateness_seconds == 0


def test_lateness_is_reported_when_the_deadline_cannot_be_met() -> None:
    day = day_of([technician("ada", home=near(10))], [order("W1", sla_deadline=at(8, 30))])
    plan = optimise(day, **SOLVE)
    (visit,) = plan.routes[0].visits
    assert visit.late == visit.end - seconds(8, 30) > 0
    assert plan.lateness_seconds == visit.late


def test_reoptimising_keeps_dispatched_visits_and_fits_in_the_new_job() -> None:
    crew = [technician("ada"), technician("ben"), technician("cleo")]
    orders = [order(f"W{n}", site=near(n - 3, (n * 7) % 5 - 2)) for n in range(6)]
    first_day = day_of(crew, orders)
    first = optimise(first_day, **SOLVE)
    dispatched = [route.visits[0].order_id for route in first.routes if route.visits]
    fixed_problem = dispatch(first_day, first, dispatched)
    second_day = build_day(add_work_order(fixed_problem, order("new", site=near(1, 1))), TRAVEL)
    second = optimise(second_day, **SOLVE)
    assert_feasible(second_day, second)
    before = {v.order_id: (r.technician_id, v.start) for r in first.routes for v in r.visits}
    after = {v.order_id: (r.technician_id, v.start) for r in second.routes for v in r.visits}
    for order_id in dispatched:
        assert after[order_id] == before[order_id]
    assert "new" in after


def test_a_technician_calling_in_sick_hands_the_work_to_the_others() -> None:
    crew = [technician("ada"), technician("cleo")]
    orders = [order("W1", required_skills={"electrical": 1}), order("W2", pinned_to="ada")]
    day = day_of(crew, orders)
    first = optimise(day, **SOLVE)
    fixed = dispatch(day, first, ["W1"])
    sick_day = build_day(technician_off(fixed, "ada"), TRAVEL)
    plan = optimise(sick_day, **SOLVE)
    assert_feasible(sick_day, plan)
    assert {r.technician_id for r in plan.routes} == {"cleo"}
    assert plan.technician_of("W1") == plan.technician_of("W2") == "cleo"


def test_a_fixed_visit_the_technician_cannot_make_is_an_error() -> None:
    day = day_of([technician("ada")], [order("W1", fixed=FixedVisit("ada", at(6)))])
    with pytest.raises(ScheduleError, match="W1"):
        optimise(day, **SOLVE)


def test_re_optimising_during_the_day_starts_nothing_before_now() -> None:
    day = build_day(problem([technician("ada")], [order("W1"), order("W2")]), TRAVEL, now=at(14))
    plan = optimise(day, **SOLVE)
    assert all(v.start >= seconds(14) for r in plan.routes for v in r.visits)


def test_no_technician_working_leaves_everything_unassigned() -> None:
    day = day_of([technician("ada", shifts={})], [order("W1")])
    assert optimise(day, **SOLVE) == Plan((), ("W1",))


def test_the_plan_as_json_carries_utc_instants() -> None:
    day = day_of([technician("ada")], [order("W1", window=window(9, 9))])
    data = plan_json(day, optimise(day, **SOLVE))
    assert data["routes"][0]["visits"][0]["start"] == at(9).isoformat()
    assert data["routes"][0]["visits"][0]["start"].endswith("+00:00")
    assert data["unassigned"] == []


def test_load_is_balanced_between_technicians_with_the_same_base() -> None:
    crew = [technician("ada", home=TOWN), technician("cleo", home=TOWN)]
    orders = [order(f"W{n}", site=near(2 + (n % 3), n // 3)) for n in range(6)]
    day = day_of(crew, orders)
    balanced = optimise(day, **SOLVE)
    work = sorted(len(route.visits) for route in balanced.routes)
    assert work == [3, 3]
    # Travel alone would send one technician on a single tour: the balance term is what splits it.
    travel_only = optimise(day, weights=Weights(balance=0.0), **SOLVE)
    assert [len(route.visits) for route in travel_only.routes] == [6]


def test_the_search_starts_from_the_greedy_plan() -> None:
    day = build_day(generate_problem(40, 5, seed=4), TRAVEL)
    baseline = greedy(day)
    # With no search at all, what comes back is the starting point, read through the model: the greedy plan.
    start = optimise(day, seconds=5, max_iterations=0)
    assert [[v.order_id for v in r.visits] for r in start.routes] == [
        [v.order_id for v in r.visits] for r in baseline.routes
    ]
    assert start.travel_seconds == baseline.travel_seconds
