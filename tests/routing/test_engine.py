"""Behaviour of routing, one decision at a time, on every backend (in-memory and Redis: see ``conftest.py``)."""

from __future__ import annotations

import pytest

from routing.backend import RoutingBackend
from routing.engine import RoutingEngine, RoutingSettings
from routing.errors import (
    InvalidTransition,
    ReservationConflict,
    ReservationExpired,
    ReservationGone,
    ReservationNotYours,
    UnknownAgent,
    UnknownTask,
    UnknownWorkflow,
)
from routing.events import (
    AgentActivityChanged,
    ReservationTimedOut,
    TaskAccepted,
    TaskCompleted,
    TaskCreated,
    TaskFallback,
    TaskRejected,
    WorkflowStepChanged,
)
from routing.matching import Strategy
from routing.models import Activity, TaskStatus
from routing.workflows import RoutingRules
from tests.routing.conftest import BackendFactory
from tests.routing.factories import agent, kinds, reservations, task


async def offer_of(backend: RoutingBackend, task_id: str) -> tuple[str, str]:
    view = await backend.get_task(task_id)
    assert view is not None
    assert view.reservation is not None, f"{task_id} is {view.status}"
    return view.reservation.id, view.reservation.agent_id


async def test_expert_gets_the_call_and_accepts(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("bob"), 0)
    await backend.upsert_agent(agent("alice"), 0)
    events = await backend.submit(task("t1"), 1)
    assert kinds(events) == ["task_created", "task_reserved", "agent_activity_changed"]
    (offer,) = reservations(events)
    assert offer.agent_id == "alice"  # level 9 beats bob's 5 at the experts step; bob does not even qualify
    assert offer.expires_at == 21  # the billing queue rings for 20 s
    accepted = await backend.accept(offer.reservation_id, "alice", 2)
    assert accepted == [
        TaskAccepted(
            at=2,
            task_id="t1",
            queue="billing",
            channel="voice",
            agent_id="alice",
            reservation_id=offer.reservation_id,
            waited=2,
        )
    ]
    view = await backend.get_task("t1")
    assert view is not None
    assert view.status is TaskStatus.ASSIGNED
    assert view.agent_id == "alice"
    state = await backend.get_agent("alice")
    assert state is not None
    assert state.activity is Activity.BUSY
    assert state.load == {"voice": 1}


async def test_task_waits_then_goes_to_the_agent_who_frees_up(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("first"), 0)
    await backend.accept((await offer_of(backend, "first"))[0], "alice", 1)
    assert reservations(await backend.submit(task("second", created_at=2), 2)) == []
    assert await backend.position("second") == 1
    events = await backend.complete("first", 60)
    completed = events[0]
    assert isinstance(completed, TaskCompleted)
    assert completed.handle_time == 59
    (offer,) = reservations(events)
    assert (offer.task_id, offer.agent_id) == ("second", "alice")


async def test_freed_agent_gets_the_highest_priority_task_it_qualifies_for(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("busy"), 0)
    await backend.accept((await offer_of(backend, "busy"))[0], "alice", 0)
    await backend.submit(task("old-low", created_at=1, value=0), 1)
    await backend.submit(task("new-high", created_at=5, value=100), 5)
    await backend.submit(task("support", queue="support", created_at=0, value=100, required_skills={"support": 1}), 5)
    (offer,) = reservations(await backend.complete("busy", 6))
    assert offer.task_id == "new-high"  # value 100 is a 100 s head start; alice has no support skill


async def test_reject_requeues_and_excludes_the_agent(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("bob"), 0)
    await backend.submit(task("t1", created_at=0), 0)
    reservation_id, _ = await offer_of(backend, "t1")
    events = await backend.reject(reservation_id, "alice", 1)
    assert isinstance(events[0], TaskRejected)
    assert reservations(events) == []  # bob is not an expert and alice is excluded
    await backend.tick(30)  # the experts step ends: generalists (bob) qualify
    reservation_id, agent_id = await offer_of(backend, "t1")
    assert agent_id == "bob"
    await backend.reject(reservation_id, "bob", 31)
    # Both excluded: nobody is offered it again, even in the team step.
    await backend.tick(90)
    view = await backend.get_task("t1")
    assert view is not None
    assert view.status is TaskStatus.WAITING
    assert view.step == "billing team"


async def test_alice_gets_the_next_task_after_rejecting(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    await backend.submit(task("t2", created_at=1), 1)
    events = await backend.reject((await offer_of(backend, "t1"))[0], "alice", 2)
    (offer,) = reservations(events)
    assert offer.task_id == "t2"


async def test_timeouts_exclude_and_set_agent_away_after_consecutive_misses(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    await backend.submit(task("t2", created_at=1), 1)
    events = await backend.tick(20)
    assert kinds(events)[:1] == ["reservation_timed_out"]
    assert (await offer_of(backend, "t2"))[1] == "alice"
    state = await backend.get_agent("alice")
    assert state is not None
    assert state.consecutive_misses == 1
    events = await backend.tick(40)
    timed_out = [e for e in events if isinstance(e, ReservationTimedOut)]
    assert [e.task_id for e in timed_out] == ["t2"]
    away = [e for e in events if isinstance(e, AgentActivityChanged) and e.activity is Activity.AWAY]
    assert away
    assert away[0].reason == "missed_offers"
    state = await backend.get_agent("alice")
    assert state is not None
    assert state.activity is Activity.AWAY
    assert state.load == {}


async def test_accepting_resets_the_miss_count(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    await backend.submit(task("t2", created_at=1), 1)
    await backend.tick(20)
    await backend.accept((await offer_of(backend, "t2"))[0], "alice", 21)
    state = await backend.get_agent("alice")
    assert state is not None
    assert state.consecutive_misses == 0


async def test_accept_conflicts_change_nothing(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    reservation_id, _ = await offer_of(backend, "t1")
    with pytest.raises(ReservationNotYours):
        await backend.accept(reservation_id, "bob", 1)
    with pytest.raises(ReservationExpired):
        await backend.accept(reservation_id, "alice", 20)
    assert await offer_of(backend, "t1") == (reservation_id, "alice")  # still ringing until tick() says otherwise
    await backend.accept(reservation_id, "alice", 19.9)
    with pytest.raises(ReservationGone):
        await backend.accept(reservation_id, "alice", 19.9)
    with pytest.raises(ReservationConflict):
        await backend.reject(reservation_id, "alice", 19.9)


async def test_expired_offer_cannot_be_accepted_after_tick(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    reservation_id, _ = await offer_of(backend, "t1")
    await backend.tick(25)
    with pytest.raises(ReservationGone):
        await backend.accept(reservation_id, "alice", 25)


async def test_unserviceable_task_is_accepted_flagged_and_sent_to_fallback(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("dave"), 0)  # support only, no voice
    events = await backend.submit(task("t1"), 0)
    created, fallback = events
    assert isinstance(created, TaskCreated)
    assert created.unserviceable
    assert isinstance(fallback, TaskFallback)
    assert (fallback.action, fallback.reason) == ("voicemail", "unserviceable")
    assert await backend.get_task("t1") is None


async def test_unserviceable_task_with_queue_fallback_stays_queued_and_flagged(backend: RoutingBackend) -> None:
    events = await backend.submit(task("t1", queue="support", required_skills={"support": 9}), 0)
    assert kinds(events) == ["task_created", "task_fallback"]
    view = await backend.get_task("t1")
    assert view is not None
    assert view.unserviceable
    assert view.status is TaskStatus.WAITING
    # An agent who can serve it signs in later and gets it.
    await backend.upsert_agent(agent("dave", skills={"support": 10}, capacity={"voice": 1}), 5)
    assert (await offer_of(backend, "t1"))[1] == "dave"


async def test_offline_agents_count_as_could_serve(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice", Activity.OFFLINE), 0)
    events = await backend.submit(task("t1"), 0)
    assert kinds(events) == ["task_created"]


async def test_workflow_steps_widen_and_fallback_waits_for_a_ringing_offer(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("carol", Activity.AWAY), 0)  # team billing, no billing skill
    await backend.submit(task("t1"), 0)
    events = await backend.tick(299)
    steps = [e.step for e in events if isinstance(e, WorkflowStepChanged)]
    assert steps == ["generalists", "billing team"]
    events = await backend.set_activity("carol", Activity.AVAILABLE, 299.5)
    assert reservations(events)[0].task_id == "t1"
    assert not [e for e in await backend.tick(300) if isinstance(e, TaskFallback)]
    events = await backend.tick(320)  # carol lets it ring out: now the fallback applies
    assert kinds(events)[:3] == ["reservation_timed_out", "agent_activity_changed", "task_fallback"]
    assert await backend.get_task("t1") is None


async def test_fallback_after_last_step(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("carol", Activity.AWAY), 0)
    await backend.submit(task("t1"), 0)
    events = await backend.tick(300)
    fallback = events[-1]
    assert isinstance(fallback, TaskFallback)
    assert (fallback.action, fallback.reason, fallback.waited) == ("voicemail", "timeout", 300)
    assert await backend.get_task("t1") is None
    assert await backend.waiting_tasks("billing", 300) == []


async def test_sticky_routing_offers_the_last_agent_first(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("bob"), 0)
    events = await backend.submit(task("t1", attributes={"last_agent": "bob"}), 0)
    assert reservations(events)[0].agent_id == "bob"
    view = await backend.get_task("t1")
    assert view is not None
    assert view.step == "last agent"


async def test_sticky_step_is_skipped_without_the_attribute(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("bob"), 0)
    await backend.submit(task("t1"), 0)
    view = await backend.get_task("t1")
    assert view is not None
    assert view.step == "experts"


async def test_language_is_required(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("bob", skills={"billing": 8}), 0)
    events = await backend.submit(task("t1", language="es"), 0)
    assert reservations(events)[0].agent_id == "bob"


async def test_best_skill_then_longest_idle(rules: RoutingRules, make_backend: BackendFactory) -> None:
    backend = make_backend(rules)
    await backend.upsert_agent(agent("a1", skills={"billing": 8}), 0)
    await backend.upsert_agent(agent("a2", skills={"billing": 9}), 5)
    await backend.upsert_agent(agent("a3", skills={"billing": 9}), 3)
    assert reservations(await backend.submit(task("t1"), 10))[0].agent_id == "a3"  # level 9, idle since 3
    assert reservations(await backend.submit(task("t2"), 10))[0].agent_id == "a2"
    assert reservations(await backend.submit(task("t3"), 10))[0].agent_id == "a1"


async def test_longest_idle_strategy_ignores_levels(rules: RoutingRules, make_backend: BackendFactory) -> None:
    backend = make_backend(rules, RoutingSettings(strategy=Strategy.LONGEST_IDLE))
    await backend.upsert_agent(agent("a1", skills={"billing": 8}), 0)
    await backend.upsert_agent(agent("a2", skills={"billing": 9}), 5)
    assert reservations(await backend.submit(task("t1"), 10))[0].agent_id == "a1"


async def test_preferred_skills_break_ties_between_equal_levels(
    rules: RoutingRules, make_backend: BackendFactory
) -> None:
    backend = make_backend(rules)
    await backend.upsert_agent(agent("a1", skills={"billing": 9}), 0)
    await backend.upsert_agent(agent("a2", skills={"billing": 9, "refunds": 6}), 5)
    events = await backend.submit(task("t1", preferred_skills={"refunds": 5}), 10)
    assert reservations(events)[0].agent_id == "a2"


async def test_multichannel_capacity_and_call_blocking(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("bob"), 0)  # voice 1, chat 3, a call blocks chats
    chats = [task(f"c{i}", queue="support", channel="chat", required_skills={"support": 1}) for i in range(4)]
    offered = [reservations(await backend.submit(chat, 1)) for chat in chats]
    assert [len(offers) for offers in offered] == [1, 1, 1, 0]
    state = await backend.get_agent("bob")
    assert state is not None
    assert state.load == {"chat": 3}
    # Chats do not block a call...
    call = reservations(await backend.submit(task("call", queue="support", required_skills={"support": 1}), 2))
    assert len(call) == 1
    # ...but the call blocks the fourth chat even after a chat ends.
    for chat in chats[:3]:
        await backend.accept((await offer_of(backend, chat.id))[0], "bob", 3)
    await backend.accept(call[0].reservation_id, "bob", 3)
    assert reservations(await backend.complete("c0", 4)) == []
    assert reservations(await backend.complete("call", 5))[0].task_id == "c3"


async def test_wrap_up_holds_the_agent_then_frees_it(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    await backend.accept((await offer_of(backend, "t1"))[0], "alice", 0)
    await backend.submit(task("t2", created_at=1), 1)
    events = await backend.complete("t1", 10, wrap_up=30)
    assert reservations(events) == []
    state = await backend.get_agent("alice")
    assert state is not None
    assert state.activity is Activity.WRAP_UP
    assert await backend.next_due() == 31  # t2's experts step ends before alice's wrap-up (at 40)
    events = await backend.tick(40)
    assert reservations(events)[0].task_id == "t2"


async def test_ending_wrap_up_early_by_becoming_available(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    await backend.accept((await offer_of(backend, "t1"))[0], "alice", 0)
    await backend.complete("t1", 10, wrap_up=30)
    await backend.submit(task("t2", created_at=11), 11)
    events = await backend.set_activity("alice", Activity.AVAILABLE, 12)
    assert reservations(events)[0].task_id == "t2"


async def test_going_away_withdraws_ringing_offers_without_blame(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("alice2", skills={"billing": 8}), 0)
    await backend.upsert_agent(agent("alice2", Activity.AWAY, skills={"billing": 8}), 0)
    await backend.submit(task("t1"), 0)
    events = await backend.set_activity("alice", Activity.AWAY, 1)
    withdrawn = [e for e in events if isinstance(e, TaskRejected)]
    assert [e.reason for e in withdrawn] == ["agent_unavailable"]
    events = await backend.set_activity("alice", Activity.AVAILABLE, 2)
    assert reservations(events)[0].task_id == "t1"  # not excluded


async def test_abandon_withdraws_the_offer_and_frees_the_agent(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    await backend.submit(task("t2", created_at=1), 1)
    events = await backend.abandon("t1", 2)
    assert kinds(events)[0] == "task_abandoned"
    assert reservations(events)[0].task_id == "t2"
    with pytest.raises(UnknownTask):
        await backend.abandon("t1", 3)


async def test_invalid_transitions(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t1"), 0)
    with pytest.raises(InvalidTransition):
        await backend.complete("t1", 1)  # still ringing
    with pytest.raises(InvalidTransition):
        await backend.submit(task("t1"), 1)
    await backend.accept((await offer_of(backend, "t1"))[0], "alice", 1)
    with pytest.raises(InvalidTransition):
        await backend.abandon("t1", 2)
    with pytest.raises(InvalidTransition):
        await backend.set_activity("alice", Activity.BUSY, 2)
    with pytest.raises(UnknownAgent):
        await backend.set_activity("nobody", Activity.AWAY, 2)
    with pytest.raises(UnknownWorkflow):
        await backend.submit(task("t9", workflow="nope"), 2)


async def test_waiting_tasks_in_serving_order(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("ringing"), 0)
    await backend.submit(task("low", created_at=1), 1)
    await backend.submit(task("high", created_at=2, value=80), 2)
    listing = await backend.waiting_tasks("billing", 10)
    assert [(w.task_id, w.position, w.status) for w in listing] == [
        ("ringing", 1, TaskStatus.RESERVED),
        ("high", 2, TaskStatus.WAITING),
        ("low", 3, TaskStatus.WAITING),
    ]
    assert await backend.position("low") == 3
    assert listing[1].waited == 8


async def test_removing_an_agent_requeues_its_offer(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("alice2", Activity.AWAY, skills={"billing": 8}), 0)
    await backend.submit(task("t1"), 0)
    await backend.remove_agent("alice", 1)
    assert await backend.get_agent("alice") is None
    await backend.set_activity("alice2", Activity.AVAILABLE, 2)
    assert (await offer_of(backend, "t1"))[1] == "alice2"


async def test_profile_update_makes_an_agent_qualify(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("carol"), 0)
    await backend.submit(task("t1"), 0)
    events = await backend.upsert_agent(agent("carol", skills={"billing": 7}), 5)
    assert reservations(events)[0].task_id == "t1"


async def test_unknown_queue_routes_on_the_tasks_own_skills(make_backend: BackendFactory) -> None:
    backend = make_backend()
    await backend.upsert_agent(agent("dave", capacity={"email": 5}), 0)
    events = await backend.submit(task("mail", queue="general", channel="email", required_skills={"support": 5}), 0)
    assert reservations(events)[0].agent_id == "dave"


def test_engine_lists_queues_with_unanswered_tasks(engine: RoutingEngine) -> None:
    engine.submit(task("t1", queue="support", required_skills={"support": 1}), 0)
    assert engine.queues() == ["support"]


async def test_agent_removed_while_assigned_and_added_again_starts_without_the_old_load(
    backend: RoutingBackend,
) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    (offer,) = reservations(await backend.submit(task("t1"), 1))
    await backend.accept(offer.reservation_id, "alice", 2)
    await backend.remove_agent("alice", 3)
    await backend.upsert_agent(agent("alice"), 4)
    # The old call ends on the first incarnation's books: the new alice has no slot to give back.
    events = await backend.complete("t1", 5)
    assert kinds(events) == ["task_completed"]
    again = await backend.get_agent("alice")
    assert again is not None
    assert again.activity is Activity.AVAILABLE
    assert sum(again.load.values()) == 0
    (second,) = reservations(await backend.submit(task("t2"), 6))
    assert second.agent_id == "alice"
