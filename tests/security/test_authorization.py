"""The authorization matrix: every route of the app, called by every role, anonymously and by another customer.

The expectations come from the route table itself (`tests/security/routes.py`): a denied caller gets 401 or 403
(or, on a page, the redirect to the sign-in page; another customer, 404), an allowed caller never does, and nobody
ever gets a 5xx. The callers: each staff role, anonymous, Ann (whose case the paths name) and Carl (another customer).
Routes added later are covered without touching this file, and one without declared access fails it.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from contact_center.models import Role
from tests.conftest import PERSONAS, Api
from tests.portal.test_cases import open_case
from tests.security.conftest import Portal
from tests.security.routes import PUBLIC_API, Open, Route, api_access, routes

STAFF_PERSONAS = tuple(PERSONAS)  # alice (admin), sam (supervisor), bob (agent), tess (technician)


def _allowed(route: Route, persona: str) -> bool:
    access = route.access
    if access is Open.PUBLIC:
        return True
    if access is Open.CUSTOMER:
        # The case in the path is Ann's: Carl is signed in, but it is not his.
        return persona == "ann" or (persona == "carl" and "{case_ref}" not in route.template)
    if access is Open.TWILIO:
        return False  # none of our callers signs like Twilio; test_twilio covers the signed side
    return persona in PERSONAS and PERSONAS[persona] in access


def _refused(route: Route, status: int, location: str) -> bool:
    # Public forms (sign-in, portal links) carry a double-submit CSRF cookie this matrix does not fetch: their 403
    # is that check, and the forms' own tests cover the rest. A POST may end by sending to the sign-in page (logout).
    if route.access is Open.PUBLIC and route.method == "POST" and not route.template.startswith("/api/"):
        return False
    if route.method == "GET" and status in (302, 303):
        return "/login" in location
    return status in (401, 403)


def _denied_as_expected(route: Route, persona: str, status: int, location: str) -> bool:
    if status in (401, 403):
        return True
    if persona == "carl" and route.access is Open.CUSTOMER:
        return status == 404  # another customer's case is not found, exactly like a missing one
    # A person who is not signed in is sent to the right sign-in page instead.
    if status in (302, 303):
        if route.access is Open.CUSTOMER:
            return location.startswith("/portal")
        return persona not in PERSONAS and location.startswith("/login")
    return False


async def test_every_route_is_declared(app_client):
    client = await app_client()
    undeclared = sorted(f"{route.method} {route.template}" for route in routes(client.server.app) if not route.access)
    assert undeclared == [], "add these routes to tests/security/routes.py PAGES (or give them roles)"
    public = sorted(f"{method} {path}" for (method, path), access in api_access().items() if access is Open.PUBLIC)
    assert public == sorted(f"{method} {path}" for method, path in PUBLIC_API), "a public API route must be listed"


async def _callers(login, portal, customers) -> dict[str, Any]:
    callers: dict[str, Any] = {"anonymous": await login("anonymous")}
    for persona in STAFF_PERSONAS:
        callers[persona] = await login(persona)
    callers["ann"] = await portal("ann@example.org")
    callers["carl"] = await portal("carl@example.org")
    return callers


async def _still_signed_in(callers: dict[str, Any], persona: str, login, portal) -> None:
    """Sign a caller back in if the last call ended its session (logout, sign-out)."""
    caller = callers[persona]
    if isinstance(caller, Api) and persona != "anonymous":
        if (await caller.client.get("/api/v1/auth/me")).status == 401:
            callers[persona] = await login(persona)
    elif isinstance(caller, Portal):
        response = await caller.client.get("/portal/new", allow_redirects=False)
        if response.status != 200:
            callers[persona] = await portal(f"{persona}@example.org")
        else:
            await caller.page("/portal/new")  # refresh its CSRF token


async def _call(caller: Any, route: Route, path: str) -> aiohttp.ClientResponse:
    """Make the request the way the caller's own pages would: with its CSRF token, a JSON or form body."""
    client = caller.client
    if route.socket:
        headers = {"Origin": f"http://{client.host}:{client.port}"}
        try:
            ws = await client.ws_connect(path, headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            return _Status(exc.status)  # type: ignore[return-value]
        await ws.close()
        return _Status(101)  # type: ignore[return-value]
    if route.method == "GET":
        return await client.get(path, allow_redirects=False)
    csrf = caller.csrf or ""
    if path.startswith("/api/"):
        return await client.request(route.method, path, json={}, headers={"X-CSRF-Token": csrf})
    return await client.request(route.method, path, data={"csrf_token": csrf}, allow_redirects=False)


class _Status:
    """What a WebSocket handshake answered, shaped like the part of a response the matrix reads."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.headers: dict[str, str] = {}


async def test_every_route_allows_exactly_its_roles(app_client, login, portal, customers, database, clock):
    client = await app_client()
    anns = await open_case(database, clock, customers["ann"], "Ann's router")
    callers = await _callers(login, portal, customers)
    problems: list[str] = []
    for route in routes(client.server.app):
        assert route.access is not None, route
        if route.template == "/static":
            continue
        path = route.path(case_ref=anns)
        for persona in callers:
            response = await _call(callers[persona], route, path)
            location = response.headers.get("Location", "")
            verdict = f"{route.method} {path} as {persona}: {response.status} {location}".rstrip()
            if response.status >= 500:
                problems.append(f"server error: {verdict}")
            elif _allowed(route, persona):
                if _refused(route, response.status, location):
                    problems.append(f"allowed but refused: {verdict}")
            elif not _denied_as_expected(route, persona, response.status, location):
                problems.append(f"denied but let through: {verdict}")
            if route.method != "GET":
                await _still_signed_in(callers, persona, login, portal)
    assert not problems, "\n".join(problems)


async def test_staff_cookies_open_no_portal_case_and_customer_cookies_no_staff_page(login, portal, database, clock):
    customers_case = await open_case(database, clock, 1, "Ann's router")
    bob = await login("bob")
    response = await bob.client.get(f"/portal/cases/{customers_case}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/portal"
    ann = await portal("ann@example.org")
    for path in ("/cases", "/desktop", "/api/v1/cases", f"/api/v1/cases/{customers_case}"):
        response = await ann.client.get(path, allow_redirects=False)
        assert response.status in (302, 401), (path, response.status)


def test_role_sets_are_what_the_matrix_assumes():
    # The matrix reads the personas' roles; a new role needs a persona in tests/conftest.py too.
    assert set(PERSONAS.values()) == set(Role)
