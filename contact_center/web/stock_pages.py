"""The stock page for dispatchers: levels per location, reorder alerts, purchase and transfer requests.

Plain forms, no script: each action posts (with the session's CSRF token) and comes back to the page, which
shows what was refused and why (a cancelled request cannot be received, a shipment with the stock gone).
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from contact_center.services.users import SignedIn
from contact_center.web.auth import SUPERVISORS, authorize_page, read_form
from contact_center.web.keys import CLOCK, DATABASE
from field_service.ledger import StockError
from field_service.models import Part, StockLevel, StockLocation
from field_service.purchasing import (
    approve_purchase,
    cancel_purchase,
    create_purchase,
    purchase_requests,
    receive_purchase,
    stock_alerts,
)
from field_service.transfers import cancel_transfer, ship_transfer, transfer_requests

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _dispatcher(request: web.Request) -> SignedIn:
    return await authorize_page(request, SUPERVISORS)


async def _render(request: web.Request, signed_in: SignedIn, error: str | None = None) -> web.Response:
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        levels = (
            await session.execute(
                select(StockLocation, Part, StockLevel)
                .join(StockLevel, col(StockLevel.location_id) == col(StockLocation.id))
                .join(Part, col(Part.id) == col(StockLevel.part_id))
                .order_by(col(StockLocation.code), col(Part.sku))
            )
        ).all()
        context: dict[str, Any] = {
            "user": signed_in.user,
            "csrf": signed_in.session.csrf_token,
            "levels": levels,
            "alerts": await stock_alerts(session, now),
            "purchases": await purchase_requests(session),
            "transfers": await transfer_requests(session),
            "locations": sorted({location.code for location, _, _ in levels}),
            "error": error,
        }
    return aiohttp_jinja2.render_template("stock.html", request, context, status=400 if error else 200)


@routes.get("/stock", name="stock")
async def stock_page(request: web.Request) -> web.Response:
    """Show stock levels, alerts and the open requests."""
    return await _render(request, await _dispatcher(request))


@routes.post("/stock/purchase-requests")
async def new_purchase(request: web.Request) -> web.Response:
    """Raise a purchase request from the page."""
    signed_in = await _dispatcher(request)
    form = await read_form(request, signed_in)
    quantity = form.get("quantity", "")
    if not quantity.isdigit():
        return await _render(request, signed_in, "Give a quantity of at least 1.")
    try:
        async with request.app[DATABASE].transaction() as session:
            await create_purchase(
                session,
                form.get("location", ""),
                form.get("sku", "").strip(),
                int(quantity),
                request.app[CLOCK].now(),
                signed_in.user.display_name,
                form.get("reason", "")[:200],
            )
    except StockError as exc:
        return await _render(request, signed_in, str(exc))
    raise web.HTTPSeeOther("/stock")


@routes.post(r"/stock/purchase-requests/{request_id:\d{1,12}}/{action:approve|receive|cancel}")
async def purchase_action(request: web.Request) -> web.Response:
    """Approve, receive or cancel a purchase request from the page."""
    signed_in = await _dispatcher(request)
    await read_form(request, signed_in)
    request_id, action = int(request.match_info["request_id"]), request.match_info["action"]
    act = {"approve": approve_purchase, "receive": receive_purchase, "cancel": cancel_purchase}[action]
    try:
        async with request.app[DATABASE].transaction() as session:
            await act(session, request_id, request.app[CLOCK].now(), signed_in.user.display_name)
    except StockError as exc:
        return await _render(request, signed_in, str(exc))
    raise web.HTTPSeeOther("/stock")


@routes.post(r"/stock/transfer-requests/{request_id:\d{1,12}}/{action:ship|cancel}")
async def transfer_action(request: web.Request) -> web.Response:
    """Ship or cancel a transfer request from the page."""
    signed_in = await _dispatcher(request)
    await read_form(request, signed_in)
    request_id, action = int(request.match_info["request_id"]), request.match_info["action"]
    act = ship_transfer if action == "ship" else cancel_transfer
    try:
        async with request.app[DATABASE].transaction() as session:
            await act(session, request_id, request.app[CLOCK].now(), signed_in.user.display_name)
    except StockError as exc:
        return await _render(request, signed_in, str(exc))
    raise web.HTTPSeeOther("/stock")
