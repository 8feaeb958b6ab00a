"""Server-rendered pages for staff: sign-in, a home page, and the case list and case view."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import func, or_
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.case_status import TRANSITIONS
from contact_center.channels.replies import send_reply
from contact_center.models import (
    ActorKind,
    Case,
    CaseStatus,
    Customer,
    Identity,
    IdentityKind,
    OutboxChannel,
    Role,
    parse_case_number,
)
from contact_center.services.cases import do_add_note, do_change_status, get_case, timeline
from contact_center.services.users import SignedIn, authenticate
from contact_center.web.auth import AGENTS, STAFF, authorize_page, read_form, sign_in, sign_out
from contact_center.web.form_fields import whole_number
from contact_center.web.keys import CLOCK, DATABASE, SETTINGS
from contact_center.web.limits import check_login, count_failed_login

__all__ = ["routes"]

routes = web.RouteTableDef()
_LOGIN_CSRF = "cc_login_csrf"
_PAGE_SIZE = 50
_REPLY_CHANNELS = (
    (OutboxChannel.EMAIL, IdentityKind.EMAIL, "Email"),
    (OutboxChannel.SMS, IdentityKind.PHONE, "Text message"),
)


async def _staff(request: web.Request, roles: frozenset[Role] = STAFF) -> SignedIn:
    """Return the signed-in user, sending people who are not signed in to the sign-in page."""
    return await authorize_page(request, roles)


def _actor(signed_in: SignedIn) -> Actor:
    return Actor(ActorKind.USER, signed_in.user.id, signed_in.user.display_name)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" or "https://..." would make the sign-in page an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.Response:
    """Show the sign-in form with a double-submit CSRF token (there is no session to bind one to yet)."""
    token = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"csrf": token, "next": _safe_next(request.query.get("next")), "error": None}
    )
    response.set_cookie(_LOGIN_CSRF, token, httponly=True, samesite="Strict", path="/login")
    return response


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    """Check the credentials, start a new session and go where the user was heading."""
    form = await request.post()
    sent, expected = str(form.get("csrf_token", "")), request.cookies.get(_LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(reason="the sign-in form expired; reload the page and try again")
    username = str(form.get("username", ""))
    await check_login(request, username)
    async with request.app[DATABASE].transaction() as session:
        user = await authenticate(session, username, str(form.get("password", "")))
    if user is None:
        await count_failed_login(request, username)
        context = {
            "csrf": expected,
            "next": _safe_next(str(form.get("next", ""))),
            "error": "Wrong username or password.",
        }
        return aiohttp_jinja2.render_template("login.html", request, context, status=401)
    redirect = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    await sign_in(request, redirect, user.id or 0)
    redirect.del_cookie(_LOGIN_CSRF, path="/login")
    raise redirect


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    """Sign out and return to the sign-in page."""
    signed_in = await _staff(request)
    await read_form(request, signed_in)
    redirect = web.HTTPSeeOther("/login")
    await sign_out(request, redirect)
    raise redirect


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    """Show open work at a glance; a technician, who works no cases, is sent to the day's jobs."""
    signed_in = await _staff(request)
    if signed_in.user.role not in AGENTS:
        raise web.HTTPSeeOther("/tech")
    async with request.app[DATABASE].transaction() as session:
        counts = dict((await session.execute(select(Case.status, func.count()).group_by(Case.status))).all())
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "counts": {status.value: counts.get(status, 0) for status in CaseStatus},
    }
    return aiohttp_jinja2.render_template("home.html", request, context)


@routes.get("/cases", name="cases")
async def case_list(request: web.Request) -> web.Response:
    """List cases newest first, a page at a time: by status, by words or number, or those assigned to me."""
    signed_in = await _staff(request, AGENTS)
    status = request.query.get("status") or None
    words = request.query.get("q", "").strip()[:200]
    mine = request.query.get("mine") == "1" and signed_in.user.agent_id is not None
    page = whole_number(request.query.get("page", "1"), "page", 1, 100_000)
    statement = select(Case, Customer.name).join(Customer, col(Customer.id) == Case.customer_id)
    if status in {s.value for s in CaseStatus}:
        statement = statement.where(Case.status == CaseStatus(status))
    if words:
        number = parse_case_number(words)
        matches = or_(
            col(Case.subject).icontains(words, autoescape=True), col(Customer.name).icontains(words, autoescape=True)
        )
        statement = statement.where(or_(col(Case.id) == number, matches) if number is not None else matches)
    if mine:
        statement = statement.where(Case.assignee_id == signed_in.user.agent_id)
    statement = statement.order_by(col(Case.id).desc()).offset((page - 1) * _PAGE_SIZE).limit(_PAGE_SIZE + 1)
    async with request.app[DATABASE].transaction() as session:
        rows = (await session.execute(statement)).all()
    filters = {key: value for key, value in (("status", status), ("q", words), ("mine", "1" if mine else "")) if value}
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "rows": rows[:_PAGE_SIZE],
        "status": status,
        "q": words,
        "mine": mine,
        "statuses": [s.value for s in CaseStatus],
        "page": page,
        "newer": f"/cases?{urlencode({**filters, 'page': page - 1})}" if page > 1 else None,
        "older": f"/cases?{urlencode({**filters, 'page': page + 1})}" if len(rows) > _PAGE_SIZE else None,
    }
    return aiohttp_jinja2.render_template("cases.html", request, context)


@routes.get("/cases/{case_ref}", name="case")
async def case_page(request: web.Request) -> web.Response:
    """Show a case, its timeline and the actions on it."""
    signed_in = await _staff(request, AGENTS)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, request.match_info["case_ref"])
        customer = await session.get(Customer, case.customer_id)
        events = await timeline(session, case)
        kinds = set(
            (await session.scalars(select(Identity.kind).where(Identity.customer_id == case.customer_id))).all()
        )
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "case": case,
        "customer": customer,
        "events": events,
        "next_statuses": [s.value for s in CaseStatus if s in TRANSITIONS[case.status]],
        # The channels the customer can be answered on; the one the case came in on first.
        "reply_channels": sorted(
            ((c.value, label) for c, kind, label in _REPLY_CHANNELS if kind in kinds),
            key=lambda choice: choice[0] != case.channel.value,
        ),
        "now": request.app[CLOCK].now(),
    }
    return aiohttp_jinja2.render_template("case.html", request, context)


@routes.post("/cases/{case_ref}/status")
async def case_status(request: web.Request) -> web.Response:
    """Change a case's status from its page."""
    signed_in = await _staff(request, AGENTS)
    form = await read_form(request, signed_in)
    try:
        target = CaseStatus(form.get("status", ""))
    except ValueError:
        raise web.HTTPBadRequest(reason="choose a status") from None
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, request.match_info["case_ref"], for_update=True)
        await do_change_status(
            session, case, target, _actor(signed_in), request.app[CLOCK].now(), note=form.get("note") or None
        )
    raise web.HTTPSeeOther(f"/cases/{case.number}")


@routes.post("/cases/{case_ref}/replies")
async def case_reply(request: web.Request) -> web.Response:
    """Answer the customer from a case's page, by email or text, as the API's replies do."""
    signed_in = await _staff(request, AGENTS)
    form = await read_form(request, signed_in)
    try:
        channel = OutboxChannel(form.get("channel", ""))
    except ValueError:
        raise web.HTTPBadRequest(reason="choose email or text message") from None
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, request.match_info["case_ref"], for_update=True)
        await send_reply(
            session,
            case,
            channel,
            form.get("body", ""),
            _actor(signed_in),
            request.app[CLOCK].now(),
            smtp_from=request.app[SETTINGS].smtp_from,
        )
    raise web.HTTPSeeOther(f"/cases/{case.number}")


@routes.post("/cases/{case_ref}/notes")
async def case_note(request: web.Request) -> web.Response:
    """Add an internal note from a case's page."""
    signed_in = await _staff(request, AGENTS)
    form = await read_form(request, signed_in)
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, request.match_info["case_ref"], for_update=True)
        await do_add_note(session, case, form.get("body", ""), _actor(signed_in), request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/cases/{case.number}")
