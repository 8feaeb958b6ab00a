"""The seam between channels and the routing engine, and the dispatcher that carries the engine's decisions out.

Channel adapters (Twilio voice and SMS, email, chat, the portal) call `ContactRouter.submit` once their contact and
case are committed. The `Dispatcher` turns that into a routing task, asks the backend (in-memory or Redis) for a
decision, writes what the decision means to the case store (who answered, when, the case's assignee) and
publishes every event to the live pages. The backend decides; the case store remembers; nothing here decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from contact_center.actors import SYSTEM, Actor
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.group_commit import GroupCommit
from contact_center.hub import EventHub
from contact_center.models import (
    ActorKind,
    Agent,
    Case,
    CasePriority,
    Channel,
    Contact,
    Customer,
    EventKind,
    Queue,
    Skill,
    User,
)
from contact_center.reference_cache import ReferenceCache
from contact_center.services.agents import agent_skills
from contact_center.services.cases import Assignment, do_assign_cases, get_case
from contact_center.services.timeline import event_row, insert_events
from contact_center.settings import ConfigError, Settings
from routing.backend import RoutingBackend
from routing.errors import (
    InvalidTransition,
    ReservationConflict,
    RoutingError,
    UnknownAgent,
    UnknownTask,
    WorkflowConfigError,
)
from routing.events import (
    Event,
    TaskAbandoned,
    TaskAccepted,
    TaskCompleted,
    TaskFallback,
)
from routing.memory import MemoryBackend
from routing.models import Activity, AgentState, Task
from routing.workflows import RoutingRules, load_rules

__all__ = [
    "DEFAULT_QUEUE",
    "Accepted",
    "AcceptedHook",
    "ContactRouter",
    "Dispatcher",
    "RouteRequest",
    "build_backend",
    "check_rules",
    "contact_id_of",
    "task_id_for",
]

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "general"
# Case priority -> the engine's base priority (0-10); customer value and waiting time do the rest.
_BASE_PRIORITY = {CasePriority.LOW: 0, CasePriority.NORMAL: 3, CasePriority.HIGH: 6, CasePriority.URGENT: 9}
_TASK_PREFIX = "contact-"
# Routing batches under way at once (each a read of the store, the backend's submits and a write).
_ROUTING_WRITERS = 8
# Contacts queued again per read of the store after a restart.
_REBUILD_BATCH = 200
# Transactions writing decisions at once; each locks its cases in id order, so two never wait on each other in a
# cycle, and a few keep the store's connections busy while one batch's statements run.
_DECISION_WRITERS = 4


@dataclass(frozen=True)
class RouteRequest:
    """What routing needs to know about a contact waiting for a person."""

    contact_id: int
    case_id: int
    customer_id: int
    channel: Channel
    queue: str | None = None
    skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None
    priority: CasePriority = CasePriority.NORMAL
    attributes: dict[str, str] = field(default_factory=dict)


class ContactRouter(Protocol):
    """Hands contacts to the routing engine and takes them back."""

    async def submit(self, request: RouteRequest) -> None:
        """Queue the contact for an agent; idempotent per contact id (a retried webhook submits once)."""
        ...

    async def withdraw(self, contact_id: int, *, reason: str) -> None:
        """Take a waiting contact out of its queue (the caller hung up, the chat was closed)."""
        ...

    async def position(self, contact_id: int) -> int | None:
        """Return the contact's 1-based place in its queue, or None if it is not waiting."""
        ...


@dataclass(frozen=True)
class QueueTerms:
    """What routing reads of a queue for every contact."""

    id: int
    required_skills: dict[str, int]
    service_level_seconds: int


# Queues change rarely and are read for every contact routed: each process keeps them for a few seconds.
_QUEUES: ReferenceCache[dict[str, QueueTerms]] = ReferenceCache("queues", (Queue,))


async def queue_terms(session: AsyncSession) -> dict[str, QueueTerms]:
    """Return every queue by name, from this process's short-lived copy."""
    return await _QUEUES.get(session, _read_queues)


async def _read_queues(session: AsyncSession) -> dict[str, QueueTerms]:
    queues = (await session.scalars(select(Queue))).all()
    return {q.name: QueueTerms(q.id or 0, dict(q.required_skills), q.service_level_seconds) for q in queues}


def build_backend(settings: Settings) -> RoutingBackend:
    """Return the routing backend the settings ask for, with the workflow rules loaded."""
    rules = load_rules(settings.routing_rules) if settings.routing_rules else RoutingRules()
    if settings.redis_url:
        # Imported here so the embedded default never needs a Redis client.
        from routing.redis_backend import RedisBackend

        return RedisBackend.from_url(settings.redis_url, rules, prefix=settings.redis_prefix)
    return MemoryBackend(rules)


async def check_rules(settings: Settings, database: Database) -> None:
    """Refuse to start on workflow rules naming skills or queues the case store does not know (file:line)."""
    if settings.routing_rules is None:
        return
    async with database.transaction() as session:
        skills = set((await session.scalars(select(Skill.name))).all())
        queues = set((await session.scalars(select(Queue.name))).all()) | {DEFAULT_QUEUE}
    try:
        load_rules(settings.routing_rules, known_skills=skills, known_queues=queues)
    except WorkflowConfigError as exc:
        raise ConfigError(f"ROUTING_RULES: {exc}") from None


def task_id_for(contact_id: int) -> str:
    """Return the routing task id of a contact."""
    return f"{_TASK_PREFIX}{contact_id}"


def contact_id_of(task_id: str) -> int | None:
    """Return the contact id behind a routing task id."""
    raw = task_id.removeprefix(_TASK_PREFIX)
    return int(raw) if task_id.startswith(_TASK_PREFIX) and raw.isdigit() else None


def _epoch(instant: datetime) -> float:
    return instant.timestamp()


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Accepted:
    """An agent took a contact: what a channel needs to connect them (a call is bridged, say)."""

    contact_id: int
    channel: Channel
    external_id: str
    agent_id: int
    reservation_id: str


AcceptedHook = Callable[[Accepted], Awaitable[None]]


@dataclass(frozen=True)
class _Decisions:
    """One caller's decisions to write: the events that change the store, and why a contact left (if it did)."""

    events: tuple[Event, ...]
    reason: str | None


def _writes_store(event: Event) -> bool:
    """Tell whether an event changes the case store (the rest are only published)."""
    if isinstance(event, TaskFallback):
        return event.reason == "unserviceable" or event.action != "queue"
    return isinstance(event, TaskAccepted | TaskCompleted | TaskAbandoned)


# Who signs the timeline when an agent accepts: agent id -> (user id, display name). Read for every accepted
# contact and changed rarely, so each process keeps it for a few seconds like the queues.
_AGENT_USERS: ReferenceCache[dict[int, tuple[int, str]]] = ReferenceCache("agent_users", (User,))


async def _read_agent_users(session: AsyncSession) -> dict[int, tuple[int, str]]:
    rows = await session.execute(
        select(User.agent_id, User.id, User.display_name).where(col(User.agent_id).is_not(None)).order_by(col(User.id))
    )
    users: dict[int, tuple[int, str]] = {}
    for agent_id, user_id, name in rows:
        # An agent with several sign-ins is signed for by the oldest, whichever of them pressed accept.
        users.setdefault(agent_id, (user_id, name))
    return users


# Each contact, its customer's value and the agent who last served them, for a whole routed batch at once. Built
# once: an aliased entity copies every column of its table, which costs more than the query's round trip.
_SERVED = aliased(Contact, name="served")
_LAST_AGENT = (
    select(_SERVED.agent_id)
    .where(_SERVED.customer_id == Contact.customer_id, col(_SERVED.agent_id).is_not(None))
    .order_by(col(_SERVED.started_at).desc())
    .limit(1)
    .correlate(Contact)
    .scalar_subquery()
)
_WAITING_CONTACTS = (
    select(Contact, Customer.value_score, _LAST_AGENT)
    .join(Customer, col(Customer.id) == Contact.customer_id)
    .where(col(Contact.id).in_(bindparam("ids", expanding=True)))
)

# A decisions batch's contacts with their cases locked in case id order, and the contacts whose case it leaves alone.
_DECIDED_WITH_CASES = (
    select(Contact, Case)
    .join(Case, col(Case.id) == Contact.case_id)
    .where(col(Contact.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Case.id), col(Contact.id))
    .with_for_update(of=Case)
)
_DECIDED_CONTACTS = select(Contact).where(col(Contact.id).in_(bindparam("ids", expanding=True)))


class Dispatcher:
    """The app's side of routing: builds tasks and agents from the case store and applies decisions to it."""

    def __init__(self, backend: RoutingBackend, database: Database, clock: Clock, hub: EventHub) -> None:
        self.backend = backend
        self.database = database
        self.clock = clock
        self.hub = hub
        # Channels that must act when an agent accepts (Twilio bridges the waiting call to the agent).
        self.accepted_hooks: list[AcceptedHook] = []
        self._submits: GroupCommit[RouteRequest, None] = GroupCommit(
            self.submit_many, name="routing", writers=_ROUTING_WRITERS
        )
        # Accepts, completes, rejects and timer ticks arrive one by one; concurrent ones share a transaction.
        self._decisions: GroupCommit[_Decisions, list[Accepted]] = GroupCommit(
            self._write_decisions, name="decisions", writers=_DECISION_WRITERS
        )

    # Channels -----------------------------------------------------------------------------------------------

    async def submit(self, request: RouteRequest) -> None:
        """Queue a contact; a second submit of the same contact changes nothing.

        Concurrent submits are routed together (`submit_many`, one batch at a time); each caller gets its own
        outcome, a contact that does not exist fails only its own submit.
        """
        await self._submits.put(request)

    async def submit_many(self, requests: Sequence[RouteRequest]) -> list[None]:
        """Queue several contacts: one read of the store for all, the backend's submits, one write of the decisions.

        A contact already queued, answered or ended is left alone; one that does not exist raises NotFound (and the
        others are not routed: `submit` then routes them one by one).
        """
        # A contact submitted again (a retried webhook) is refused by the engine as already there: one pipelined
        # round trip for the whole batch instead of a look-up and a submit per contact.
        waiting: dict[int, RouteRequest] = {}
        for request in requests:
            waiting.setdefault(request.contact_id, request)
        tasks = await self._tasks(waiting)
        events: list[Event] = []
        refused: list[RoutingError] = []
        for task, outcome in zip(tasks, await self.backend.submit_many(tasks, self.now()), strict=True):
            if isinstance(outcome, InvalidTransition) and await self.backend.get_task(task.id) is not None:
                continue  # already queued
            if isinstance(outcome, RoutingError):
                refused.append(outcome)
            else:
                events.extend(outcome)
        # What the engine decided for the others stands, so it is written before a refusal is reported.
        await self._apply(events)
        if refused:
            raise refused[0]
        return [None] * len(requests)

    async def _tasks(self, waiting: dict[int, RouteRequest]) -> list[Task]:
        """Build the routing tasks of contacts still waiting, in one round trip to the store."""
        tasks: list[Task] = []
        async with self.database.transaction() as session:
            rows = await session.execute(_WAITING_CONTACTS, {"ids": list(waiting)})
            found = {contact.id: (contact, value, agent) for contact, value, agent in rows.all()}
            missing = [contact_id for contact_id in waiting if contact_id not in found]
            if missing:
                raise NotFound(f"contact {missing[0]} does not exist", resource="contact")
            queues = await queue_terms(session)
            for contact_id, request in waiting.items():
                contact, value_score, last_agent_id = found[contact_id]
                if contact.answered_at is not None or contact.ended_at is not None:
                    continue
                queue_name = request.queue or DEFAULT_QUEUE
                queue = queues.get(queue_name)
                if queue is not None and contact.queue_id != queue.id:
                    contact.queue_id = queue.id
                elif queue is None and contact.queue_name != queue_name:
                    contact.queue_name = queue_name  # the store's only record of this queue, for `rebuild`
                last = {"last_agent": str(last_agent_id)} if last_agent_id else {}
                tasks.append(
                    Task(
                        id=task_id_for(contact_id),
                        queue=queue_name,
                        channel=request.channel.value,
                        created_at=_epoch(contact.started_at),
                        required_skills={**(queue.required_skills if queue else {}), **request.skills},
                        language=request.language,
                        value=value_score,
                        base_priority=_BASE_PRIORITY[request.priority],
                        sla_target=float(queue.service_level_seconds) if queue else 20.0,
                        attributes={**request.attributes, **last},
                    )
                )
        return tasks

    async def withdraw(self, contact_id: int, *, reason: str) -> None:
        """Take a waiting contact out of routing; a contact no longer waiting is left alone."""
        try:
            events = await self.backend.abandon(task_id_for(contact_id), self.now())
        except (UnknownTask, InvalidTransition):
            return
        await self._apply(events, reason=reason)

    async def position(self, contact_id: int) -> int | None:
        """Return the contact's place in its queue."""
        return await self.backend.position(task_id_for(contact_id))

    # Agents ------------------------------------------------------------------------------------------------

    async def sync_agents(self, agent_ids: Sequence[int] | None = None) -> None:
        """Load agents' profiles (skills, languages, capacity) from the store into routing; disabled ones leave.

        An agent leaves routing when it is disabled, or when it has sign-ins and every one of them is disabled:
        nobody could answer its offers any more.
        """
        async with self.database.transaction() as session:
            query = select(Agent)
            if agent_ids is not None:
                query = query.where(col(Agent.id).in_(list(agent_ids)))
            agents = list((await session.scalars(query)).all())
            ids = [a.id or 0 for a in agents]
            skills = await agent_skills(session, ids)
            teams = {a.id: a.team_id for a in agents}
            signed: dict[int, bool] = {}
            for user_agent, user_active in await session.execute(
                select(User.agent_id, User.active).where(col(User.agent_id).in_(ids))
            ):
                signed[user_agent] = signed.get(user_agent, False) or user_active
        now = self.now()
        for agent in agents:
            agent_id = str(agent.id)
            if not agent.active or not signed.get(agent.id or 0, True):
                # An agent never loaded into routing, or already gone, has nothing to leave.
                with contextlib.suppress(UnknownAgent):
                    await self._apply(await self.backend.remove_agent(agent_id, now))
                continue
            current = await self.backend.get_agent(agent_id)
            state = AgentState(
                id=agent_id,
                activity=current.activity if current else Activity.OFFLINE,
                skills=skills[agent.id or 0],
                languages=frozenset(agent.languages),
                team=str(teams[agent.id]) if teams[agent.id] is not None else None,
                capacity=dict(agent.capacity),
                call_blocks_other_channels=agent.voice_blocks_others,
            )
            await self._apply(await self.backend.upsert_agent(state, now))

    async def set_activity(self, agent_id: int, activity: Activity) -> AgentState:
        """Apply an activity the agent (or a supervisor) chose."""
        if activity not in (Activity.AVAILABLE, Activity.AWAY, Activity.OFFLINE):
            raise InvalidInput("choose available, away or offline", field="activity")
        if await self.backend.get_agent(str(agent_id)) is None:
            await self.sync_agents([agent_id])
        try:
            await self._apply(await self.backend.set_activity(str(agent_id), activity, self.now()))
        except UnknownAgent:
            raise NotFound(f"agent {agent_id} is not active", resource="agent") from None
        state = await self.backend.get_agent(str(agent_id))
        assert state is not None
        return state

    async def accept(self, reservation_id: str, agent_id: int) -> int:
        """Accept an offer for the agent; return the contact id. Expired or someone else's: 409."""
        events = await self._answer_offer(self.backend.accept, reservation_id, agent_id)
        accepted = next(e for e in events if isinstance(e, TaskAccepted))
        contact_id = contact_id_of(accepted.task_id)
        assert contact_id is not None
        return contact_id

    async def reject(self, reservation_id: str, agent_id: int) -> None:
        """Decline an offer; the contact goes to someone else."""
        await self._answer_offer(self.backend.reject, reservation_id, agent_id)

    async def _answer_offer(
        self, answer: Callable[[str, str, float], Awaitable[list[Event]]], reservation_id: str, agent_id: int
    ) -> list[Event]:
        try:
            events = await answer(reservation_id, str(agent_id), self.now())
        except ReservationConflict as exc:
            raise Conflict(str(exc), reservation_id=reservation_id) from None
        await self._apply(events)
        return events

    async def complete(self, contact_id: int, agent_id: int, wrap_up: float = 0.0) -> None:
        """Finish the agent's work on a contact; the agent wraps up, then takes new work."""
        view = await self.backend.get_task(task_id_for(contact_id))
        if view is None:
            raise NotFound(f"contact {contact_id} is not being handled", resource="contact")
        if view.agent_id != str(agent_id):
            raise Conflict(f"contact {contact_id} is handled by another agent")
        try:
            events = await self.backend.complete(view.task.id, self.now(), wrap_up)
        except InvalidTransition as exc:
            raise Conflict(str(exc)) from None
        await self._apply(events)

    async def tick(self) -> list[Event]:
        """Fire every due offer, workflow and wrap-up timeout."""
        events = await self.backend.tick(self.now())
        await self._apply(events)
        return events

    async def aclose(self) -> None:
        """Finish the submits and the decision writes under way (at shutdown)."""
        await self._submits.aclose()
        await self._decisions.aclose()

    async def close(self) -> None:
        """Release the backend's connections (a Redis client)."""
        close = getattr(self.backend, "aclose", None)
        if close is not None:
            await close()

    async def run_timers(self, idle: float = 1.0) -> None:
        """Fire timeouts as they fall due, forever (a background task of the app)."""
        while True:
            try:
                await self.tick()
                due = await self.backend.next_due()
            except Exception:
                log.exception("routing timers failed; retrying")
                due = None
            delay = idle if due is None else min(idle, max(due - self.now(), 0.01))
            await asyncio.sleep(delay)

    async def rebuild(self) -> int:
        """Queue again every contact the store shows waiting (after a restart); return how many."""
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    select(Contact, func.coalesce(Queue.name, Contact.queue_name))
                    .join(Queue, col(Queue.id) == Contact.queue_id, isouter=True)
                    .where(
                        col(Contact.answered_at).is_(None),
                        col(Contact.ended_at).is_(None),
                        col(Contact.queue_id).is_not(None) | col(Contact.queue_name).is_not(None),
                    )
                )
            ).all()
            requests = []
            for contact, queue_name in rows:
                case = await get_case(session, contact.case_id)
                requests.append(
                    RouteRequest(
                        contact_id=contact.id or 0,
                        case_id=case.id or 0,
                        customer_id=contact.customer_id,
                        channel=contact.channel,
                        queue=queue_name,
                        skills=dict(case.required_skills),
                        language=case.language,
                        priority=case.priority,
                    )
                )
        for start in range(0, len(requests), _REBUILD_BATCH):
            await self.submit_many(requests[start : start + _REBUILD_BATCH])
        return len(requests)

    # Decisions -> case store and live pages ---------------------------------------------------------------

    def now(self) -> float:
        """Return the clock as the engine counts time: seconds since the epoch."""
        return _epoch(self.clock.now())

    async def _apply(self, events: Sequence[Event], *, reason: str | None = None) -> None:
        """Write what the engine decided to the case store, then publish it.

        The write joins those of concurrent callers in one transaction (`_write_decisions`); a batch that fails is
        written again caller by caller, so each gets its own error. It is shielded: the engine has decided already,
        so a caller that stops waiting (a request cancelled) must not take the store's record of it away.
        """
        stored = _Decisions(tuple(e for e in events if _writes_store(e)), reason)
        accepted = await asyncio.shield(self._decisions.put(stored)) if stored.events else []
        for published in events:
            self.hub.publish({"topic": "routing", **published.as_dict()})
        for taken in accepted:
            for hook in self.accepted_hooks:
                try:
                    await hook(taken)
                except Exception:
                    # The assignment stands (it is committed); the agent sees the contact and can call back.
                    log.exception("accept hook failed for contact %s", taken.contact_id)

    async def _write_decisions(self, batch: Sequence[_Decisions]) -> list[list[Accepted]]:
        """Write several callers' decisions in one transaction, in order; return each caller's accepted contacts."""
        owners = [n for n, decisions in enumerate(batch) for _ in decisions.events]
        async with self.database.transaction() as session:
            taken = await self._store(session, [(e, d.reason) for d in batch for e in d.events])
        accepted: list[list[Accepted]] = [[] for _ in batch]
        for owner, one in zip(owners, taken, strict=True):
            if one is not None:
                accepted[owner].append(one)
        return accepted

    async def _store(self, session: AsyncSession, decided: list[tuple[Event, str | None]]) -> list[Accepted | None]:
        """Apply events to the store as if one by one, with a fixed number of statements for the whole list.

        One read of the contacts and their cases (locked in case id order, so concurrent batches in other processes
        cannot deadlock), the accepting agents' users from this process's copy, one INSERT of every timeline event,
        and the commit's flush of the rest (one UPDATE per table and set of changed columns).
        """
        ids = [contact_id_of(getattr(event, "task_id", "")) for event, _ in decided]
        contact_ids = set(ids) - {None}
        # A completion changes only its contact; every other event writes to the case, which is locked first.
        with_case = {i for i, (event, _) in zip(ids, decided, strict=True) if not isinstance(event, TaskCompleted)}
        with_case.discard(None)
        contacts: dict[int, Contact] = {}
        cases: dict[int, Case] = {}
        if with_case:
            rows = await session.execute(_DECIDED_WITH_CASES, {"ids": list(with_case)})
            for contact, case in rows:
                contacts[contact.id or 0] = contact
                cases[case.id or 0] = case
        rest = contact_ids - contacts.keys()
        if rest:
            contacts.update(
                {c.id or 0: c for c in (await session.scalars(_DECIDED_CONTACTS, {"ids": list(rest)})).all()}
            )
        users = (
            await _AGENT_USERS.get(session, _read_agent_users)
            if any(isinstance(event, TaskAccepted) for event, _ in decided)
            else {}
        )
        taken: list[Accepted | None] = []
        # Consecutive acceptances are assigned together; a note between them is written in its place, so that
        # the timeline reads as if each event had been applied alone.
        assignments: list[Assignment] = []
        events: list[dict[str, Any]] = []
        for contact_id, (event, reason) in zip(ids, decided, strict=True):
            found = contacts.get(contact_id) if contact_id is not None else None
            if found is None:
                taken.append(None)
                continue
            contact, at = found, _instant(event.at)
            if isinstance(event, TaskAccepted):
                agent_id = int(event.agent_id)
                contact.agent_id = agent_id
                contact.answered_at = at
                contact.wait_seconds = event.waited
                user = users.get(agent_id)
                actor = Actor(ActorKind.USER, user[0], user[1]) if user else SYSTEM
                assignments.append(Assignment(cases[contact.case_id], agent_id, actor, at))
                taken.append(
                    Accepted(contact.id or 0, contact.channel, contact.external_id, agent_id, event.reservation_id)
                )
                continue
            taken.append(None)
            if isinstance(event, TaskCompleted):
                contact.ended_at = at
                contact.handle_seconds = event.handle_time
                continue
            if assignments:
                await do_assign_cases(session, assignments, events)
                assignments = []
            events.extend(_note(cases[contact.case_id], contact, event, reason, at))
        if assignments:
            await do_assign_cases(session, assignments, events)
        await insert_events(session, events)
        return taken


def _note(case: Case, contact: Contact, event: Event, reason: str | None, at: datetime) -> list[dict[str, Any]]:
    """Return the timeline event of a contact that left the queue without an agent (abandoned, or a fallback)."""
    assert case.id is not None
    if isinstance(event, TaskAbandoned):
        contact.ended_at = at
        contact.disposition = reason or "abandoned"
        body = f"left the queue after {event.waited:.0f} s"
        data: dict[str, Any] = {"routing": "abandoned", "reason": reason or "abandoned"}
    elif isinstance(event, TaskFallback) and event.reason == "unserviceable":
        # Accepted all the same (never lose a contact), but flagged on the case for a supervisor to act on.
        if event.action != "queue":
            contact.disposition = event.action
        body = f"no agent could ever serve this contact (skills, language or channel); sent to {event.action}"
        data = {"routing": "unserviceable", "action": event.action}
    elif isinstance(event, TaskFallback):
        contact.disposition = event.action
        body = f"no agent answered; sent to {event.action} ({event.reason})"
        data = {"routing": "fallback", "action": event.action, "reason": event.reason}
    else:
        return []
    case.updated_at = at
    return [event_row(case.id, EventKind.NOTE, SYSTEM, at, body=body, contact_id=contact.id, data=data)]
