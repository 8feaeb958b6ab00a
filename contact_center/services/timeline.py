"""Writing timeline events: the only way a case's history grows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.actors import Actor
from contact_center.models import Case, CaseEvent, EventKind

__all__ = ["add_event", "new_event", "record_event"]


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
    return CaseEvent(
        case_id=case.id,
        kind=kind,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name,
        contact_id=contact_id,
        body=body,
        data=data or {},
        public=public,
        created_at=now,
    )


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
