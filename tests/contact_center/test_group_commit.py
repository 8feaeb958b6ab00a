"""Group commit: concurrent callers share batches, and each gets its own result or its own error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from contact_center.group_commit import GroupCommit


class Writer:
    """Doubles numbers in batches; refuses 13 (a bad item) and fails whole while `away` (the store is gone)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.away = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, items: Sequence[int]) -> list[int]:
        await self.gate.wait()
        self.batches.append(list(items))
        if self.away:
            raise ConnectionRefusedError("the store is away")
        if 13 in items:
            raise ValueError("13 is refused")
        return [2 * n for n in items]


async def test_arrivals_during_a_write_gather_into_the_next_batch():
    writer = Writer()
    group = GroupCommit(writer.write, name="test", limit=100)
    writer.gate.clear()
    first = asyncio.create_task(group.put(1))
    await asyncio.sleep(0)  # the first arrival starts its batch at once
    rest = [asyncio.create_task(group.put(n)) for n in range(2, 12)]
    await asyncio.sleep(0)
    writer.gate.set()
    assert [await first, *await asyncio.gather(*rest)] == [2 * n for n in range(1, 12)]
    assert writer.batches == [[1], list(range(2, 12))]


async def test_a_batch_is_capped_at_its_limit():
    writer = Writer()
    group = GroupCommit(writer.write, name="test", limit=4)
    assert await asyncio.gather(*(group.put(n) for n in range(10))) == [2 * n for n in range(10)]
    assert [len(b) for b in writer.batches] == [4, 4, 2]


async def test_a_bad_item_fails_only_its_own_caller():
    writer = Writer()
    group = GroupCommit(writer.write, name="test")
    results = await asyncio.gather(*(group.put(n) for n in (12, 13, 14)), return_exceptions=True)
    assert results[0] == 24
    assert isinstance(results[1], ValueError)
    assert results[2] == 28
    assert writer.batches == [[12, 13, 14], [12], [13], [14]]


async def test_while_the_store_is_away_a_batch_is_not_retried_item_by_item():
    writer = Writer()
    writer.away = True
    group = GroupCommit(writer.write, name="test")
    results = await asyncio.gather(*(group.put(n) for n in (1, 2, 3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert writer.batches == [[1, 2, 3]]


async def test_a_caller_that_stopped_waiting_is_skipped_and_the_others_are_written():
    writer = Writer()
    group = GroupCommit(writer.write, name="test")
    writer.gate.clear()
    busy = asyncio.create_task(group.put(1))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(group.put(2), 0.01)
    third = asyncio.create_task(group.put(3))
    await asyncio.sleep(0)
    writer.gate.set()
    assert (await busy, await third) == (2, 6)
    assert writer.batches == [[1], [3]]


async def test_with_two_writers_a_second_batch_starts_while_the_first_is_written():
    writer = Writer()
    group = GroupCommit(writer.write, name="test", writers=2)
    writer.gate.clear()
    first = asyncio.create_task(group.put(1))
    await asyncio.sleep(0)
    second = asyncio.create_task(group.put(2))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.put(n)) for n in range(3, 7)]  # both writers busy: these wait together
    await asyncio.sleep(0)
    writer.gate.set()
    assert [await first, await second, *await asyncio.gather(*rest)] == [2 * n for n in range(1, 7)]
    assert sorted(writer.batches) == [[1], [2], [3, 4, 5, 6]]


@pytest.mark.parametrize("writers", [1, 3])
async def test_a_caller_that_puts_again_as_soon_as_it_is_answered_is_written(writers):
    writer = Writer()
    group = GroupCommit(writer.write, name="test", writers=writers)
    assert [await group.put(n) for n in range(5)] == [0, 2, 4, 6, 8]


async def test_closing_waits_for_batches_under_way_but_not_for_a_store_that_never_answers():
    writer = Writer()
    group = GroupCommit(writer.write, name="test", limit=100)
    answered = asyncio.create_task(group.put(1))
    await group.aclose(grace=5)
    assert await answered == 2
    writer.gate.clear()  # the store stops answering
    stuck = asyncio.create_task(group.put(2))
    await asyncio.sleep(0)
    await group.aclose(grace=0.05)
    with pytest.raises(asyncio.CancelledError):
        await stuck
