"""Writing timeline events: the only way a case's history grows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.actors import Actor
from contact_center.models import Case, CaseEvent, EventKind

__all__ = ["add_event", "event_row", "insert_events", "new_event", "record_event"]

_EVENTS = CaseEvent.__table__  # type: ignore[attr-defined]


def event_row(
    case_id: int,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    contact_id: int | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """Return the column values of one timeline event (what `new_event` builds and `insert_events` writes)."""
    return {
        "case_id": case_id,
        "kind": kind,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "contact_id": contact_id,
        "body": body,
        "data": data or {},
        "public": public,
        "created_at": now,
    }


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write timeline events, in the order given, in one statement (the set-based intake path; no ids read back)."""
    if rows:
        await session.execute(insert(_EVENTS), rows)


def new_event(
    case: Case,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    contact_id: int | None = None,
    public: bool = False,
) -> CaseEvent:
    """Return an event of the case's timeline, not yet in any session (the caller adds it when it may be written)."""
    assert case.id is not None, "flush the case before recording events on it"
    return CaseEvent(**event_row(case.id, kind, actor, now, body=body, data=data, contact_id=contact_id, public=public))


def add_event(
    session: AsyncSession,
    case: Case,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    contact_id: int | None = None,
    public: bool = False,
) -> CaseEvent:
    """Add an event to the case's timeline and touch the case, without flushing.

    The event is written with the transaction's next flush, together with every other event added since, in
    one INSERT. Use `record_event` when the caller needs the id at once.
    """
    event = new_event(case, kind, actor, now, body=body, data=data, contact_id=contact_id, public=public)
    session.add(event)
    case.updated_at = now
    return event


async def record_event(
    session: AsyncSession,
    case: Case,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    contact_id: int | None = None,
    public: bool = False,
) -> CaseEvent:
    """Add an event to the case's timeline in the caller's transaction, touch the case and flush (the id is set)."""
    event = add_event(session, case, kind, actor, now, body=body, data=data, contact_id=contact_id, public=public)
    await session.flush()
    return event
