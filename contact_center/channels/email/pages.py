"""The staff page for unprocessable mail: admins see what was kept raw and run it through intake again."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from contact_center.channels.email.service import do_reprocess_unprocessable
from contact_center.errors import DomainError
from contact_center.models import case_number
from contact_center.models.email import EmailUnprocessable
from contact_center.services.users import SignedIn
from contact_center.web.auth import ADMINS, authorize_page, read_form
from contact_center.web.keys import CLOCK, DATABASE, ROUTER, SETTINGS

__all__ = ["routes"]

routes = web.RouteTableDef()
_SHOWN = 200


async def _admin(request: web.Request) -> SignedIn:
    """Return the signed-in admin; people not signed in go to the sign-in page first."""
    return await authorize_page(request, ADMINS)


@routes.get("/email/unprocessable", name="email-unprocessable")
async def unprocessable_page(request: web.Request) -> web.Response:
    """List mail kept raw, newest first, with a button to reprocess each."""
    signed_in = await _admin(request)
    show_all = request.query.get("all") == "1"
    statement = select(EmailUnprocessable)
    if not show_all:
        statement = statement.where(col(EmailUnprocessable.reprocessed_at).is_(None))
    async with request.app[DATABASE].transaction() as session:
        rows = (await session.scalars(statement.order_by(col(EmailUnprocessable.id).desc()).limit(_SHOWN))).all()
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "rows": rows,
        "show_all": show_all,
        "done": request.query.get("done"),
        "case": request.query.get("case"),
        "error": request.query.get("error"),
    }
    return aiohttp_jinja2.render_template("email_unprocessable.html", request, context)


@routes.post("/email/unprocessable/{email_id}/reprocess")
async def reprocess_submit(request: web.Request) -> web.Response:
    """Reprocess one kept message and come back to the list saying what became of it."""
    signed_in = await _admin(request)
    await read_form(request, signed_in)
    raw_id = request.match_info["email_id"]
    if not raw_id.isdigit() or len(raw_id) > 12:
        raise web.HTTPNotFound(reason="no such message")
    settings = request.app[SETTINGS]
    try:
        result = await do_reprocess_unprocessable(
            request.app[DATABASE],
            int(raw_id),
            request.app[CLOCK].now(),
            router=request.app[ROUTER],
            smtp_from=settings.smtp_from,
            region=settings.default_phone_region,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound(reason=str(exc)) from None
        back = request.app.router["email-unprocessable"].url_for().with_query(error=str(exc))
        raise web.HTTPSeeOther(str(back)) from None
    query = {"done": raw_id, **({"case": case_number(result.case_id)} if result.case_id else {})}
    raise web.HTTPSeeOther(str(request.app.router["email-unprocessable"].url_for().with_query(query)))
