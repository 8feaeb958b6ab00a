"""The reads a batch of contacts needs, each one query for the whole batch whatever its size.

`services.contacts` asks these once per batch, then decides every item in memory. A key of several columns is
asked as one `IN` list per column, and the rows that match no key whole are dropped here: SQLite answers a
row-value `(a, b) IN (VALUES ...)` with a scan of the table, but each column's `IN` with its index.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select

from contact_center.models import Case, CaseStatus, Channel, Contact, Customer, Identity, IdentityKind, Queue

__all__ = [
    "JOINABLE",
    "ThreadCase",
    "contacts_by_external_id",
    "customers_by_address",
    "existing_queues",
    "hinted_cases",
    "thread_cases",
]

# Cases a new contact on the same thread may join; a resolved one is reopened by it, a closed one is not.
JOINABLE = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.ON_HOLD, CaseStatus.RESOLVED)


@dataclass(frozen=True)
class ThreadCase:
    """The latest contact of a thread on one case: what a new contact on that thread would continue."""

    channel: Channel
    thread_key: str
    customer_id: int
    started_at: datetime
    contact_id: int
    case: Case


# The queries are built once, with their lists as parameters: building one (the thread query above all, with its
# window and subquery) and its cache key costs more CPU than running it, and intake runs them for every batch.
_CONTACTS_BY_EXTERNAL_ID = (
    select(Contact, Case, Customer)
    .join(Case, col(Case.id) == Contact.case_id)
    .join(Customer, col(Customer.id) == Case.customer_id)
    .where(
        col(Contact.channel).in_(bindparam("channels", expanding=True)),
        col(Contact.external_id).in_(bindparam("ids", expanding=True)),
    )
)
_CUSTOMERS_BY_ADDRESS = (
    select(Identity.kind, Identity.address, Customer)
    .join(Customer, col(Customer.id) == Identity.customer_id)
    .where(
        col(Identity.kind).in_(bindparam("kinds", expanding=True)),
        col(Identity.address).in_(bindparam("addresses", expanding=True)),
    )
)


def _thread_cases_query() -> Select[Any]:
    joinable = col(Case.status).in_(JOINABLE)
    ranked = (
        select_columns(
            col(Contact.channel).label("channel"),
            col(Contact.thread_key).label("thread_key"),
            col(Contact.customer_id).label("customer_id"),
            col(Contact.started_at).label("started_at"),
            col(Contact.id).label("contact_id"),
            col(Contact.case_id).label("case_id"),
            func.row_number()
            .over(
                partition_by=(
                    col(Contact.channel),
                    col(Contact.thread_key),
                    col(Contact.customer_id),
                    case((joinable, 0), else_=col(Case.id)),
                ),
                order_by=(col(Contact.started_at).desc(), col(Contact.id).desc()),
            )
            .label("rank"),
        )
        .join(Case, col(Case.id) == Contact.case_id)
        .where(
            col(Contact.channel).in_(bindparam("channels", expanding=True)),
            col(Contact.thread_key).in_(bindparam("threads", expanding=True)),
            col(Contact.customer_id).in_(bindparam("customers", expanding=True)),
            or_(joinable, col(Case.id).in_(bindparam("hinted", expanding=True))),
            col(Case.merged_into_id).is_(None),
        )
        .subquery()
    )
    return (
        select_columns(
            ranked.c.channel, ranked.c.thread_key, ranked.c.customer_id, ranked.c.started_at, ranked.c.contact_id, Case
        )
        .join(Case, col(Case.id) == ranked.c.case_id)
        .where(ranked.c.rank == 1)
    )


_THREAD_CASES = _thread_cases_query()


async def contacts_by_external_id(
    session: AsyncSession, keys: Collection[tuple[Channel, str]]
) -> dict[tuple[Channel, str], tuple[Contact, Case, Customer]]:
    """Return the stored contacts among (channel, external id) keys, with their case and the case's customer."""
    if not keys:
        return {}
    rows = await session.execute(
        _CONTACTS_BY_EXTERNAL_ID,
        {"channels": list({channel for channel, _ in keys}), "ids": list({external_id for _, external_id in keys})},
    )
    found = {(contact.channel, contact.external_id): (contact, case_, customer) for contact, case_, customer in rows}
    return {key: row for key, row in found.items() if key in keys}


async def customers_by_address(
    session: AsyncSession, keys: Collection[tuple[IdentityKind, str]]
) -> dict[tuple[IdentityKind, str], Customer]:
    """Return the customer each known (kind, normalised address) belongs to, following merges.

    One query finds identities and customers together; a merged customer costs one more per level of merging.
    """
    if not keys:
        return {}
    rows = await session.execute(
        _CUSTOMERS_BY_ADDRESS,
        {"kinds": list({kind for kind, _ in keys}), "addresses": list({address for _, address in keys})},
    )
    found = {(IdentityKind(kind), address): customer for kind, address, customer in rows}
    found = {key: customer for key, customer in found.items() if key in keys}
    by_id = {customer.id: customer for customer in found.values()}
    wanted = {c.merged_into_id for c in by_id.values() if c.merged_into_id is not None} - by_id.keys()
    while wanted:
        for customer in await session.scalars(select(Customer).where(col(Customer.id).in_(wanted))):
            by_id[customer.id] = customer
        wanted = {c.merged_into_id for c in by_id.values() if c.merged_into_id is not None} - by_id.keys()

    def final(customer: Customer) -> Customer:
        while customer.merged_into_id is not None:
            customer = by_id[customer.merged_into_id]
        return customer

    return {key: final(customer) for key, customer in found.items()}


async def hinted_cases(session: AsyncSession, case_ids: Collection[int]) -> dict[int, Case]:
    """Return the cases the channels named, by id (a missing id is simply absent)."""
    if not case_ids:
        return {}
    cases = await session.scalars(select(Case).where(col(Case.id).in_(case_ids)))
    return {c.id or 0: c for c in cases}


async def existing_queues(session: AsyncSession, queue_ids: Collection[int]) -> set[int]:
    """Return which of the queue ids exist; those already in the session cost no query."""
    present = {q for q in queue_ids if identity_key(Queue, q) in session.identity_map}
    missing = set(queue_ids) - present
    if missing:
        present.update(await session.scalars(select(Queue.id).where(col(Queue.id).in_(missing))))
    return {q for q in present if q is not None}


async def thread_cases(
    session: AsyncSession, keys: Collection[tuple[Channel, str, int]], hinted: Collection[int]
) -> list[ThreadCase]:
    """Return, for each (channel, thread key, customer id), the latest contact on a joinable, unmerged case.

    A closed case is not joinable, but one the batch names by id may be reopened by an earlier item of it; the
    latest contact on each such case comes back as well, so the batch can decide in memory what a later item
    would have found.
    """
    if not keys:
        return []
    rows = await session.execute(
        _THREAD_CASES,
        {
            "channels": list({channel for channel, _, _ in keys}),
            "threads": list({thread_key for _, thread_key, _ in keys}),
            "customers": list({customer_id for _, _, customer_id in keys}),
            "hinted": list(hinted),
        },
    )
    found = [ThreadCase(*row) for row in rows]
    return [row for row in found if (row.channel, row.thread_key, row.customer_id) in keys]
