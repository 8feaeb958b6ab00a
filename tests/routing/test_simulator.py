"""The simulator drives the real engine; without abandonment it agrees with Erlang C."""

from __future__ import annotations

import pytest

from routing.erlang import service_level
from routing.simulator import SimulationConfig, simulate


@pytest.mark.parametrize(("agents", "traffic"), [(3, 2.0), (12, 9.0), (40, 34.0)])
def test_service_level_matches_erlang_c_within_two_points(agents: int, traffic: float) -> None:
    aht = 60.0
    calls = 45_000  # counted calls: enough for a standard error well under one point at these loads
    duration = calls / (traffic / aht) / 0.9
    report = simulate(SimulationConfig(agents=agents, arrival_rate=traffic / aht, aht=aht, duration=duration, seed=1))
    expected = service_level(agents, traffic, aht, 20.0)
    assert report.service_level is not None
    assert abs(report.service_level - expected) <= 0.02, (report.service_level, expected)
    assert report.occupancy == pytest.approx(traffic / agents, abs=0.02)
    assert report.abandoned == 0


def test_same_seed_same_result_and_different_seed_differs() -> None:
    config = SimulationConfig(agents=5, arrival_rate=0.1, aht=40, duration=5000, seed=7, patience=30)
    first, again = simulate(config), simulate(config)
    assert first == again
    other = simulate(SimulationConfig(agents=5, arrival_rate=0.1, aht=40, duration=5000, seed=8, patience=30))
    assert other != first


def test_impatient_customers_abandon() -> None:
    report = simulate(SimulationConfig(agents=2, arrival_rate=0.05, aht=60, duration=20000, seed=3, patience=20))
    assert report.abandoned > 0
    assert report.abandonment_rate is not None
    assert 0 < report.abandonment_rate < 1
    assert report.answered + report.abandoned == report.offered


@pytest.mark.parametrize(
    "fields",
    [{"agents": 0}, {"arrival_rate": 0}, {"aht": -1}, {"patience": 0}, {"warmup": 500}, {"duration": float("inf")}],
)
def test_bad_configuration(fields: dict[str, float]) -> None:
    base = {"agents": 2, "arrival_rate": 0.1, "aht": 30.0, "duration": 100.0}
    with pytest.raises(ValueError, match=r"\w"):
        SimulationConfig(**{**base, **fields})  # type: ignore[arg-type]
