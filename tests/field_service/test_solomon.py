"""Reading Solomon VRPTW files, and one brief solve of a real instance through the scheduler."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from field_service.day import build_day
from field_service.optimiser import DISTANCE_ONLY, optimise
from field_service.plan import check_plan
from field_service.solomon import SolomonError, read_solomon, solomon_problem
from field_service.travel import EuclideanTravel

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "solomon"

TINY = """TINY

VEHICLE
NUMBER     CAPACITY
  2         10

CUSTOMER
CUST NO.   XCOORD.   YCOORD.    DEMAND   READY TIME   DUE DATE   SERVICE TIME

    0          0       0           0       0         100           0
    1          3       4           5       0          50          10
    2         -3       4           6      20          60          10
    3          0      -5           4       0         100           5
"""


def test_a_tiny_instance_reads_as_written() -> None:
    instance = read_solomon(TINY)
    assert (instance.name, instance.vehicles, instance.capacity) == ("TINY", 2, 10)
    assert instance.depot.due == 100
    assert [(c.number, c.x, c.y, c.demand, c.ready, c.due, c.service) for c in instance.customers] == [
        (1, 3.0, 4.0, 5, 0.0, 50.0, 10.0),
        (2, -3.0, 4.0, 6, 20.0, 60.0, 10.0),
        (3, 0.0, -5.0, 4, 0.0, 100.0, 5.0),
    ]
    assert instance.route_distance([[1, 2], [3]]) == pytest.approx(5 + 6 + 5 + 10)


def test_capacity_forces_two_vehicles_and_the_plan_is_exact() -> None:
    instance = read_solomon(TINY)
    day = build_day(solomon_problem(instance), EuclideanTravel(instance.seconds_per_unit))
    plan = optimise(day, seconds=1, max_iterations=300, weights=DISTANCE_ONLY)
    assert check_plan(day, plan) == []
    assert plan.unassigned == ()
    routes = [[int(v.order_id) for v in r.visits] for r in plan.routes if r.visits]
    assert len(routes) == 2
    # Demands 5 + 6 exceed 10, so 1 and 2 ride apart; the best pairs 3 (0, -5) with one of them.
    assert instance.route_distance(routes) == pytest.approx(10 + 5 + math.hypot(3, 9) + 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("X\nCUSTOMER\n0 0 0 0 0 10 0\n", "no VEHICLE"),
        ("X\nVEHICLE\n2 10\n", "no CUSTOMER rows"),
        ("X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10 0\n1 1 1 1 0 5\n", "line 6: a customer row has 7 numbers"),
        ("X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10 0\n1 1 a 1 0 5 0\n", "line 6"),
        ("X\nVEHICLE\n2 10\nCUSTOMER\n1 0 0 0 0 10 0\n", "depot, number 0"),
        ("X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10 0\n1 1 1 1 9 5 0\n", "due before ready"),
        ("X\nVEHICLE\n0 10\nCUSTOMER\n0 0 0 0 0 10 0\n", "positive"),
    ],
)
def test_malformed_files_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SolomonError, match=message):
        read_solomon(text)


def test_the_shared_instances_read_with_a_hundred_customers() -> None:
    for path in sorted(FIXTURES.glob("*.txt")):
        if path.name.startswith("LICENSE"):
            continue
        instance = read_solomon(path.read_text())
        assert instance.name == path.stem
        assert len(instance.customers) == 100


def test_c101_briefly_comes_close_to_the_best_known_distance() -> None:
    instance = read_solomon((FIXTURES / "C101.txt").read_text())
    day = build_day(solomon_problem(instance), EuclideanTravel(instance.seconds_per_unit))
    plan = optimise(day, seconds=3, weights=DISTANCE_ONLY)
    assert check_plan(day, plan) == []
    assert plan.unassigned == ()
    routes = [[int(v.order_id) for v in r.visits] for r in plan.routes if r.visits]
    # Best known: 10 vehicles, 828.94 (README of the fixtures).
    assert instance.route_distance(routes) <= 828.94 * 1.02
