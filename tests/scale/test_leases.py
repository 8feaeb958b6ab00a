"""Leases: one holder at a time, taken over when the holder stops renewing, and work that follows its lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from contact_center import leases
from contact_center.clock import SystemClock
from contact_center.leases import acquire, holder_of, release, run_exclusively

PERIOD = timedelta(seconds=30)


async def test_one_holder_at_a_time_until_the_lease_expires_or_is_released(database, clock):
    assert await acquire(database, "sla-timer", "a", clock.now(), PERIOD)
    assert not await acquire(database, "sla-timer", "b", clock.now(), PERIOD)
    assert await acquire(database, "sla-timer", "a", clock.now(), PERIOD)  # renewing
    assert await acquire(database, "other", "b", clock.now(), PERIOD)  # names are independent
    assert await holder_of(database, "sla-timer", clock.now()) == "a"

    clock.advance(PERIOD + timedelta(seconds=1))  # a stopped renewing
    assert await holder_of(database, "sla-timer", clock.now()) is None
    assert await acquire(database, "sla-timer", "b", clock.now(), PERIOD)
    assert not await acquire(database, "sla-timer", "a", clock.now(), PERIOD)

    await release(database, "sla-timer", "a")  # not a's to release: nothing changes
    assert await holder_of(database, "sla-timer", clock.now()) == "b"
    await release(database, "sla-timer", "b")
    assert await acquire(database, "sla-timer", "a", clock.now(), PERIOD)


async def test_racing_takers_get_one_lease(database, clock):
    won = await asyncio.gather(*(acquire(database, "race", f"p{i}", clock.now(), PERIOD) for i in range(6)))
    assert won.count(True) == 1


async def test_exactly_one_runner_works_and_another_takes_over_when_it_stops(database):
    running: list[str] = []

    def work(me: str):
        async def loop() -> None:
            running.append(me)
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(me)

        return loop

    runners = {
        me: asyncio.create_task(
            run_exclusively("job", work(me), db=database, holder=me, clock=SystemClock(), period=0.6)
        )
        for me in ("first", "second", "third")
    }
    try:
        for _ in range(40):
            await asyncio.sleep(0.05)
            assert len(running) <= 1
        [worker] = running
        runners[worker].cancel()  # a graceful stop releases the lease
        await asyncio.gather(runners[worker], return_exceptions=True)
        for _ in range(40):
            await asyncio.sleep(0.05)
            assert len(running) <= 1
        [successor] = running
        assert successor != worker
    finally:
        for task in runners.values():
            task.cancel()
        await asyncio.gather(*runners.values(), return_exceptions=True)
    assert running == []


async def test_work_stops_when_the_lease_is_lost_and_restarts_after_it_fails(database, clock):
    started: list[int] = []
    running: list[int] = []

    async def flaky() -> None:
        started.append(1)
        if len(started) == 1:
            raise RuntimeError("the work broke")
        running.append(1)
        try:
            await asyncio.Event().wait()
        finally:
            running.clear()

    runner = asyncio.create_task(
        run_exclusively("flaky", flaky, db=database, holder="me", clock=SystemClock(), period=0.3)
    )
    try:
        for _ in range(60):
            await asyncio.sleep(0.05)
            if len(started) >= 2:
                break
        assert len(started) >= 2  # started again after failing
        assert running
        # Another process takes the lease (this one's renewal will find it gone): the work must stop.
        far = SystemClock().now() + timedelta(hours=1)
        await release(database, "flaky", "me")
        assert await acquire(database, "flaky", "intruder", far, PERIOD)
        await asyncio.sleep(0.4)
        assert not running  # stopped at the next renewal
        count = len(started)
        await asyncio.sleep(0.4)
        assert len(started) == count  # and not restarted while the intruder holds it
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_stop_that_arrives_as_the_store_answers_still_stops_the_work(database, monkeypatch):
    """Python 3.11's asyncio.wait_for returned the answer and dropped such a cancellation: the loop never ended."""
    real_acquire = leases.acquire
    runner: asyncio.Task[None] | None = None
    worked: list[int] = []

    async def acquire_then_stop(*args, **kwargs):
        held = await real_acquire(*args, **kwargs)
        assert runner is not None
        runner.cancel()  # the stop (a shutdown) comes in the moment the store has answered
        return held

    async def work() -> None:
        worked.append(1)
        await asyncio.Event().wait()

    monkeypatch.setattr(leases, "acquire", acquire_then_stop)
    runner = asyncio.create_task(
        run_exclusively("stop", work, db=database, holder="me", clock=SystemClock(), period=0.3)
    )
    await asyncio.wait({runner}, timeout=5)
    assert runner.cancelled()
    assert await holder_of(database, "stop", SystemClock().now()) is None  # released on the way out
