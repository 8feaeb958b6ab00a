"""Writing rows that a unique constraint guards: a duplicate becomes a Conflict naming it, not a 500.

The flush runs in a savepoint, so the database decides (two requests racing for one name both pass a read-first
check) and the caller's transaction is still usable when it refuses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.errors import Conflict

__all__ = ["flush_or_conflict"]


async def flush_or_conflict(session: AsyncSession, message: str, **details: Any) -> None:
    """Flush the session's pending rows; raise Conflict(message, **details) if one breaks a unique constraint."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(message, **details) from exc
