"""Property tests: random sequences of decisions never break the engine's promises.

After every step: no task is offered or assigned to two agents, no agent holds more than its capacity, loads add
up, engine-set activities match the load, and no task waits while a free agent qualifies for it (checked by brute force
over every agent, not through the engine's indexes).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from routing.engine import RoutingEngine, RoutingSettings
from routing.errors import ReservationGone
from routing.events import Event, TaskReserved
from routing.matching import Strategy
from routing.models import CALL_CHANNEL, Activity, AgentState, Task, TaskStatus
from routing.workflows import parse_rules
from tests.routing.factories import RULES_YAML

SKILLS = ("billing", "support")
CHANNELS = ("voice", "chat", "email")
AGENT_IDS = tuple(f"a{i}" for i in range(6))

skill_levels = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=2)
capacities = st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3), min_size=1, max_size=3)


class RoutingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = RoutingEngine(
            parse_rules(RULES_YAML),
            RoutingSettings(reservation_timeout=5, max_consecutive_misses=2, lookahead=2),
        )
        self.now = 0.0
        self.counter = 0
        self.offers_seen: dict[str, str] = {}

    def record(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, TaskReserved):
                # Reservation ids are never reused, so an old offer can never be mistaken for a new one.
                assert event.reservation_id not in self.offers_seen
                self.offers_seen[event.reservation_id] = event.task_id

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        skills=skill_levels,
        capacity=capacities,
        team=st.sampled_from([None, "billing"]),
        spanish=st.booleans(),
        activity=st.sampled_from([Activity.AVAILABLE, Activity.AWAY, Activity.OFFLINE]),
    )
    def upsert_agent(
        self,
        agent_id: str,
        skills: dict[str, int],
        capacity: dict[str, int],
        team: str | None,
        spanish: bool,
        activity: Activity,
    ) -> None:
        current = self.engine.get_agent(agent_id)
        if current is not None:
            # Lowering capacity below the current load is allowed but makes the capacity check meaningless.
            capacity = {**capacity, **{ch: max(capacity.get(ch, 0), n) for ch, n in current.load.items()}}
        state = AgentState(
            id=agent_id,
            activity=activity,
            skills=skills,
            capacity=capacity,
            team=team,
            languages=frozenset({"en", "es"} if spanish else {"en"}),
        )
        self.record(self.engine.upsert_agent(state, self.now))

    @rule(
        queue=st.sampled_from(["billing", "support", "other"]),
        channel=st.sampled_from(CHANNELS),
        required=skill_levels,
        value=st.integers(0, 100),
        age=st.floats(0, 100),
        language=st.sampled_from([None, "en", "es"]),
        last_agent=st.sampled_from([None, *AGENT_IDS]),
    )
    def submit(
        self,
        queue: str,
        channel: str,
        required: dict[str, int],
        value: int,
        age: float,
        language: str | None,
        last_agent: str | None,
    ) -> None:
        self.counter += 1
        task = Task(
            id=f"t{self.counter}",
            queue=queue,
            channel=channel,
            created_at=self.now - age,
            required_skills=required,
            value=value,
            language=language,
            attributes={"last_agent": last_agent} if last_agent else {},
        )
        self.record(self.engine.submit(task, self.now))

    def open_reservations(self) -> list[tuple[str, str]]:
        return sorted(
            (view.reservation.id, view.reservation.agent_id)
            for task_id in list(self.engine._tasks)
            if (view := self.engine.get_task(task_id)) is not None and view.reservation is not None
        )

    @precondition(lambda self: self.open_reservations())
    @rule(data=st.data(), twice=st.booleans())
    def accept(self, data: st.DataObject, twice: bool) -> None:
        reservation_id, agent_id = data.draw(st.sampled_from(self.open_reservations()))
        self.record(self.engine.accept(reservation_id, agent_id, self.now))
        if twice:
            with pytest.raises(ReservationGone):
                self.engine.accept(reservation_id, agent_id, self.now)

    @precondition(lambda self: self.open_reservations())
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        reservation_id, agent_id = data.draw(st.sampled_from(self.open_reservations()))
        self.record(self.engine.reject(reservation_id, agent_id, self.now))

    def tasks_in(self, status: TaskStatus) -> list[str]:
        return sorted(task_id for task_id, record in self.engine._tasks.items() if record.status is status)

    @precondition(lambda self: self.tasks_in(TaskStatus.ASSIGNED))
    @rule(data=st.data(), wrap_up=st.sampled_from([0.0, 0.0, 3.0]))
    def complete(self, data: st.DataObject, wrap_up: float) -> None:
        task_id = data.draw(st.sampled_from(self.tasks_in(TaskStatus.ASSIGNED)))
        self.record(self.engine.complete(task_id, self.now, wrap_up))

    @precondition(lambda self: self.tasks_in(TaskStatus.WAITING) or self.tasks_in(TaskStatus.RESERVED))
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(self.tasks_in(TaskStatus.WAITING) + self.tasks_in(TaskStatus.RESERVED)))
        self.record(self.engine.abandon(task_id, self.now))

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        activity=st.sampled_from([Activity.AVAILABLE, Activity.AWAY, Activity.OFFLINE]),
    )
    def set_activity(self, agent_id: str, activity: Activity) -> None:
        if self.engine.get_agent(agent_id) is not None:
            self.record(self.engine.set_activity(agent_id, activity, self.now))

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def remove_agent(self, agent_id: str) -> None:
        state = self.engine.get_agent(agent_id)
        if state is not None and not state.load:
            self.record(self.engine.remove_agent(agent_id, self.now))

    @rule(seconds=st.sampled_from([0.5, 2.0, 6.0, 15.0, 40.0, 100.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.record(self.engine.tick(self.now))

    @invariant()
    def nothing_double_assigned_and_capacity_respected(self) -> None:
        engine = self.engine
        held: Counter[tuple[str, str]] = Counter()
        for record in engine._tasks.values():
            if record.status is TaskStatus.WAITING:
                assert record.agent_id is None
                assert record.reservation is None
            else:
                assert record.agent_id is not None
                held[(record.agent_id, record.task.channel)] += 1
        reserved_tasks = [r.task_id for r in engine._reservations.values()]
        assert len(reserved_tasks) == len(set(reserved_tasks))
        for agent in engine._agents.values():
            for channel, load in agent.load.items():
                assert 0 <= load <= agent.capacity.get(channel, 0), (agent.id, channel, load)
                wrapping = agent.wrap_slots.count(channel)
                assert load == held[(agent.id, channel)] + wrapping, (agent.id, channel)

    @invariant()
    def no_task_waits_while_a_free_agent_qualifies(self) -> None:
        engine = self.engine
        for record in engine._tasks.values():
            if record.status is not TaskStatus.WAITING:
                continue
            requirement = record.requirement
            for agent in engine._agents.values():
                if agent.id in record.excluded or agent.activity not in (Activity.AVAILABLE, Activity.BUSY):
                    continue
                channel = requirement.channel
                if agent.load.get(channel, 0) >= agent.capacity.get(channel, 0):
                    continue
                if agent.call_blocks and channel != CALL_CHANNEL and agent.load.get(CALL_CHANNEL, 0) > 0:
                    continue
                assert not agent.qualifies(requirement), (record.task.id, agent.id)

    @invariant()
    def activity_matches_load(self) -> None:
        for agent in self.engine._agents.values():
            if agent.activity is Activity.BUSY:
                assert agent.total_load > 0
            if agent.activity is Activity.AVAILABLE:
                assert agent.total_load == 0


RoutingMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestRoutingMachine = RoutingMachine.TestCase


class LongestIdleMachine(RoutingMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = RoutingEngine(
            parse_rules(RULES_YAML),
            RoutingSettings(reservation_timeout=5, strategy=Strategy.LONGEST_IDLE, count_rejections_as_misses=True),
        )


LongestIdleMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLongestIdleMachine = LongestIdleMachine.TestCase
