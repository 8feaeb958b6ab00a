"""After the run, from the case store: was every accepted contact kept, once, on a case, and assigned at most once?"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from contact_center.db import Database
from contact_center.models import Case, Channel, ChatSession, Contact

__all__ = ["Audit", "audit_store"]

_CHUNK = 1000


@dataclass(frozen=True)
class Audit:
    """The store's verdict on one run."""

    accepted: int
    stored: int
    lost: int
    duplicated: int
    accepted_twice: int
    assigned_elsewhere: int

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as plain data."""
        return dict(vars(self))


def _chunks(items: Sequence[str] | Sequence[int]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


async def audit_store(
    db: Database,
    *,
    calls: Sequence[str],
    texts: Sequence[str],
    chats: Sequence[str],
    accepted: dict[int, list[int]],
) -> Audit:
    """Check every accepted call, text and chat against the store, and every accept against its contact.

    `accepted` maps a contact id to the agents whose accept the server answered 200: more than one is a double
    assignment, and a stored agent other than the one that accepted is one too.
    """
    stored = 0
    async with db.transaction() as session:
        for channel, sids in ((Channel.VOICE, calls), (Channel.SMS, texts)):
            for chunk in _chunks(sids):
                stored += (
                    await session.scalar(
                        select(func.count(func.distinct(Contact.external_id)))
                        .join(Case, col(Case.id) == Contact.case_id)
                        .where(Contact.channel == channel, col(Contact.external_id).in_(chunk))
                    )
                    or 0
                )
        for chunk in _chunks(chats):
            stored += (
                await session.scalar(
                    select(func.count(func.distinct(ChatSession.public_id)))
                    .join(Contact, col(Contact.id) == ChatSession.contact_id)
                    .join(Case, col(Case.id) == Contact.case_id)
                    .where(col(ChatSession.public_id).in_(chunk))
                )
                or 0
            )
        duplicated = (
            await session.scalar(
                select(func.count()).select_from(
                    select(Contact.channel, Contact.external_id)
                    .group_by(Contact.channel, Contact.external_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            or 0
        )
        assigned_elsewhere = 0
        for chunk in _chunks(list(accepted)):
            for contact_id, agent_id in await session.execute(
                select(Contact.id, Contact.agent_id).where(col(Contact.id).in_(chunk))
            ):
                if agent_id not in accepted[contact_id]:
                    assigned_elsewhere += 1
    total = len(calls) + len(texts) + len(chats)
    return Audit(
        accepted=total,
        stored=stored,
        lost=total - stored,
        duplicated=duplicated,
        accepted_twice=sum(1 for agents in accepted.values() if len(agents) > 1),
        assigned_elsewhere=assigned_elsewhere,
    )
