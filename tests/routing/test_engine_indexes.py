"""Property tests of the in-memory engine's indexes: after any sequence of decisions they describe the state exactly.

The decisions themselves are checked by ``test_engine_properties.py``; here the same random machine also checks
that the structures a decision reads instead of scanning are right: each waiting task sits in exactly one pool,
the one of its current requirement, a pool holds nothing else (no stale entries), its cached head is its best
entry, only unlisted pools stay registered once empty, an agent's pool lists name exactly the unlisted pools it
qualifies for, every bucket holds exactly the agents free on its channel once a call returns, and the free-agent
counts per (channel, skill) equal the agents in that skill's level buckets.
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant
from sortedcontainers import SortedList

from routing.engine import _PLAIN_POOL_LIMIT, _Pool
from routing.matching import Requirement
from routing.models import TaskStatus
from tests.routing.test_engine_properties import RoutingMachine


class IndexedRoutingMachine(RoutingMachine):
    @invariant()
    def pools_hold_exactly_the_waiting_tasks(self) -> None:
        engine = self.engine
        expected: dict[object, set[tuple[float, int, str]]] = {}
        for record in engine._tasks.values():
            if record.status is TaskStatus.WAITING and record.pool is not None:
                assert record.pool.requirement == record.requirement
                expected.setdefault(record.pool.requirement, set()).add((record.key, record.seq, record.task.id))
            else:
                assert record.pool is None or record.status is TaskStatus.WAITING
        assert {requirement for requirement, pool in engine._pools.items() if pool.entries} == set(expected)
        for requirement, pool in engine._pools.items():
            entries = list(pool.entries)
            if not entries:
                assert pool.head is None
                assert requirement.agents is None
                continue
            assert set(entries) == expected[requirement]
            assert len(entries) == len(expected[requirement])
            assert entries == sorted(entries)
            assert pool.head == entries[0]
            for key in pool.keys:
                assert pool in engine._pool_index[key]
        indexed = {pool for members in engine._pool_index.values() for pool in members}
        assert indexed == set(engine._pools.values())

    @invariant()
    def pool_lists_name_the_qualifying_pools(self) -> None:
        engine = self.engine
        unlisted = [pool for pool in engine._pools.values() if pool.requirement.agents is None]
        for agent in engine._agents.values():
            assert set(agent.pools) == set(agent.capacity)
            for channel, pools in agent.pools.items():
                wanted = [
                    pool
                    for pool in unlisted
                    if pool.requirement.channel == channel and agent.qualifies(pool.requirement)
                ]
                assert len(pools) == len(set(pools))
                assert set(pools) == set(wanted)

    @invariant()
    def buckets_hold_exactly_the_free_agents(self) -> None:
        # Bucket upkeep is deferred to the end of each call: by then every bucket must be exact again.
        engine = self.engine
        expected: dict[object, list[tuple[float, int, str]]] = {}
        for agent in engine._agents.values():
            entry = (agent.idle_since, agent.order, agent.id)
            for channel in agent.open_channels():
                keys: list[tuple[object, ...]] = [("s", channel, skill, level) for skill, level in agent.skills.items()]
                if agent.team is not None:
                    keys.append(("t", channel, agent.team))
                keys.extend(("l", channel, language) for language in agent.languages)
                keys.append(("a", channel))
                for key in keys:
                    expected.setdefault(key, []).append(entry)
        assert not engine._dirty
        assert {key: bucket for key, bucket in engine._available.items() if bucket} == {
            key: sorted(entries) for key, entries in expected.items()
        }

    @invariant()
    def free_counts_match_the_buckets(self) -> None:
        engine = self.engine
        counted: Counter[tuple[str, str]] = Counter()
        for key, bucket in engine._available.items():
            if key[0] == "s":
                counted[(str(key[1]), str(key[2]))] += len(bucket)
        for pair, count in engine._free_skill.items():
            assert count == counted[pair], pair
        assert set(counted) - {pair for pair, count in counted.items() if count == 0} <= set(engine._free_skill)


IndexedRoutingMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestIndexedRoutingMachine = IndexedRoutingMachine.TestCase


def test_a_pool_stays_sorted_across_its_switch_to_a_sorted_list() -> None:
    rng = random.Random(7)
    entries = [(rng.uniform(0, 100), sequence, f"t{sequence}") for sequence in range(_PLAIN_POOL_LIMIT + 500)]
    pool = _Pool(Requirement(channel="voice"), [("a", "voice")], entries[0])
    for entry in entries[1:]:
        pool.add(entry)
    assert isinstance(pool.entries, SortedList)
    rng.shuffle(entries)
    for entry in entries[: _PLAIN_POOL_LIMIT - 100]:
        assert pool.remove(entry)
    kept = sorted(entries[_PLAIN_POOL_LIMIT - 100 :])
    assert list(pool.entries) == kept
    assert pool.head == kept[0]
    for entry in kept[:-1]:
        assert pool.remove(entry)
    assert not pool.remove(kept[-1])
    assert pool.head is None
