"""The technician's phone pages: the day in route order and one job, with server-rendered forms (POST-redirect-GET).

No script: every button is a form posting to the same services the API uses, carrying the session's CSRF token,
and answering with a redirect back to the job, so a reload never posts twice. A refused step re-renders the job
with the reason and the refusal's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.errors import DomainError, InvalidInput
from contact_center.services.field_visits import (
    StatusChange,
    Worker,
    active_technicians,
    assigned_job,
    do_add_note,
    do_attach_photo,
    do_change_status,
    do_record_parts,
    do_record_reading,
    job_details,
    technician_day,
    worker_for,
)
from contact_center.services.users import SignedIn
from contact_center.web.api.invoices import PRICES
from contact_center.web.api.stock import stock_errors
from contact_center.web.api.technician import announce_visit, day_for, photo_url
from contact_center.web.auth import TECHNICIANS, authorize_page, check_csrf, read_form
from contact_center.web.keys import CLOCK, DATABASE, SETTINGS
from contact_center.web.photo_upload import read_photo_upload
from field_service.ledger import Availability, StockError, StockLedger
from field_service.lifecycle import NEXT
from field_service.models import WorkOrderRecord, WorkOrderStatus
from field_service.transfers import request_transfer, transfer_requests

__all__ = ["routes"]

routes = web.RouteTableDef()
# How many other places a needed part is offered from on the job's page.
_PLACES_SHOWN = 3
# One change made from a job's page, run in its own transaction by _act.
Action = Callable[[Worker, AsyncSession, datetime], Awaitable[None]]

#: What each step's button says on the phone.
STEP_LABELS = {
    WorkOrderStatus.EN_ROUTE.value: "On my way",
    WorkOrderStatus.ON_SITE.value: "Arrived on site",
    WorkOrderStatus.COMPLETED.value: "Done",
}


async def _technician(request: web.Request) -> SignedIn:
    """Return the signed-in technician or supervisor, sending people who are not signed in to the sign-in page."""
    return await authorize_page(request, TECHNICIANS)


def _zone(request: web.Request) -> tzinfo:
    try:
        return ZoneInfo(request.query.get("tz") or request.app[SETTINGS].field_time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("unknown time zone", field="tz") from None


def _clock(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M") if moment else ""


@routes.get("/tech", name="tech_day")
async def day_page(request: web.Request) -> web.Response:
    """Show a technician's day in route order (supervisors name the technician with ``?technician=``)."""
    signed_in = await _technician(request)
    tz = _zone(request)
    raw = request.query.get("date")
    try:
        day = date.fromisoformat(raw) if raw else request.app[CLOCK].now().astimezone(tz).date()
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a date like 2026-12-07", field="date") from None
    async with request.app[DATABASE].transaction() as session:
        worker = await worker_for(session, signed_in.user)
        asked = request.query.get("technician") or None
        if worker.supervisor and asked is None and worker.technician is None:
            technicians = await active_technicians(session)
            context = {"user": signed_in.user, "csrf": signed_in.session.csrf_token, "technicians": technicians}
            return aiohttp_jinja2.render_template("tech_pick.html", request, context)
        technician = day_for(worker, asked)
        jobs = await technician_day(session, technician, day, tz)
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "technician": technician,
        "day": day,
        "jobs": jobs,
        "zone": str(tz),
        "clock": lambda moment: _clock(moment, tz),
    }
    return aiohttp_jinja2.render_template("tech_day.html", request, context)


@routes.get("/tech/jobs/{code}", name="tech_job")
async def job_page(request: web.Request) -> web.Response:
    """Show one job: where, who, what, the asset's history, and the forms for the next steps."""
    signed_in = await _technician(request)
    return await _render_job(request, signed_in, None, 200)


@routes.post("/tech/jobs/{code}/status")
async def post_status(request: web.Request) -> web.Response:
    """Move the job one step from its page."""
    signed_in = await _technician(request)
    form = await read_form(request, signed_in)
    try:
        target = WorkOrderStatus(form.get("status", ""))
    except ValueError:
        return await _render_job(request, signed_in, "Choose a step.", 400)

    changes: list[StatusChange] = []

    async def act(worker: Worker, session: AsyncSession, now: datetime) -> None:
        code, reason = request.match_info["code"], form.get("reason", "")
        tz = request.app[SETTINGS].field_zone
        prices = request.app[PRICES]
        changes.append(await do_change_status(session, code, target, worker, now, reason=reason, tz=tz, prices=prices))

    def announce() -> None:
        for change in changes:
            announce_visit(request, change)

    return await _act(request, signed_in, act, after=announce)


@routes.post("/tech/jobs/{code}/parts")
async def post_parts(request: web.Request) -> web.Response:
    """Record a part used (and defective units taken out) from the job's page."""
    signed_in = await _technician(request)
    form = await read_form(request, signed_in)
    sku = form.get("sku", "").strip()
    try:
        used, defective = int(form.get("used") or 0), int(form.get("defective") or 0)
    except ValueError:
        return await _render_job(request, signed_in, "Quantities are whole numbers.", 400)
    # A removal (the button beside a recorded part) sets that part's totals back to zero.
    remove = form.get("remove") == "1"
    if not sku or min(used, defective) < 0 or max(used, defective) > 10_000 or (used + defective == 0 and not remove):
        return await _render_job(request, signed_in, "Name the part and how many were used or returned.", 400)

    async def act(worker: Worker, session: AsyncSession, now: datetime) -> None:
        await do_record_parts(
            session,
            request.match_info["code"],
            worker,
            now,
            used={sku: 0} if remove else ({sku: used} if used else {}),
            defective={sku: 0} if remove else ({sku: defective} if defective else {}),
            replace=remove,
        )

    return await _act(request, signed_in, act)


@routes.post("/tech/jobs/{code}/transfers")
async def post_transfer(request: web.Request) -> web.Response:
    """Ask for a part the job needs from another van or a warehouse, to the technician's van."""
    signed_in = await _technician(request)
    form = await read_form(request, signed_in)
    sku, source = form.get("sku", "").strip(), form.get("source", "").strip()
    try:
        quantity = int(form.get("quantity") or 0)
    except ValueError:
        quantity = 0
    if not sku or not source or not 1 <= quantity <= 10_000:
        return await _render_job(request, signed_in, "Say which part, from where and how many.", 400)

    async def act(worker: Worker, session: AsyncSession, now: datetime) -> None:
        code = request.match_info["code"]
        await assigned_job(session, code, worker)
        async with stock_errors():
            await request_transfer(session, code, sku, quantity, source, now, actor=worker.name)

    return await _act(request, signed_in, act)


@routes.post("/tech/jobs/{code}/readings")
async def post_reading(request: web.Request) -> web.Response:
    """Record the asset's meter reading from the job's page."""
    signed_in = await _technician(request)
    form = await read_form(request, signed_in)
    try:
        value = float(form.get("value", ""))
    except ValueError:
        value = -1.0
    if not (0 <= value <= 1e12):
        return await _render_job(request, signed_in, "Enter the meter reading as a number.", 400)

    async def act(worker: Worker, session: AsyncSession, now: datetime) -> None:
        await do_record_reading(session, request.match_info["code"], worker, now, value)

    return await _act(request, signed_in, act)


@routes.post("/tech/jobs/{code}/notes")
async def post_note(request: web.Request) -> web.Response:
    """Add a note from the job's page."""
    signed_in = await _technician(request)
    form = await read_form(request, signed_in)
    text = form.get("text", "")[:10_000]

    async def act(worker: Worker, session: AsyncSession, now: datetime) -> None:
        await do_add_note(session, request.match_info["code"], worker, now, text)

    return await _act(request, signed_in, act)


@routes.post("/tech/jobs/{code}/photos")
async def post_photo(request: web.Request) -> web.Response:
    """Attach a photo taken with the phone's camera."""
    signed_in = await _technician(request)
    async with request.app[DATABASE].transaction() as session:
        await assigned_job(session, request.match_info["code"], await worker_for(session, signed_in.user))
    try:
        upload = await read_photo_upload(request)
    except DomainError as exc:
        return await _render_job(request, signed_in, exc.message, exc.status)
    check_csrf(request, signed_in, upload.fields)

    async def act(worker: Worker, session: AsyncSession, now: datetime) -> None:
        await do_attach_photo(session, request.match_info["code"], worker, now, upload.content, upload.type.media_type)

    return await _act(request, signed_in, act)


async def _act(
    request: web.Request, signed_in: SignedIn, act: Action, after: Callable[[], None] | None = None
) -> web.Response:
    """Run one change in a transaction, then go back to the job; show the job with the reason if it was refused.

    ``after`` runs once the change is committed (to announce it).
    """
    try:
        async with request.app[DATABASE].transaction() as session:
            worker = await worker_for(session, signed_in.user)
            await act(worker, session, request.app[CLOCK].now())
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return await _render_job(request, signed_in, exc.message, exc.status)
    if after is not None:
        after()
    job = request.app.router["tech_job"].url_for(code=request.match_info["code"])
    raise web.HTTPSeeOther(str(job.with_query(request.query)))


async def _render_job(request: web.Request, signed_in: SignedIn, error: str | None, status: int) -> web.Response:
    tz = _zone(request)
    async with request.app[DATABASE].transaction() as session:
        worker = await worker_for(session, signed_in.user)
        details = await job_details(session, request.match_info["code"], worker)
        order = details.order
        elsewhere = await _parts_elsewhere(session, order, request.app[CLOCK].now())
        transfers = await transfer_requests(session, work_order=order.code)
    allowed = NEXT.get(order.status, frozenset())
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "job": details,
        "order": order,
        "steps": [(step, label) for step, label in STEP_LABELS.items() if step in allowed],
        "can_fail": WorkOrderStatus.CANNOT_COMPLETE.value in allowed,
        "on_site": order.status is WorkOrderStatus.ON_SITE,
        "open": order.status.value in NEXT,
        "photos": [photo_url(order.code, photo_id) for photo_id in details.photo_ids],
        "elsewhere": elsewhere,
        "transfers": transfers,
        "error": error,
        # The page's own query (its time zone) carried through each form and the redirect after it.
        "query": f"?{request.query_string}" if request.query_string else "",
        "zone": str(tz),
        "clock": lambda moment: _clock(moment, tz),
    }
    return aiohttp_jinja2.render_template("tech_job.html", request, context, status=status)


async def _parts_elsewhere(
    session: AsyncSession, order: WorkOrderRecord, now: datetime
) -> dict[str, list[Availability]]:
    """Where else each part the open job needs is available (other vans, then warehouses, nearest first)."""
    if order.status.value not in NEXT:
        return {}
    ledger = StockLedger(session, now)
    found: dict[str, list[Availability]] = {}
    for sku in order.parts:
        try:
            places = await ledger.where_is(sku, technician=order.technician, lat=order.lat, lon=order.lon)
        except StockError:  # a part no longer in the catalogue
            continue
        found[sku] = [p for p in places if p.technician != order.technician][:_PLACES_SHOWN]
    return found
