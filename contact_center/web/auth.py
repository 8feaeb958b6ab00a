"""Who is asking: the session cookie, role checks and CSRF protection for every route.

Cookie-authenticated requests that change state must prove they come from our pages: API calls send the
session's CSRF token in `X-CSRF-Token`, HTML forms in a `csrf_token` field. The cookie is HttpOnly and
SameSite=Lax, so other sites can neither read it nor send it with their form posts.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from datetime import timedelta

from aiohttp import web

from contact_center.errors import Forbidden, Unauthenticated
from contact_center.models import Role
from contact_center.services.users import SignedIn, do_end_session, do_start_session, load_session
from contact_center.web.keys import CLOCK, DATABASE, SETTINGS

__all__ = [
    "ADMINS",
    "AGENTS",
    "COOKIE",
    "STAFF",
    "SUPERVISORS",
    "TECHNICIANS",
    "authorize",
    "check_csrf",
    "current_user",
    "read_form",
    "set_session_cookie",
    "sign_in",
    "sign_out",
]

COOKIE = "cc_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Who may do what: each route names one of these sets. A supervisor can do what an agent can, an admin what a
# supervisor can; technicians work field-service jobs and see only those.
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})
SUPERVISORS: frozenset[Role] = ADMINS | {Role.SUPERVISOR}
AGENTS: frozenset[Role] = SUPERVISORS | {Role.AGENT}
TECHNICIANS: frozenset[Role] = SUPERVISORS | {Role.TECHNICIAN}
STAFF: frozenset[Role] = AGENTS | {Role.TECHNICIAN}

_USER = web.RequestKey("signed_in", SignedIn)
_LOOKED_UP = web.RequestKey("session_looked_up", bool)


async def current_user(request: web.Request) -> SignedIn | None:
    """Return the signed-in user of this request, reading the session once per request."""
    if request.get(_LOOKED_UP):
        return request.get(_USER)
    request[_LOOKED_UP] = True
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    async with request.app[DATABASE].transaction() as session:
        signed_in = await load_session(session, token, request.app[CLOCK].now())
    if signed_in is not None:
        request[_USER] = signed_in
    return signed_in


async def authorize(request: web.Request, roles: Collection[Role] | None) -> SignedIn | None:
    """Raise 401 or 403 unless the request's user has one of `roles` (None means public)."""
    if roles is None:
        return await current_user(request)
    signed_in = await current_user(request)
    if signed_in is None:
        raise Unauthenticated("sign in first")
    if signed_in.user.role not in roles:
        raise Forbidden(f"your role ({signed_in.user.role.value}) may not do this")
    return signed_in


async def authorize_page(request: web.Request, roles: Collection[Role]) -> SignedIn:
    """`authorize` for an HTML page: someone not signed in is sent to the sign-in page, and back after it."""
    try:
        signed_in = await authorize(request, roles)
    except Unauthenticated:
        raise web.HTTPFound(f"/login?next={request.path_qs}") from None
    assert signed_in is not None
    return signed_in


def check_csrf(request: web.Request, signed_in: SignedIn, form: Mapping[str, str] | None = None) -> None:
    """Raise 403 unless a state-changing request carries the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("X-CSRF-Token") or (form or {}).get("csrf_token") or ""
    if not hmac.compare_digest(sent, signed_in.session.csrf_token):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again", reason="csrf")


async def sign_in(request: web.Request, response: web.StreamResponse, user_id: int) -> str:
    """Start a fresh session (a new id at every sign-in) and set its cookie; return the CSRF token."""
    settings = request.app[SETTINGS]
    lifetime = timedelta(hours=settings.session_hours)
    async with request.app[DATABASE].transaction() as session:
        old = request.cookies.get(COOKIE)
        if old:
            await do_end_session(session, old)
        token, csrf = await do_start_session(session, user_id, request.app[CLOCK].now(), lifetime)
    set_session_cookie(response, COOKIE, token, lifetime, secure=settings.cookie_secure)
    return csrf


def set_session_cookie(
    response: web.StreamResponse, name: str, token: str, lifetime: timedelta, *, secure: bool
) -> None:
    """Set a session cookie the way every sign-in here does: HttpOnly, SameSite=Lax, for the whole site."""
    response.set_cookie(
        name, token, max_age=int(lifetime.total_seconds()), httponly=True, samesite="Lax", secure=secure, path="/"
    )


async def sign_out(request: web.Request, response: web.StreamResponse) -> None:
    """End the request's session and clear its cookie."""
    token = request.cookies.get(COOKIE)
    if token:
        async with request.app[DATABASE].transaction() as session:
            await do_end_session(session, token)
    response.del_cookie(COOKIE, path="/")


async def read_form(request: web.Request, signed_in: SignedIn) -> dict[str, str]:
    """Read a posted form's text fields after checking its CSRF token."""
    form = await request.post()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    check_csrf(request, signed_in, fields)
    return fields
