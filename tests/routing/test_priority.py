"""The priority formula: value first at equal wait, and a stated bound after which waiting always wins."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from routing.models import MAX_BASE_PRIORITY, MAX_VALUE, Task
from routing.priority import PriorityWeights, priority_key, score, starvation_bound

weights_strategy = st.builds(
    PriorityWeights,
    value_seconds=st.floats(0, 10),
    base_seconds=st.floats(0, 60),
    sla_horizon=st.floats(0, 600),
)


@st.composite
def tasks(draw: st.DrawFn, task_id: str) -> Task:
    return Task(
        id=task_id,
        queue="q",
        channel="voice",
        created_at=draw(st.floats(0, 1e6)),
        value=draw(st.integers(0, MAX_VALUE)),
        base_priority=draw(st.integers(0, MAX_BASE_PRIORITY)),
        sla_target=draw(st.floats(0.1, 1e5)),
    )


def test_defaults_bound_is_320_seconds() -> None:
    assert starvation_bound(PriorityWeights()) == 320


@given(weights=weights_strategy, old=tasks("old"), new=tasks("new"), extra=st.floats(1e-3, 1e4))
def test_a_task_waiting_w_longer_always_wins(weights: PriorityWeights, old: Task, new: Task, extra: float) -> None:
    """Whatever their values, priorities and SLA targets, waiting W + extra seconds longer wins."""
    bound = starvation_bound(weights)
    now = 2e6
    # Make `old` older than `new` by more than the bound.
    old = replace(old, created_at=new.created_at - bound - extra)
    assert score(old, now, weights) > score(new, now, weights)
    assert priority_key(old, weights) < priority_key(new, weights)


@given(weights=weights_strategy, task=tasks("t"), low=st.integers(0, MAX_VALUE - 1), now=st.floats(1e6, 2e6))
def test_higher_value_first_at_equal_wait(weights: PriorityWeights, task: Task, low: int, now: float) -> None:
    """At equal wait, base priority and SLA target, a higher-value customer scores at least as high."""
    cheap = replace(task, value=low)
    dear = replace(task, value=low + 1)
    assert score(dear, now, weights) >= score(cheap, now, weights)
    if weights.value_seconds >= 1e-3:  # a head start too small to show in a float is no head start
        assert priority_key(dear, weights) < priority_key(cheap, weights)


@given(weights=weights_strategy, a=tasks("a"), b=tasks("b"), t1=st.floats(1e6, 2e6), dt=st.floats(0, 1e6))
def test_order_of_two_waiting_tasks_never_changes(
    weights: PriorityWeights, a: Task, b: Task, t1: float, dt: float
) -> None:
    """Scores grow at the same rate, which is what lets the engine key heaps once."""
    before = score(a, t1, weights) - score(b, t1, weights)
    after = score(a, t1 + dt, weights) - score(b, t1 + dt, weights)
    assert abs(before - after) <= 1e-6 * max(1.0, abs(before), t1 + dt)
