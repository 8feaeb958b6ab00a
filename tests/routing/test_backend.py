"""Every backend through the async protocol the app uses (parametrized in ``conftest.py``)."""

from __future__ import annotations

import asyncio

from routing.backend import RoutingBackend
from routing.errors import InvalidTransition, ReservationConflict
from routing.events import TaskAccepted
from routing.memory import MemoryBackend
from routing.redis_backend import RedisBackend
from routing.workflows import TRANSFER_SECONDS, TRANSFER_TO
from tests.routing.factories import agent, kinds, reservations, task


def test_backend_implements_the_protocol(backend: RoutingBackend) -> None:
    assert isinstance(backend, RoutingBackend)


async def test_two_accepts_at_once_exactly_one_wins(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    (offer,) = reservations(await backend.submit(task("t1"), 1))
    results = await asyncio.gather(
        backend.accept(offer.reservation_id, "alice", 2),
        backend.accept(offer.reservation_id, "alice", 2),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, list)]
    losers = [r for r in results if isinstance(r, ReservationConflict)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(winners[0][0], TaskAccepted)


async def test_submit_many_decides_each_task_in_order(backend: MemoryBackend | RedisBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.submit(task("t0"), 0)
    outcomes = await backend.submit_many([task("t1"), task("t0"), task("t2", created_at=1)], 1)
    first, duplicate, third = outcomes
    assert isinstance(duplicate, InvalidTransition)
    assert kinds(first) == ["task_created"]  # type: ignore[arg-type]
    assert kinds(third) == ["task_created"]  # type: ignore[arg-type]
    assert [w.task_id for w in await backend.waiting_tasks("billing", 2)] == ["t0", "t1", "t2"]
    assert await backend.position("t2") == 3


async def test_full_call_feeds_statistics(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    (offer,) = reservations(await backend.submit(task("t1"), 0))
    await backend.submit(task("t2", created_at=1), 1)
    assert await backend.position("t2") == 2
    assert [w.task_id for w in await backend.waiting_tasks("billing", 2)] == ["t1", "t2"]
    await backend.accept(offer.reservation_id, "alice", 5)
    assert await backend.position("t2") == 1
    await backend.complete("t1", 65, wrap_up=10)
    assert (await backend.get_agent("alice")).activity == "wrap_up"  # type: ignore[union-attr]
    assert await backend.next_due() == 31  # t2's first step ends before the wrap-up
    await backend.tick(75)
    view = await backend.get_task("t2")
    assert view is not None
    assert view.reservation is not None
    await backend.abandon("t2", 76)
    stats = await backend.queue_statistics("billing", now=100, window=3600)
    assert (stats.offered, stats.answered, stats.abandoned, stats.waiting) == (2, 1, 1, 0)
    assert stats.service_level == 0.5
    assert stats.average_speed_of_answer == 5
    assert stats.average_handle_time == 70
    agents = await backend.agent_statistics(now=100, window=100)
    assert agents.by_activity["busy"] == 0
    assert agents.occupancy is not None


async def test_reject_set_activity_and_remove(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("alice2", skills={"billing": 8}), 0)
    (offer,) = reservations(await backend.submit(task("t1"), 0))
    (second,) = reservations(await backend.reject(offer.reservation_id, offer.agent_id, 1))
    assert second.agent_id != offer.agent_id
    await backend.set_activity(second.agent_id, "away", 2)  # type: ignore[arg-type]
    await backend.remove_agent(second.agent_id, 3)
    assert await backend.get_agent(second.agent_id) is None


async def test_an_answered_task_outlives_its_workflows_deadlines(backend: RoutingBackend) -> None:
    # Found by the stateful property test: the billing workflow's last step ends at 300 s and its fallback is
    # voicemail; a task answered before then must stay with its agent instead of going to voicemail.
    await backend.upsert_agent(agent("alice"), 0)
    (offer,) = reservations(await backend.submit(task("t1"), 0))
    await backend.accept(offer.reservation_id, "alice", 5)
    assert await backend.next_due() is None  # nothing left to time out
    assert kinds(await backend.tick(1000)) == []
    view = await backend.get_task("t1")
    assert view is not None
    assert view.status == "assigned"
    assert (await backend.get_agent("alice")).load == {"voice": 1}  # type: ignore[union-attr]
    assert kinds(await backend.complete("t1", 1200)) == ["task_completed", "agent_activity_changed"]


async def test_a_transfer_waits_for_its_named_agent_then_the_workflow_takes_over(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)  # the best billing agent, idle longest
    await backend.upsert_agent(agent("bob", activity="away"), 1)  # type: ignore[arg-type]
    transferred = task("t1", created_at=2, attributes={TRANSFER_TO: "bob"})
    assert reservations(await backend.submit(transferred, 2)) == []  # alice is free, but it is bob's
    (offer,) = reservations(await backend.set_activity("bob", "available", 3))  # type: ignore[arg-type]
    assert offer.agent_id == "bob"
    await backend.reject(offer.reservation_id, "bob", 4)
    # Nobody else before the transfer's time is up, then the billing workflow's own agents.
    assert reservations(await backend.tick(2 + TRANSFER_SECONDS - 1)) == []
    (fallback,) = reservations(await backend.tick(2 + TRANSFER_SECONDS))
    assert fallback.agent_id == "alice"


async def test_get_agents_reads_many_states_at_once_in_the_order_asked(backend: RoutingBackend) -> None:
    await backend.upsert_agent(agent("alice"), 0)
    await backend.upsert_agent(agent("bob", activity="away"), 1)  # type: ignore[arg-type]
    (offer,) = reservations(await backend.submit(task("t1"), 2))
    await backend.accept(offer.reservation_id, "alice", 3)
    states = await backend.get_agents(["bob", "nobody", "alice"])
    assert states == [await backend.get_agent("bob"), None, await backend.get_agent("alice")]
    bob, _, alice = states
    assert bob is not None
    assert bob.activity == "away"
    assert alice is not None
    assert alice.load == {"voice": 1}
    assert await backend.get_agents([]) == []
