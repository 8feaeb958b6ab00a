"""Erlang C against published figures, and its stability for large teams."""

from __future__ import annotations

import math

import pytest

from routing.erlang import agents_needed, average_speed_of_answer, erlang_b, erlang_c, evaluate, service_level


def test_textbook_values() -> None:
    # 10 agents, 8 erlangs: P(wait) 0.4092 (standard Erlang C tables).
    assert erlang_c(10, 8) == pytest.approx(0.4092, abs=1e-4)
    assert erlang_b(10, 8) == pytest.approx(0.1217, abs=1e-4)
    # 100 calls per half hour, 180 s AHT: 10 erlangs; 14 agents give 80/20 with P(wait) 17.4 % (the classic example).
    arrival_rate = 100 / 1800
    assert agents_needed(arrival_rate, 180, 0.8, 20) == 14
    assert service_level(14, 10, 180, 20) == pytest.approx(0.8884, abs=1e-4)
    assert erlang_c(14, 10) == pytest.approx(0.1741, abs=1e-4)
    assert average_speed_of_answer(14, 10, 180) == pytest.approx(erlang_c(14, 10) * 180 / 4)


def test_overloaded_queue() -> None:
    assert erlang_c(8, 8) == 1.0
    assert service_level(5, 8, 60, 20) == 0.0
    assert math.isinf(average_speed_of_answer(8, 8, 60))


@pytest.mark.parametrize("agents", [500, 2000, 10_000])
def test_stable_for_large_teams(agents: int) -> None:
    traffic = agents * 0.95
    probability = erlang_c(agents, traffic)
    assert 0 < probability < 1
    assert math.isfinite(probability)


def test_staffing_meets_target_and_one_fewer_does_not() -> None:
    for rate, aht in [(0.5, 180), (5.0, 300), (50.0, 240)]:
        needed = agents_needed(rate, aht, 0.8, 20)
        assert service_level(needed, rate * aht, aht, 20) >= 0.8
        assert service_level(needed - 1, rate * aht, aht, 20) < 0.8


def test_evaluate_reports_everything() -> None:
    result = evaluate(1.0, 180, 0.8, 20)
    assert result.traffic == 180
    assert result.service_level >= 0.8
    assert 0 < result.occupancy < 1
    assert evaluate(1.0, 180, 0.8, 20, agents=170).service_level == 0.0


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="target"):
        agents_needed(1.0, 180, 1.5, 20)
