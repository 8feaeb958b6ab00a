"""The app's intake queue: contacts from concurrent webhooks taken in together, one transaction per batch.

Each channel handler awaits `IntakeQueue.receive(intake, at)` instead of opening a transaction of its own; under
load the queue writes what arrived together through `receive_contacts` (a fixed number of statements per batch),
and each handler gets its own `ContactResult` or exception (see `contact_center.group_commit`).

A channel that must write more in the same transaction as the contact (a chat's session and first message) hands
in `then`: it runs in the batch's transaction right after the contacts are made, so the contact and the rest
commit or roll back together, as they did in the channel's own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db import Database
from contact_center.group_commit import GroupCommit
from contact_center.services.contacts import (
    ContactIntake,
    ContactResult,
    check_intake,
    do_receive_contacts,
    receive_contacts,
)

__all__ = ["IntakeQueue", "Then"]

#: More to write in the contact's own transaction, once the contact and its case exist.
Then = Callable[[AsyncSession, ContactResult], Awaitable[None]]

# `receive_contacts` costs a fixed number of statements per batch, so large batches pay; a few are written at once
# (each holds one pooled connection) so PostgreSQL is kept busy while one waits on a round trip. A batch's
# transaction holds its rows' locks (a customer's open case) only for those few statements.
BATCH_LIMIT = 64
WRITERS = 4


@dataclass(frozen=True)
class _Arrival:
    intake: ContactIntake
    at: datetime
    then: Then | None


class IntakeQueue:
    """Takes in the app's inbound contacts in batches (group commit)."""

    def __init__(self, db: Database, *, region: str = "US", limit: int = BATCH_LIMIT, writers: int = WRITERS) -> None:
        self.db = db
        self.region = region
        self.batches: GroupCommit[_Arrival, ContactResult] = GroupCommit(
            self._write, name="intake", limit=limit, writers=writers
        )

    async def receive(self, intake: ContactIntake, at: datetime, *, then: Then | None = None) -> ContactResult:
        """Record a contact and its case (idempotent per external id), together with whatever arrives with it."""
        check_intake(intake)
        return await self.batches.put(_Arrival(intake, at, then))

    async def aclose(self) -> None:
        """Finish the batches under way (at shutdown)."""
        await self.batches.aclose()

    async def _write(self, arrivals: Sequence[_Arrival]) -> list[ContactResult]:
        items = [(a.intake, a.at) for a in arrivals]
        if all(a.then is None for a in arrivals):
            return await receive_contacts(self.db, items, region=self.region)
        async with self.db.transaction() as session:
            results = await do_receive_contacts(session, items, region=self.region)
            for arrival, result in zip(arrivals, results, strict=True):
                if arrival.then is not None:
                    await arrival.then(session, result)
        return results
