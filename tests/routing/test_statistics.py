"""Queue statistics folded from events, with the standard definitions."""

from __future__ import annotations

import pytest

from routing.events import (
    AgentActivityChanged,
    Event,
    TaskAbandoned,
    TaskAccepted,
    TaskCompleted,
    TaskCreated,
    TaskFallback,
)
from routing.models import Activity
from routing.statistics import ServiceLevelPolicy, StatisticsLedger, summarize


def created(task_id: str, at: float) -> TaskCreated:
    return TaskCreated(at=at, task_id=task_id, queue="q", channel="voice", created_at=at, value=0, step="s")


def answered(task_id: str, at: float, waited: float) -> TaskAccepted:
    return TaskAccepted(
        at=at, task_id=task_id, queue="q", channel="voice", agent_id="a", reservation_id="r", waited=waited
    )


def activity(at: float, previous: Activity, now: Activity) -> AgentActivityChanged:
    return AgentActivityChanged(at=at, agent_id="a", previous=previous, activity=now, reason="x")


EVENTS: list[Event] = [
    created("t1", 0),
    created("t2", 0),
    created("t3", 0),
    created("t4", 0),
    created("t5", 0),
    created("t6", 90),
    answered("t1", 10, 10),
    answered("t2", 30, 30),
    TaskAbandoned(at=3, task_id="t3", queue="q", waited=3),  # a short abandon under a 5 s rule
    TaskAbandoned(at=60, task_id="t4", queue="q", waited=60),
    TaskFallback(at=90, task_id="t5", queue="q", action="voicemail", reason="timeout", waited=90),
    TaskCompleted(at=100, task_id="t1", queue="q", channel="voice", agent_id="a", handle_time=90, wrap_up=0),
    TaskCompleted(at=100, task_id="t2", queue="q", channel="voice", agent_id="a", handle_time=70, wrap_up=10),
]


def test_standard_definitions_with_short_abandons_left_out() -> None:
    queues, _ = summarize(
        sorted(EVENTS, key=lambda e: e.at),
        now=100,
        window=200,
        policy=ServiceLevelPolicy(threshold=20, short_abandon=5),
    )
    stats = queues["q"]
    assert (stats.offered, stats.answered, stats.abandoned, stats.short_abandoned, stats.fallen_back) == (4, 2, 1, 1, 1)
    assert stats.service_level == pytest.approx(1 / 4)
    assert stats.average_speed_of_answer == pytest.approx(20)
    assert stats.average_handle_time == pytest.approx(80)
    assert stats.abandonment_rate == pytest.approx(1 / 4)
    assert (stats.waiting, stats.longest_wait) == (1, 10)  # t6, created at 90


def test_without_short_abandon_rule_every_abandon_counts() -> None:
    queues, _ = summarize(sorted(EVENTS, key=lambda e: e.at), now=100, window=200)
    assert queues["q"].offered == 5
    assert queues["q"].abandonment_rate == pytest.approx(2 / 5)


def test_window_keeps_only_recent_outcomes() -> None:
    queues, _ = summarize(sorted(EVENTS, key=lambda e: e.at), now=100, window=50)
    stats = queues["q"]
    assert (stats.answered, stats.abandoned, stats.fallen_back, stats.completed) == (0, 1, 1, 2)
    assert stats.average_speed_of_answer is None


def test_empty_queue_has_undefined_ratios() -> None:
    stats = StatisticsLedger().queue("nothing", now=0, window=60)
    assert (stats.service_level, stats.average_speed_of_answer, stats.abandonment_rate) == (None, None, None)


def test_agents_by_activity_and_occupancy() -> None:
    ledger = StatisticsLedger()
    ledger.apply_all(
        [
            activity(0, Activity.OFFLINE, Activity.AVAILABLE),
            activity(10, Activity.AVAILABLE, Activity.BUSY),
            activity(40, Activity.BUSY, Activity.WRAP_UP),
            activity(50, Activity.WRAP_UP, Activity.AVAILABLE),
            activity(80, Activity.AVAILABLE, Activity.AWAY),
        ]
    )
    stats = ledger.agents(now=100, window=100)
    assert stats.by_activity["away"] == 1
    assert stats.occupancy == pytest.approx(40 / 80)
    assert ledger.agents(now=100, window=20).occupancy is None  # away the whole window
