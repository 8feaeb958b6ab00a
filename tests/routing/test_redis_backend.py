"""The Redis backend against the real server: the same decisions as the memory backend, across processes.

* A randomized state machine drives a :class:`MemoryBackend` and a :class:`RedisBackend` side by side with the same
  operations and compares every reply (events, errors) and the state read back after each step.
* Several clients on separate connections race submits and accepts: no task is assigned twice, no agent goes past
  its capacity, and of two accepts of one offer exactly one wins.
* Timeouts set by one process fire from another's ``tick``; statistics read the same in every process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, TimeoutError

from routing.engine import RoutingSettings
from routing.errors import ReservationConflict, ReservationGone, RoutingError
from routing.events import Event, TaskAccepted, TaskReserved
from routing.matching import Strategy
from routing.memory import MemoryBackend
from routing.models import Activity, AgentState, Task, TaskStatus
from routing.priority import priority_key
from routing.redis_backend import FUNCTION_NAME, RedisBackend, _pool_key, key_part
from routing.workflows import parse_rules
from tests.routing.conftest import REDIS_URL, delete_prefix, new_prefix
from tests.routing.factories import RULES_YAML, agent, kinds, reservations, task

T = TypeVar("T")

SKILLS = ("billing", "support")
CHANNELS = ("voice", "chat", "email")
AGENT_IDS = ("a0", "a1", "a2", "a3", "a:4", "a%5")  # names that need escaping in keys, too
QUEUES = ("billing", "support", "other")

skill_levels = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=2)
capacities = st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3), min_size=1, max_size=3)


class SideBySide(RuleBasedStateMachine):
    """Every operation on both backends; replies and state must match."""

    routing_settings = RoutingSettings(reservation_timeout=5, max_consecutive_misses=2, lookahead=2)

    def __init__(self) -> None:
        super().__init__()
        rules = parse_rules(RULES_YAML)
        self.loop = asyncio.new_event_loop()
        self.client = Redis.from_url(REDIS_URL)
        self.prefix = new_prefix()
        self.memory = MemoryBackend(rules, self.routing_settings, retention=60.0)
        self.redis = RedisBackend(self.client, rules, self.routing_settings, prefix=self.prefix, retention=60.0)
        self.now = 1_700_000_000.0
        self.counter = 0
        self.task_ids: list[str] = []

    def teardown(self) -> None:
        self.run(delete_prefix(self.client, self.prefix))
        self.run(self.client.aclose())
        self.loop.close()

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def both(self, method: str, *args: Any) -> list[Event]:
        """Call ``method`` on both backends; they must return equal events or raise the same error."""
        outcomes: list[Any] = []
        for backend in (self.memory, self.redis):
            try:
                outcomes.append(self.run(getattr(backend, method)(*args)))
            except RoutingError as exc:
                outcomes.append((type(exc), str(exc)))
        expected, actual = outcomes
        assert actual == expected, (method, args)
        self.compare_state()
        return expected if isinstance(expected, list) else []

    def compare_state(self) -> None:
        memory, redis = self.memory, self.redis
        for task_id in self.task_ids:
            assert self.run(redis.get_task(task_id)) == self.run(memory.get_task(task_id)), task_id
        for agent_id in AGENT_IDS:
            assert self.run(redis.get_agent(agent_id)) == self.run(memory.get_agent(agent_id)), agent_id
            expected = self.run(memory.agent_reservations(agent_id))
            assert self.run(redis.agent_reservations(agent_id)) == expected
        assert self.run(redis.next_due()) == self.run(memory.next_due())
        for queue in QUEUES:
            assert self.run(redis.waiting_tasks(queue, self.now)) == self.run(memory.waiting_tasks(queue, self.now))
            expected_stats = self.run(memory.queue_statistics(queue, self.now, 30.0))
            assert self.run(redis.queue_statistics(queue, self.now, 30.0)) == expected_stats
        assert self.run(redis.agent_statistics(self.now, 30.0)) == self.run(memory.agent_statistics(self.now, 30.0))

    @invariant()
    def pool_heads_are_the_pools_first_entries(self) -> None:
        # Agents look for work through ph alone, so a head that is stale, or missing while its pool holds tasks,
        # would hand out the wrong task or none (the side-by-side comparison sees that only when it matters).
        prefix = self.prefix.encode()

        async def heads() -> tuple[dict[bytes, tuple[bytes, bytes]], dict[bytes, tuple[bytes, bytes]]]:
            # Every pool is registered in pr, or while it holds tasks under its listed agents' pi:g: sets.
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(prefix + b"ph")
                pipe.smembers(prefix + b"pr")
                for agent_id in AGENT_IDS:
                    pipe.smembers(prefix + b"pi:g:" + key_part(agent_id).encode())
                fields, *registered = await pipe.execute()
            # A head's key (its member's first 16 hex digits) is under <signature>, its member under #<signature>.
            keys = {field: value for field, value in fields.items() if not field.startswith(b"#")}
            assert {b"#" + sig for sig in keys} == set(fields) - set(keys)
            stored = {sig: (keys[sig], fields[b"#" + sig]) for sig in keys}
            sigs = sorted(set().union(*registered))
            async with self.client.pipeline(transaction=False) as pipe:
                for sig in sigs:
                    pipe.zrange(prefix + b"p:" + sig, 0, 0, withscores=True)
                firsts = await pipe.execute()
            # A pool is ordered by member alone.
            assert all(score == 0 for first in firsts for _, score in first)
            actual = {sig: (first[0][0][:16], first[0][0]) for sig, first in zip(sigs, firsts, strict=True) if first}
            return stored, actual

        stored, actual = self.run(heads())
        assert stored == actual

    @initialize(count=st.integers(2, 5), levels=st.lists(st.integers(4, 10), min_size=5, max_size=5))
    def staff(self, count: int, levels: list[int]) -> None:
        # Start with agents who can take most work, so that offers, answers and time-outs happen often.
        for index in range(count):
            state = AgentState(
                id=AGENT_IDS[index],
                activity=Activity.AVAILABLE,
                skills={"billing": levels[index], "support": 11 - levels[index]},
                capacity={"voice": 1, "chat": 2, "email": 1},
                team="billing",
                languages=frozenset({"en", "es"} if index % 2 else {"en"}),
            )
            self.both("upsert_agent", state, self.now)

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        skills=skill_levels,
        capacity=capacities,
        team=st.sampled_from([None, "billing"]),
        spanish=st.booleans(),
        activity=st.sampled_from([Activity.AVAILABLE, Activity.AVAILABLE, *Activity]),
        blocks=st.booleans(),
    )
    def upsert_agent(
        self,
        agent_id: str,
        skills: dict[str, int],
        capacity: dict[str, int],
        team: str | None,
        spanish: bool,
        activity: Activity,
        blocks: bool,
    ) -> None:
        state = AgentState(
            id=agent_id,
            activity=activity,
            skills=skills,
            capacity=capacity,
            team=team,
            languages=frozenset({"en", "es"} if spanish else {"en"}),
            call_blocks_other_channels=blocks,
        )
        self.both("upsert_agent", state, self.now)

    @rule(
        queue=st.sampled_from(QUEUES),
        channel=st.sampled_from(CHANNELS),
        required=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 6), max_size=1),
        preferred=skill_levels,
        value=st.integers(0, 100),
        base=st.integers(0, 2),
        sla=st.sampled_from([10.0, 20.0, 300.0]),
        age=st.sampled_from([0.0, 0.25, 3.0, 35.0, 500.0]),
        language=st.sampled_from([None, "en", "es"]),
        last_agent=st.sampled_from([None, *AGENT_IDS]),
    )
    def submit(
        self,
        queue: str,
        channel: str,
        required: dict[str, int],
        preferred: dict[str, int],
        value: int,
        base: int,
        sla: float,
        age: float,
        language: str | None,
        last_agent: str | None,
    ) -> None:
        self.counter += 1
        new = Task(
            id=f"t{self.counter}",
            queue=queue,
            channel=channel,
            created_at=self.now - age,
            required_skills=required,
            preferred_skills=preferred,
            value=value,
            base_priority=base,
            sla_target=sla,
            language=language,
            attributes={"last_agent": last_agent} if last_agent else {},
        )
        self.task_ids.append(new.id)
        self.both("submit", new, self.now)

    def open_reservations(self) -> list[tuple[str, str]]:
        engine = self.memory.engine
        return sorted((r.id, r.agent_id) for r in engine._reservations.values())

    def tasks_in(self, *statuses: TaskStatus) -> list[str]:
        engine = self.memory.engine
        return sorted(task_id for task_id, record in engine._tasks.items() if record.status in statuses)

    @precondition(lambda self: self.open_reservations())
    @rule(data=st.data(), twice=st.booleans(), wrong_agent=st.booleans())
    def accept(self, data: st.DataObject, twice: bool, wrong_agent: bool) -> None:
        reservation_id, agent_id = data.draw(st.sampled_from(self.open_reservations()))
        if wrong_agent:
            self.both("accept", reservation_id, "someone-else", self.now)
        self.both("accept", reservation_id, agent_id, self.now)
        if twice:
            self.both("accept", reservation_id, agent_id, self.now)

    @precondition(lambda self: self.open_reservations())
    @rule(data=st.data(), late=st.booleans())
    def reject(self, data: st.DataObject, late: bool) -> None:
        reservation_id, agent_id = data.draw(st.sampled_from(self.open_reservations()))
        # A late answer (past the offer's expiry, before tick) is refused alike.
        self.both("reject", reservation_id, agent_id, self.now + (10.0 if late else 0.0))

    @precondition(lambda self: self.tasks_in(TaskStatus.ASSIGNED))
    @rule(data=st.data(), wrap_up=st.sampled_from([0.0, 0.0, 3.0, 0.7]))
    def complete(self, data: st.DataObject, wrap_up: float) -> None:
        self.both("complete", data.draw(st.sampled_from(self.tasks_in(TaskStatus.ASSIGNED))), self.now, wrap_up)

    @precondition(lambda self: self.task_ids)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        # Any task ever submitted: gone and assigned ones must fail alike.
        self.both("abandon", data.draw(st.sampled_from(self.task_ids)), self.now)

    @rule(agent_id=st.sampled_from(AGENT_IDS), activity=st.sampled_from([Activity.AVAILABLE, *Activity]))
    def set_activity(self, agent_id: str, activity: Activity) -> None:
        self.both("set_activity", agent_id, activity, self.now)

    @rule(agent_id=st.sampled_from(AGENT_IDS), really=st.integers(0, 3))
    def remove_agent(self, agent_id: str, really: int) -> None:
        if really == 0:  # rarely: removing agents leaves little to route
            self.both("remove_agent", agent_id, self.now)

    @rule(seconds=st.sampled_from([0.1, 0.5, 2.0, 6.0, 15.0, 40.0, 100.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.both("tick", self.now)


SideBySide.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestSideBySide = SideBySide.TestCase


class LongestIdleSideBySide(SideBySide):
    routing_settings = RoutingSettings(
        reservation_timeout=5, strategy=Strategy.LONGEST_IDLE, count_rejections_as_misses=True, lookahead=3
    )


LongestIdleSideBySide.TestCase.settings = settings(
    max_examples=15, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLongestIdleSideBySide = LongestIdleSideBySide.TestCase


# Several processes: one Redis, one prefix, a client (connection pool) each.


@pytest.fixture
async def processes(rules: Any) -> AsyncIterator[list[RedisBackend]]:
    prefix = new_prefix()
    clients = [Redis.from_url(REDIS_URL) for _ in range(4)]
    backends = [
        RedisBackend(client, rules, RoutingSettings(reservation_timeout=15), prefix=prefix) for client in clients
    ]
    yield backends
    await delete_prefix(clients[0], prefix)
    for client in clients:
        await client.aclose()


async def test_two_accepts_of_one_offer_from_two_processes_exactly_one_wins(processes: list[RedisBackend]) -> None:
    first, second = processes[:2]
    await first.upsert_agent(agent("alice"), 0)
    (offer,) = reservations(await first.submit(task("t1"), 1))
    for _ in range(3):  # also when both arrive in the same instant, many times over
        results = await asyncio.gather(
            first.accept(offer.reservation_id, "alice", 2),
            second.accept(offer.reservation_id, "alice", 2),
            return_exceptions=True,
        )
        winners = [result for result in results if isinstance(result, list)]
        losers = [result for result in results if isinstance(result, ReservationConflict)]
        assert len(winners) + len(losers) == 2
        assert len(losers) >= 1
        assert all(isinstance(loser, ReservationGone) for loser in losers)
    view = await second.get_task("t1")
    assert view is not None
    assert view.status is TaskStatus.ASSIGNED


async def test_racing_submits_and_accepts_never_double_assign_or_overfill(processes: list[RedisBackend]) -> None:
    agents = [
        agent(
            f"agent{i}",
            skills={"support": 1 + i % 10},
            capacity={"voice": 1, "chat": 2},
            call_blocks_other_channels=False,
        )
        for i in range(12)
    ]
    await asyncio.gather(*(processes[i % 4].upsert_agent(state, 0) for i, state in enumerate(agents)))
    accepted: list[TaskAccepted] = []
    offers: list[TaskReserved] = []

    async def worker(index: int) -> None:
        backend = processes[index % len(processes)]
        for n in range(15):
            events = await backend.submit(
                task(
                    f"w{index}-{n}", queue="support", channel=("voice", "chat")[n % 2], required_skills={"support": 1}
                ),
                1,
            )
            offers.extend(reservations(events))
            # Every worker tries to accept every offer it has seen, its own and others': only the owner's can win,
            # and each only once.
            for offer in list(offers):
                try:
                    result = await backend.accept(offer.reservation_id, offer.agent_id, 2)
                except ReservationConflict:
                    continue
                accepted.extend(event for event in result if isinstance(event, TaskAccepted))

    await asyncio.gather(*(worker(index) for index in range(8)))
    assert len({event.task_id for event in accepted}) == len(accepted)
    assert len({event.reservation_id for event in accepted}) == len(accepted)
    assert len({offer.reservation_id for offer in offers}) == len(offers)
    held: Counter[tuple[str, str]] = Counter()
    for event in accepted:
        held[(event.agent_id, event.channel)] += 1
    for state in agents:
        current = await processes[0].get_agent(state.id)
        assert current is not None
        for channel, load in current.load.items():
            assert load <= state.capacity[channel]
            assert load == held[(state.id, channel)]
    # 12 agents x 3 slots were filled, and each accepted task is assigned to exactly the agent that accepted it.
    assert len(accepted) == 36
    for event in accepted:
        view = await processes[3].get_task(event.task_id)
        assert view is not None
        assert (view.status, view.agent_id) == (TaskStatus.ASSIGNED, event.agent_id)


async def test_timeouts_set_by_a_dead_process_fire_from_another(rules: Any) -> None:
    prefix = new_prefix()
    dying = RedisBackend.from_url(REDIS_URL, rules, RoutingSettings(reservation_timeout=15), prefix=prefix)
    survivor = RedisBackend.from_url(REDIS_URL, rules, RoutingSettings(reservation_timeout=15), prefix=prefix)
    try:
        await dying.upsert_agent(agent("alice"), 0)
        await dying.upsert_agent(agent("bob"), 0)
        (offer,) = reservations(await dying.submit(task("t1"), 0))
        await dying.aclose()  # the process that made the offer is gone
        assert await survivor.next_due() == 20  # the billing queue rings for 20 s
        assert await survivor.tick(19.9) == []
        events = await survivor.tick(20)
        assert events[0].kind == "reservation_timed_out"
        assert await survivor.tick(20) == []  # fired once, whoever ticks next
        view = await survivor.get_task("t1")
        assert view is not None
        assert view.reservation is None  # alice is excluded; bob only qualifies after the experts step
        (again,) = reservations(await survivor.tick(30))
        assert (again.task_id, again.agent_id) == ("t1", "bob")
        assert offer.agent_id == "alice"
    finally:
        await delete_prefix(survivor.client, prefix)
        await survivor.aclose()


async def test_statistics_read_the_same_in_every_process(processes: list[RedisBackend]) -> None:
    first, second = processes[:2]
    memory = MemoryBackend(first.rules, first.settings)
    for backend in (first, memory):
        await backend.upsert_agent(agent("alice"), 0)
        (offer,) = reservations(await backend.submit(task("t1"), 0))
        await backend.submit(task("t2", created_at=1), 1)
        await backend.accept(offer.reservation_id, "alice", 5)
        await backend.complete("t1", 65, wrap_up=10)
        await backend.abandon("t2", 70)
    expected = await memory.queue_statistics("billing", 100, 3600)
    assert expected.answered == 1
    assert await first.queue_statistics("billing", 100, 3600) == expected
    assert await second.queue_statistics("billing", 100, 3600) == expected
    assert await second.agent_statistics(100, 100) == await memory.agent_statistics(100, 100)


async def test_keys_live_under_the_prefix_and_escape_separators(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("x:y", skills={"billing:eu": 9}, team="billing"), 0)
        events = await backend.submit(task("t:1", queue="q", required_skills={"billing:eu": 5}), 0)
        assert reservations(events)[0].agent_id == "x:y"
        keys = {key.decode() async for key in redis_client.scan_iter(match=prefix + "*")}
        assert f"{prefix}av:s:chat:billing%3Aeu:9" not in keys  # a voice-only agent is not in chat buckets
        assert f"{prefix}ro:s:{key_part('billing:eu')}" in keys
        assert f"{prefix}timers" in keys
    finally:
        await delete_prefix(redis_client, prefix)
    assert [key async for key in redis_client.scan_iter(match=prefix + "*")] == []


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2))
def test_pool_keys_sort_as_the_priority_keys_do(keys: list[float]) -> None:
    # A pool is ordered by its members, which start with these digits.
    assert sorted(keys, key=_pool_key) == sorted(keys)


async def test_pools_serve_in_priority_key_order_and_read_keys_back_exactly(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    created = (1_000_000.123456789, -1e9 - 0.1, 1e-300, -150.0, 0.0, 7.5)
    tasks = [task(f"t{i}", queue="support", created_at=at) for i, at in enumerate(created)]
    now = 2e6
    try:
        await backend.upsert_agent(agent("carol", Activity.AWAY), now)  # could serve them: they wait
        for item in tasks:
            await backend.submit(item, now)
        for item in tasks:
            view = await backend.get_task(item.id)
            assert view is not None
            assert view.priority_key == priority_key(item, backend.settings.weights)
        offered = reservations(await backend.set_activity("carol", Activity.AVAILABLE, now))
        served = []
        while offered:
            (offer,) = offered
            served.append(offer.task_id)
            await backend.accept(offer.reservation_id, "carol", now)
            offered = reservations(await backend.complete(offer.task_id, now))
        by_key = sorted(tasks, key=lambda item: priority_key(item, backend.settings.weights))
        assert served == [item.id for item in by_key]
    finally:
        await delete_prefix(redis_client, prefix)


async def test_a_late_tick_fires_the_steps_it_makes_due_in_order_among_the_others(
    redis_client: Redis, rules: Any
) -> None:
    # Each step fired sets the next one, already due: the batch stops there, the fired timers leave and the rest are
    # read again, in order, with the offers' time-outs among them.
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, RoutingSettings(reservation_timeout=15), prefix=prefix)
    memory = MemoryBackend(rules, RoutingSettings(reservation_timeout=15))
    try:
        for backend in (redis, memory):
            await backend.upsert_agent(agent("alice"), 0)
            await backend.upsert_agent(agent("carol", Activity.AWAY), 0)
        for index, at in enumerate((0.0, 0.0, 5.0, 5.0, 12.0)):
            item = task(f"t{index}", created_at=at)
            assert await redis.submit(item, at) == await memory.submit(item, at)
        events = await redis.tick(1000.0)
        assert events == await memory.tick(1000.0)
        assert kinds(events).count("workflow_step_changed") > 4
        assert await redis.next_due() == await memory.next_due()
        assert await redis.tick(5000.0) == await memory.tick(5000.0)
    finally:
        await delete_prefix(redis_client, prefix)


async def test_an_accepted_offer_takes_its_time_out_along(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice", skills={"support": 5}), 0)
        (offer,) = reservations(await backend.submit(task("t1", queue="support"), 0))  # a workflow with no time-outs
        (timer,) = await redis_client.zrange(prefix + "timers", 0, -1)
        assert timer.endswith(b"o" + offer.reservation_id.encode())
        await backend.accept(offer.reservation_id, "alice", 1)
        assert await redis_client.zcard(prefix + "timers") == 0  # not left for a tick to skip
        assert await backend.next_due() is None
    finally:
        await delete_prefix(redis_client, prefix)


async def test_the_function_library_is_loaded_again_when_redis_forgot_it(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice"), 0)
        await redis_client.function_delete(FUNCTION_NAME)  # as after a restart without persistence
        assert reservations(await backend.submit(task("t1"), 1))[0].agent_id == "alice"
    finally:
        await delete_prefix(redis_client, prefix)


async def test_concurrent_calls_on_one_backend_share_the_wire_in_the_order_issued(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, RoutingSettings(reservation_timeout=15), prefix=prefix)
    try:
        await backend.upsert_agent(agent("dave"), 0)  # support on chat, two at a time
        # Twenty callers at once: while the first call is on the wire the others queue and leave as one pipeline,
        # each still its own decision, run in the order issued; one of them fails alone.
        calls = [
            backend.submit(task(f"t{n:02d}", queue="support", channel="chat", required_skills={"support": 1}), 1)
            for n in range(20)
        ]
        results = await asyncio.gather(
            *calls[:10], backend.accept("R999", "dave", 1), *calls[10:], return_exceptions=True
        )
        assert isinstance(results[10], ReservationGone)
        events = [result for result in results if not isinstance(result, BaseException)]
        assert len(events) == 20
        offered = [offer.task_id for batch in events for offer in reservations(batch)]
        assert offered == ["t00", "t01"]  # dave's two chat slots went to the first two issued
        waiting = await backend.waiting_tasks("support", 2)
        assert [item.task_id for item in waiting] == [f"t{n:02d}" for n in range(20)]
    finally:
        await delete_prefix(redis_client, prefix)


async def test_a_connection_closed_by_the_server_is_replaced_before_the_next_call(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice"), 0)
        own = backend._pipe.connection
        await own.send_command("CLIENT", "ID")
        await redis_client.client_kill_filter(_id=await own.read_response())  # as when Redis restarts
        assert reservations(await backend.submit(task("t1"), 1))[0].agent_id == "alice"
    finally:
        await backend.aclose()
        await delete_prefix(redis_client, prefix)


async def test_calls_unanswered_when_the_connection_dies_are_sent_again_in_the_order_issued(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, RoutingSettings(reservation_timeout=15), prefix=prefix)
    try:
        await backend.upsert_agent(agent("dave"), 0)  # support on chat, two at a time
        own = backend._pipe.connection
        await own.send_command("CLIENT", "ID")
        own_id = await own.read_response()
        # Writes pause: the burst's two batches reach Redis and wait there, unanswered, until the connection dies.
        await redis_client.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
        try:
            calls = [
                asyncio.ensure_future(
                    backend.submit(task(f"t{n}", queue="support", channel="chat", required_skills={"support": 1}), 1)
                )
                for n in range(8)
            ]
            await asyncio.sleep(0.1)
            assert not any(call.done() for call in calls)
            await redis_client.client_kill_filter(_id=own_id)
        finally:
            await redis_client.execute_command("CLIENT", "UNPAUSE")
        events = await asyncio.gather(*calls)
        assert [offer.task_id for batch in events for offer in reservations(batch)] == ["t0", "t1"]
        waiting = await backend.waiting_tasks("support", 2)
        assert [item.task_id for item in waiting] == [f"t{n}" for n in range(8)]
    finally:
        await backend.aclose()
        await delete_prefix(redis_client, prefix)


async def test_closing_the_backend_fails_the_calls_it_has_not_answered(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice"), 0)
        await redis_client.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
        try:
            pending = asyncio.ensure_future(backend.submit(task("t1"), 1))
            await asyncio.sleep(0.1)
            await backend.aclose()
        finally:
            await redis_client.execute_command("CLIENT", "UNPAUSE")
        with pytest.raises(ConnectionError):
            await pending
    finally:
        await delete_prefix(redis_client, prefix)


async def test_a_batch_unanswered_within_the_socket_timeout_fails_and_the_next_call_reconnects(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    client = Redis.from_url(REDIS_URL, socket_timeout=0.5)
    backend = RedisBackend(client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice"), 0)
        await redis_client.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(backend.submit(task("t1"), 1), 2.5)  # the pipe's own time-out, not this one
        finally:
            await redis_client.execute_command("CLIENT", "UNPAUSE")
        assert reservations(await backend.submit(task("t2"), 2))[0].agent_id == "alice"
    finally:
        await backend.aclose()
        await client.aclose()
        await delete_prefix(redis_client, prefix)


async def test_the_pipe_times_batches_with_the_clients_default_socket_timeout(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)  # a client made without a socket_timeout of its own
    try:
        await backend.upsert_agent(agent("alice"), 0)
        default = redis_client.connection_pool.make_connection().socket_timeout
        assert default is not None
        assert backend._pipe._timeout == default
        assert backend._pipe.connection.socket_timeout is None  # while the pipe holds it
    finally:
        await backend.aclose()
        await delete_prefix(redis_client, prefix)


async def test_calls_fail_at_once_when_redis_cannot_be_reached(rules: Any) -> None:
    backend = RedisBackend.from_url("redis://127.0.0.1:9/0", rules, prefix=new_prefix())  # nothing listens there
    backend._loaded = True  # as when Redis went away after the library was loaded
    try:
        calls = [backend.submit(task(f"t{n}"), 1) for n in range(3)]
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)
        assert all(isinstance(result, ConnectionError) for result in results)
    finally:
        await backend.aclose()


async def test_a_caller_cancelled_while_its_reply_is_due_leaves_no_reply_behind(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice"), 0)
        pending = asyncio.ensure_future(backend.get_agent("alice"))
        await asyncio.sleep(0)  # the call is on the wire, its reply not read yet
        pending.cancel()
        # redis-py may finish a read it started rather than cancel it; either way the reply must not stay behind.
        with contextlib.suppress(asyncio.CancelledError):
            assert await pending is not None
        # The next caller reads its own reply, not the abandoned one.
        assert reservations(await backend.submit(task("t1"), 1))[0].agent_id == "alice"
        assert await backend.get_task("nobody") is None
    finally:
        await backend.aclose()
        await delete_prefix(redis_client, prefix)
