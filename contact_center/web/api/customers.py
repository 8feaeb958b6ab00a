"""Customers and identities over HTTP."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_
from sqlmodel import col, select

from contact_center.addresses import normalise_address
from contact_center.errors import NotFound
from contact_center.models import Case, Customer, CustomerTier, Identity, IdentityKind
from contact_center.services.customers import (
    CustomerFields,
    do_add_identity,
    do_create_customer,
    do_link_identity,
    do_update_customer,
    get_customer,
)
from contact_center.web.api.cases import CaseOut
from contact_center.web.api.params import Out, Page, now, path_id
from contact_center.web.auth import AGENTS
from contact_center.web.keys import DATABASE, SETTINGS
from contact_center.web.router import ApiRouter

__all__ = ["router"]

router = ApiRouter("customers")


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IdentityKind
    address: str = Field(min_length=1, max_length=320)


class IdentityOut(Out):
    id: int
    customer_id: int
    kind: IdentityKind
    address: str
    created_at: datetime


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    language: str = Field(default="en", min_length=2, max_length=16)
    value_score: int = Field(default=0, ge=0, le=100)
    lifetime_value: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=2)
    segment: str | None = Field(default=None, max_length=80)
    identities: list[IdentityIn] = Field(default_factory=list)


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    language: str | None = Field(default=None, min_length=2, max_length=16)
    value_score: int | None = Field(default=None, ge=0, le=100)
    lifetime_value: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    segment: str | None = Field(default=None, max_length=80)


class CustomerOut(Out):
    id: int
    name: str
    language: str
    value_score: int
    tier: CustomerTier
    lifetime_value: Decimal
    segment: str | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime


class CustomerDetail(CustomerOut):
    identities: list[IdentityOut]


class CustomerQuery(Page):
    q: str | None = Field(default=None, max_length=200, description="part of the name, or an exact address")
    tier: CustomerTier | None = None


class IdentityLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IdentityKind
    address: str = Field(min_length=1, max_length=320)


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int


async def _detail(request: web.Request, customer: Customer) -> CustomerDetail:
    async with request.app[DATABASE].transaction() as session:
        identities = (await session.scalars(select(Identity).where(Identity.customer_id == customer.id))).all()
    return CustomerDetail.model_validate(
        {**CustomerOut.model_validate(customer).model_dump(), "identities": identities}
    )


@router.route(
    "GET",
    "/api/v1/customers",
    summary="List or search customers",
    roles=AGENTS,
    query=CustomerQuery,
    response=list[CustomerOut],
)
async def list_customers(request: web.Request, query: CustomerQuery) -> list[Customer]:
    statement = select(Customer).where(col(Customer.merged_into_id).is_(None))
    if query.tier is not None:
        statement = statement.where(Customer.tier == query.tier)
    if query.q:
        matches_address = select(Identity.customer_id).where(Identity.address == query.q.strip().lower())
        statement = statement.where(
            or_(col(Customer.name).icontains(query.q, autoescape=True), col(Customer.id).in_(matches_address))
        )
    async with request.app[DATABASE].transaction() as session:
        rows = await session.scalars(statement.order_by(col(Customer.id)).limit(query.limit).offset(query.offset))
        return list(rows.all())


@router.route(
    "POST",
    "/api/v1/customers",
    summary="Create a customer with identities",
    roles=AGENTS,
    body=CustomerIn,
    response=CustomerDetail,
    status=201,
)
async def create_customer(request: web.Request, body: CustomerIn) -> CustomerDetail:
    region = request.app[SETTINGS].default_phone_region
    async with request.app[DATABASE].transaction() as session:
        customer = await do_create_customer(
            session,
            CustomerFields(**body.model_dump(exclude={"identities"})),
            now(request),
        )
        for identity in body.identities:
            await do_add_identity(session, customer, identity.kind, identity.address, now(request), region=region)
    return await _detail(request, customer)


@router.route(
    "GET",
    "/api/v1/customers/{customer_id}",
    summary="A customer and their identities",
    roles=AGENTS,
    response=CustomerDetail,
)
async def read_customer(request: web.Request) -> CustomerDetail:
    async with request.app[DATABASE].transaction() as session:
        customer = await get_customer(session, path_id(request, "customer_id", "customer"))
    return await _detail(request, customer)


@router.route(
    "PATCH",
    "/api/v1/customers/{customer_id}",
    summary="Change a customer",
    roles=AGENTS,
    body=CustomerPatch,
    response=CustomerDetail,
)
async def update_customer(request: web.Request, body: CustomerPatch) -> CustomerDetail:
    async with request.app[DATABASE].transaction() as session:
        customer = await get_customer(session, path_id(request, "customer_id", "customer"))
        await do_update_customer(session, customer, CustomerFields(**body.model_dump(exclude_unset=True)), now(request))
    return await _detail(request, customer)


@router.route(
    "GET",
    "/api/v1/customers/{customer_id}/cases",
    summary="A customer's cases, newest first",
    roles=AGENTS,
    query=Page,
    response=list[CaseOut],
)
async def customer_cases(request: web.Request, query: Page) -> list[CaseOut]:
    async with request.app[DATABASE].transaction() as session:
        customer = await get_customer(session, path_id(request, "customer_id", "customer"))
        rows = await session.scalars(
            select(Case)
            .where(Case.customer_id == customer.id)
            .order_by(col(Case.id).desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        return [CaseOut.from_case(case) for case in rows.all()]


@router.route(
    "POST",
    "/api/v1/customers/{customer_id}/identities",
    summary="Add an address to a customer",
    roles=AGENTS,
    body=IdentityIn,
    response=IdentityOut,
    status=201,
)
async def add_identity(request: web.Request, body: IdentityIn) -> Identity:
    async with request.app[DATABASE].transaction() as session:
        customer = await get_customer(session, path_id(request, "customer_id", "customer"))
        return await do_add_identity(
            session, customer, body.kind, body.address, now(request), region=request.app[SETTINGS].default_phone_region
        )


@router.route(
    "GET",
    "/api/v1/identities",
    summary="Find who an address belongs to",
    roles=AGENTS,
    query=IdentityLookup,
    response=IdentityOut,
)
async def find_identity(request: web.Request, query: IdentityLookup) -> Identity:
    address = normalise_address(query.kind, query.address, default_region=request.app[SETTINGS].default_phone_region)
    async with request.app[DATABASE].transaction() as session:
        identity = (
            await session.scalars(select(Identity).where(Identity.kind == query.kind, Identity.address == address))
        ).first()
    if identity is None:
        raise NotFound(f"no customer is known by {address}", resource="identity")
    return identity


@router.route(
    "POST",
    "/api/v1/identities/{identity_id}/link",
    summary="Move an identity to the customer it belongs to",
    roles=AGENTS,
    body=LinkIn,
    response=CustomerDetail,
)
async def link_identity(request: web.Request, body: LinkIn) -> CustomerDetail:
    identity_id = path_id(request, "identity_id", "identity")
    async with request.app[DATABASE].transaction() as session:
        identity = await session.get(Identity, identity_id)
        if identity is None:
            raise NotFound(f"identity {identity_id} does not exist", resource="identity")
        customer = await get_customer(session, body.customer_id)
        await do_link_identity(session, identity, customer, now(request))
    return await _detail(request, customer)
