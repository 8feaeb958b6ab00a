"""Writing timeline events: the only way a case's history grows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.actors import Actor
from contact_center.models import Case, CaseEvent, EventKind

__all__ = ["record_event"]


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
    """Add an event to the case's timeline in the caller's transaction and touch the case."""
    assert case.id is not None, "flush the case before recording events on it"
    event = CaseEvent(
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
    session.add(event)
    case.updated_at = now
    await session.flush()
    return event
