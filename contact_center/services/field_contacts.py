"""Who to tell about a work order: the customer of its case, or else the owner of the asset it is on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.models import Case, Customer, Identity, IdentityKind
from field_service.models import Asset, WorkOrderRecord

__all__ = ["FieldContact", "work_order_contact"]

# Merged customers point at the survivor; a chain longer than this is a data error, not a loop to follow.
_MAX_MERGES = 10


@dataclass(frozen=True)
class FieldContact:
    """A customer's name, language and the first phone number and email address they gave us."""

    customer_id: int
    name: str
    language: str
    phone: str | None
    email: str | None


async def work_order_contact(session: AsyncSession, order: WorkOrderRecord) -> FieldContact | None:
    """Return the customer to contact about ``order``, or None when it has no customer."""
    customer_id: int | None = None
    if order.case_id is not None:
        case = await session.get(Case, order.case_id)
        customer_id = case.customer_id if case else None
    if customer_id is None and order.asset_id is not None:
        asset = await session.get(Asset, order.asset_id)
        customer_id = asset.customer_id if asset else None
    if customer_id is None:
        return None
    customer = await session.get(Customer, customer_id)
    for _ in range(_MAX_MERGES):
        if customer is None or customer.merged_into_id is None:
            break
        customer = await session.get(Customer, customer.merged_into_id)
    if customer is None or customer.id is None:
        return None
    identities = (
        await session.scalars(select(Identity).where(Identity.customer_id == customer.id).order_by(col(Identity.id)))
    ).all()

    def first(kind: IdentityKind) -> str | None:
        return next((i.address for i in identities if i.kind is kind), None)

    return FieldContact(
        customer.id, customer.name, customer.language, first(IdentityKind.PHONE), first(IdentityKind.EMAIL)
    )
