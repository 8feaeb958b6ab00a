"""The greedy baseline: the technician free soonest takes the job they can start soonest."""

from __future__ import annotations

from datetime import timedelta

from field_service.greedy import greedy
from field_service.plan import check_plan
from field_service.problem import FixedVisit
from tests.field_service.factories import TOWN, at, day_of, near, order, seconds, technician, window


def test_the_job_that_can_start_soonest_goes_first() -> None:
    day = day_of(
        [technician("ada", home=TOWN)],
        [order("afternoon", window=window(14, 16)), order("far", site=near(15)), order("near", site=near(1))],
    )
    plan = greedy(day)
    assert check_plan(day, plan) == []
    (route,) = plan.routes
    assert [v.order_id for v in route.visits] == ["near", "far", "afternoon"]


def test_a_fixed_visit_ahead_is_kept_free() -> None:
    day = day_of(
        [technician("ada", home=TOWN)],
        [order("long", duration=timedelta(hours=3)), order("fixed", fixed=FixedVisit("ada", at(10)))],
    )
    plan = greedy(day)
    assert check_plan(day, plan) == []
    (route,) = plan.routes
    assert route.visits[0].order_id == "fixed"
    assert route.visits[0].start == seconds(10)
    assert [v.order_id for v in route.visits] == ["fixed", "long"]


def test_jobs_nobody_may_do_stay_unassigned() -> None:
    day = day_of([technician("ada")], [order("gas", required_skills={"gas": 1})])
    assert greedy(day).unassigned == ("gas",)


def test_the_van_capacity_limits_what_one_technician_takes() -> None:
    day = day_of(
        [technician("ada", home=TOWN, capacity=10), technician("cleo", home=TOWN, capacity=10)],
        [order(f"W{n}", site=near(n), load=6, duration=timedelta(minutes=15)) for n in range(1, 4)],
    )
    plan = greedy(day)
    assert check_plan(day, plan) == []
    assert sorted(len(r.visits) for r in plan.routes) == [1, 1]
    assert len(plan.unassigned) == 1
