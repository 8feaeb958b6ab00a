"""Customers and identities: creating, finding by address, and linking two identities found to be one person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.addresses import normalise_address
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.models import Case, Contact, Customer, CustomerTier, Identity, IdentityKind

__all__ = [
    "CustomerFields",
    "do_add_identity",
    "do_create_customer",
    "do_link_identity",
    "do_update_customer",
    "find_customer",
    "find_identity",
    "get_customer",
    "latest_address",
    "new_customer",
]


@dataclass
class CustomerFields:
    """Editable customer fields; None leaves a field unchanged on update."""

    name: str | None = None
    language: str | None = None
    value_score: int | None = None
    lifetime_value: Decimal | None = None
    segment: str | None = None


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    """Return a customer or raise NotFound."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist", resource="customer")
    return customer


async def do_create_customer(session: AsyncSession, fields: CustomerFields, now: datetime) -> Customer:
    """Create a customer; the tier follows from the value score."""
    customer = new_customer(fields, now)
    session.add(customer)
    await session.flush()
    return customer


def new_customer(fields: CustomerFields, now: datetime) -> Customer:
    """Return a customer not yet in any session, checked; the tier follows from the value score."""
    name = (fields.name or "").strip()
    if not name:
        raise InvalidInput("a customer needs a name", field="name")
    score = fields.value_score or 0
    return Customer(
        name=name,
        language=fields.language or "en",
        value_score=score,
        tier=CustomerTier.for_score(score),
        lifetime_value=fields.lifetime_value or Decimal(0),
        segment=fields.segment,
        created_at=now,
        updated_at=now,
    )


async def do_update_customer(session: AsyncSession, customer: Customer, fields: CustomerFields, now: datetime) -> None:
    """Change a customer's fields; a new value score moves the tier with it."""
    for name, value in vars(fields).items():
        if value is not None:
            setattr(customer, name, value.strip() if isinstance(value, str) else value)
    if fields.value_score is not None:
        customer.tier = CustomerTier.for_score(fields.value_score)
    customer.updated_at = now


async def find_identity(
    session: AsyncSession, kind: IdentityKind, raw_address: str, *, region: str = "US"
) -> Identity | None:
    """Return the identity for an address, normalised the way it was stored."""
    address = normalise_address(kind, raw_address, default_region=region)
    return (await session.scalars(select(Identity).where(Identity.kind == kind, Identity.address == address))).first()


# Built once: building a query and its cache key costs more CPU than its round trip (one per inbound contact).
_CUSTOMER_BY_ADDRESS = (
    select(Customer)
    .join(Identity, col(Identity.customer_id) == Customer.id)
    .where(Identity.kind == bindparam("kind"), Identity.address == bindparam("address"))
)


async def latest_address(session: AsyncSession, customer_id: int, kind: IdentityKind) -> str | None:
    """Return the customer's most recently added address of a kind: where we answer them on that channel."""
    found = (
        await session.scalars(
            select(Identity.address)
            .where(Identity.customer_id == customer_id, Identity.kind == kind)
            .order_by(col(Identity.id).desc())
            .limit(1)
        )
    ).first()
    return str(found) if found is not None else None


async def find_customer(session: AsyncSession, kind: IdentityKind, address: str) -> Customer | None:
    """Return the customer an already normalised address belongs to, following merges, in one query (usually).

    The inbound path asks this for every contact, so identity and customer are read together.
    """
    row = (await session.execute(_CUSTOMER_BY_ADDRESS, {"kind": kind, "address": address})).first()
    if row is None:
        return None
    customer: Customer = row[0]
    while customer.merged_into_id is not None:
        merged = await session.get(Customer, customer.merged_into_id)
        assert merged is not None
        customer = merged
    return customer


async def do_add_identity(
    session: AsyncSession,
    customer: Customer,
    kind: IdentityKind,
    raw_address: str,
    now: datetime,
    *,
    region: str = "US",
) -> Identity:
    """Attach an address to a customer; an address already someone else's is a conflict (link it instead)."""
    existing = await find_identity(session, kind, raw_address, region=region)
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        raise Conflict(
            f"{existing.address} already belongs to customer {existing.customer_id}; link the identity instead",
            identity_id=existing.id,
            customer_id=existing.customer_id,
        )
    identity = Identity(
        customer_id=customer.id or 0,
        kind=kind,
        address=normalise_address(kind, raw_address, default_region=region),
        created_at=now,
    )
    session.add(identity)
    await session.flush()
    return identity


async def do_link_identity(session: AsyncSession, identity: Identity, customer: Customer, now: datetime) -> Customer:
    """Move an identity to the customer it turned out to belong to.

    When that leaves the former customer record with no identity at all, it was the same person all along: its
    cases and contacts move too, and it points to the customer that continues.
    """
    if customer.merged_into_id is not None:
        raise Conflict(f"customer {customer.id} was merged into customer {customer.merged_into_id}")
    former_id = identity.customer_id
    if former_id == customer.id:
        return customer
    identity.customer_id = customer.id or 0
    await session.flush()
    remaining = await session.scalar(
        select(func.count()).select_from(Identity).where(Identity.customer_id == former_id)
    )
    if not remaining:
        await session.execute(update(Case).where(col(Case.customer_id) == former_id).values(customer_id=customer.id))
        await session.execute(
            update(Contact).where(col(Contact.customer_id) == former_id).values(customer_id=customer.id)
        )
        former = await session.get(Customer, former_id)
        if former is not None:
            former.merged_into_id = customer.id
            former.updated_at = now
            customer.lifetime_value += former.lifetime_value
    customer.updated_at = now
    return customer
