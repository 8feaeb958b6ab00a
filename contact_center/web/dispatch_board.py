"""The dispatcher's day board: one lane per technician, the unassigned column, and the buttons that change the day.

Server-rendered, forms with the session's CSRF token; each button posts, the service does the work, and the board
is shown again (with a notice of what happened or what went wrong).
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from contact_center.actors import Actor
from contact_center.errors import DomainError
from contact_center.models import ActorKind
from contact_center.services import field_planning
from contact_center.services.users import SignedIn
from contact_center.services.work_orders import WorkOrderChanges, do_update_work_order, get_work_order
from contact_center.web.api.field_dispatch import field_tz
from contact_center.web.auth import SUPERVISORS, authorize_page, read_form
from contact_center.web.keys import CLOCK, DATABASE, SETTINGS

__all__ = ["routes"]

routes = web.RouteTableDef()
_DEFAULT_SECONDS = 5.0


async def _dispatcher(request: web.Request) -> SignedIn:
    return await authorize_page(request, SUPERVISORS)


def _day(raw: str | None, request: web.Request) -> date:
    if not raw:
        return request.app[CLOCK].now().astimezone(field_tz(request)).date()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{raw!r} is not a date like 2026-12-07") from None


def _back(day: date, notice: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/dispatch?{urlencode({'date': day.isoformat(), 'notice': notice})}")


@routes.get("/dispatch", name="dispatch")
async def board(request: web.Request) -> web.Response:
    """Show a day's board."""
    signed_in = await _dispatcher(request)
    day = _day(request.query.get("date"), request)
    async with request.app[DATABASE].transaction() as session:
        schedule = await field_planning.day_schedule(session, day, field_tz(request))
    technicians = [lane["technician"] for lane in schedule["routes"] if not lane["off"]]
    work_orders = [v["work_order"] for lane in schedule["routes"] for v in lane["visits"]]
    work_orders += [u["work_order"] for u in schedule["unassigned"]]
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "day": day,
        "previous": (day - timedelta(days=1)).isoformat(),
        "next": (day + timedelta(days=1)).isoformat(),
        "schedule": schedule,
        "technicians": technicians,
        "work_orders": work_orders,
        "notice": request.query.get("notice", "")[:300],
        "seconds": _DEFAULT_SECONDS,
    }
    return aiohttp_jinja2.render_template("dispatch.html", request, context)


@routes.post("/dispatch/optimise")
async def optimise(request: web.Request) -> web.Response:
    """Re-optimise the day."""
    signed_in = await _dispatcher(request)
    form = await read_form(request, signed_in)
    day = _day(form.get("date"), request)
    try:
        seconds = float(form.get("seconds") or _DEFAULT_SECONDS)
    except ValueError:
        raise _back(day, "seconds must be a number") from None
    try:
        report = await field_planning.plan_day(
            request.app[DATABASE].transaction,
            day,
            field_tz(request),
            request.app[CLOCK].now(),
            seconds=seconds,
            actor=signed_in.user.display_name,
        )
    except DomainError as exc:
        raise _back(day, exc.message) from None
    raise _back(day, f"Re-optimised: {len(report['unassigned'])} unassigned.")


@routes.post("/dispatch/dispatch")
async def dispatch(request: web.Request) -> web.Response:
    """Dispatch the day's scheduled visits."""
    signed_in = await _dispatcher(request)
    form = await read_form(request, signed_in)
    day = _day(form.get("date"), request)
    try:
        codes = await field_planning.dispatch_day(
            request.app[DATABASE].transaction, day, field_tz(request), request.app[CLOCK].now()
        )
    except DomainError as exc:
        raise _back(day, exc.message) from None
    raise _back(day, f"Dispatched {len(codes)} visits.")


@routes.post("/dispatch/pin")
async def pin(request: web.Request) -> web.Response:
    """Pin a work order to a technician (an empty choice unpins it); the next run honours it."""
    signed_in = await _dispatcher(request)
    form = await read_form(request, signed_in)
    day = _day(form.get("date"), request)
    code, technician = form.get("work_order", ""), form.get("technician") or None
    try:
        async with request.app[DATABASE].transaction() as session:
            order = await get_work_order(session, code, for_update=True)
            await do_update_work_order(
                session,
                order,
                WorkOrderChanges(pinned_technician=technician),
                Actor(ActorKind.USER, signed_in.user.id, signed_in.user.display_name),
                request.app[CLOCK].now(),
            )
    except DomainError as exc:
        raise _back(day, exc.message) from None
    done = f"pinned to {technician}" if technician else "unpinned"
    raise _back(day, f"{code} {done}; re-optimise to apply.")


@routes.post("/dispatch/sick")
async def sick(request: web.Request) -> web.Response:
    """Mark a technician sick for the day and re-plan their visits."""
    signed_in = await _dispatcher(request)
    form = await read_form(request, signed_in)
    day = _day(form.get("date"), request)
    technician = form.get("technician", "")
    try:
        outcome = await field_planning.technician_sick(
            request.app[DATABASE].transaction,
            technician,
            day,
            field_tz(request),
            request.app[CLOCK].now(),
            seconds=request.app[SETTINGS].field_replan_seconds,
            actor=signed_in.user.display_name,
        )
    except DomainError as exc:
        raise _back(day, exc.message) from None
    raise _back(day, f"{technician} is off; {len(outcome['released'])} visits re-planned.")
