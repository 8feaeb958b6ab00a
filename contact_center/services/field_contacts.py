"""Who to tell about a work order: the customer of its case, or else the owner of the asset it is on.

A phone number that answered STOP (sms_opt_outs) is still there to call, but not to text: messages go by email
instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.models import Case, Customer, Identity, IdentityKind, SmsOptOut
from field_service.models import Asset, WorkOrderRecord

__all__ = ["FieldContact", "work_order_contact", "work_order_contacts"]

# Merged customers point at the survivor; a chain longer than this is a data error, not a loop to follow.
_MAX_MERGES = 10


@dataclass(frozen=True)
class FieldContact:
    """A customer's name, language and the first phone number and email address they gave us.

    ``sms_phone`` is the first number that may be texted (None when every number answered STOP).
    """

    customer_id: int
    name: str
    language: str
    phone: str | None
    sms_phone: str | None
    email: str | None


async def work_order_contact(session: AsyncSession, order: WorkOrderRecord) -> FieldContact | None:
    """Return the customer to contact about ``order``, or None when it has no customer."""
    return (await work_order_contacts(session, [order])).get(order.code)


async def work_order_contacts(session: AsyncSession, orders: Sequence[WorkOrderRecord]) -> dict[str, FieldContact]:
    """Return {work order code: customer to contact} for the orders that have a customer, in a few queries."""
    case_ids = {o.case_id for o in orders if o.case_id is not None}
    asset_ids = {o.asset_id for o in orders if o.asset_id is not None}
    of_case: dict[int | None, int | None] = dict(
        (await session.execute(select(Case.id, Case.customer_id).where(col(Case.id).in_(case_ids)))).all()
    )
    of_asset: dict[int | None, int | None] = dict(
        (await session.execute(select(Asset.id, Asset.customer_id).where(col(Asset.id).in_(asset_ids)))).all()
    )
    wanted: dict[str, int] = {}
    for order in orders:
        customer_id = of_case.get(order.case_id) if order.case_id is not None else None
        if customer_id is None and order.asset_id is not None:
            customer_id = of_asset.get(order.asset_id)
        if customer_id is not None:
            wanted[order.code] = customer_id
    customers = {
        c.id: c
        for c in (await session.scalars(select(Customer).where(col(Customer.id).in_(set(wanted.values()))))).all()
    }
    survivors = {customer_id: await _survivor(session, customer) for customer_id, customer in customers.items()}
    known = {c.id for c in survivors.values() if c is not None}
    identities = (
        await session.scalars(select(Identity).where(col(Identity.customer_id).in_(known)).order_by(col(Identity.id)))
    ).all()
    phones = {i.address for i in identities if i.kind is IdentityKind.PHONE}
    opted_out = set(
        (
            await session.scalars(
                select(SmsOptOut.address).where(col(SmsOptOut.address).in_(phones), col(SmsOptOut.opted_out))
            )
        ).all()
    )
    contacts: dict[str, FieldContact] = {}
    for code, customer_id in wanted.items():
        customer = survivors.get(customer_id)
        if customer is None or customer.id is None:
            continue
        theirs = [i for i in identities if i.customer_id == customer.id]
        contacts[code] = FieldContact(
            customer.id,
            customer.name,
            customer.language,
            next((i.address for i in theirs if i.kind is IdentityKind.PHONE), None),
            next((i.address for i in theirs if i.kind is IdentityKind.PHONE and i.address not in opted_out), None),
            next((i.address for i in theirs if i.kind is IdentityKind.EMAIL), None),
        )
    return contacts


async def _survivor(session: AsyncSession, customer: Customer | None) -> Customer | None:
    for _ in range(_MAX_MERGES):
        if customer is None or customer.merged_into_id is None:
            break
        customer = await session.get(Customer, customer.merged_into_id)
    return customer
