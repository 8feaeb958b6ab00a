"""The SLA page for supervisors: the policies and business-hours calendars, and how the last 30 days went.

Admins add policies here as with `POST /api/v1/sla/policies`; a policy applies to cases opened after it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from contact_center.errors import DomainError, InvalidInput
from contact_center.models import CalendarRecord, CasePriority, CustomerTier, Role, SlaPolicy
from contact_center.services.sla import do_create_policy, sla_report
from contact_center.services.users import SignedIn
from contact_center.web.auth import ADMINS, SUPERVISORS, authorize_page, read_form
from contact_center.web.form_fields import whole_number
from contact_center.web.keys import CLOCK, DATABASE

__all__ = ["routes"]

routes = web.RouteTableDef()

_REPORT_DAYS = 30
Choice = TypeVar("Choice", CasePriority, CustomerTier)


@routes.get("/sla", name="sla")
async def sla_page(request: web.Request) -> web.Response:
    """Show the SLA policies, calendars and the share of targets met lately."""
    signed_in = await authorize_page(request, SUPERVISORS)
    return await _render(request, signed_in)


@routes.post("/sla/policies")
async def create_policy(request: web.Request) -> web.Response:
    """Add an SLA policy (admins)."""
    signed_in = await authorize_page(request, ADMINS)
    form = await read_form(request, signed_in)
    try:
        policy = SlaPolicy(
            name=form.get("name", "").strip()[:120],
            priority=_choice(form, "priority", CasePriority),
            tier=_choice(form, "tier", CustomerTier),
            first_response_minutes=whole_number(
                form.get("first_response_minutes", ""), "first response minutes", 1, 525_600
            ),
            resolution_minutes=whole_number(form.get("resolution_minutes", ""), "resolution minutes", 1, 5_256_000),
            calendar_id=whole_number(form["calendar_id"], "calendar", 1, 2**31 - 1)
            if form.get("calendar_id")
            else None,
        )
        async with request.app[DATABASE].transaction() as session:
            await do_create_policy(session, policy)
    except DomainError as exc:
        return await _render(request, signed_in, error=str(exc), typed=form)
    raise web.HTTPSeeOther("/sla")


def _choice(form: Mapping[str, str], field: str, kind: type[Choice]) -> Choice | None:
    value = form.get(field, "")
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"{field} must be one of {', '.join(kind)}, not {value!r}", field=field) from None


async def _render(
    request: web.Request, signed_in: SignedIn, *, error: str | None = None, typed: Mapping[str, str] | None = None
) -> web.Response:
    until = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        policies = list((await session.scalars(select(SlaPolicy).order_by(col(SlaPolicy.name)))).all())
        calendars = list((await session.scalars(select(CalendarRecord).order_by(col(CalendarRecord.name)))).all())
        report = await sla_report(session, until - timedelta(days=_REPORT_DAYS), until)
    context: dict[str, Any] = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "policies": policies,
        "calendars": calendars,
        "calendar_names": {c.id: c.name for c in calendars},
        "report": report,
        "days": _REPORT_DAYS,
        "priorities": [p.value for p in CasePriority],
        "tiers": [t.value for t in CustomerTier],
        "may_add": signed_in.user.role is Role.ADMIN,
        "error": error,
        "form": dict(typed or {}),
    }
    return aiohttp_jinja2.render_template("sla.html", request, context, status=400 if error else 200)
