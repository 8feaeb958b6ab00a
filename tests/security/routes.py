"""The app's route table as the security tests see it: every route, who may use it, and a path that reaches it.

API routes say their roles where they are declared (`ApiRouter.route(roles=...)`); everything else (pages,
sockets, webhooks) is listed in `PAGES` below. A route that is in neither fails `test_every_route_is_declared`,
so a new page cannot ship without someone deciding who may open it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

from contact_center.models import Role
from contact_center.web.app import api_endpoints
from contact_center.web.auth import ADMINS, AGENTS, STAFF, SUPERVISORS, TECHNICIANS


class Open(StrEnum):
    """Who may use a route that no staff role guards."""

    PUBLIC = "public"  # anyone, signed in or not
    CUSTOMER = "customer"  # a customer signed in to the portal
    TWILIO = "twilio"  # Twilio, proven by the request signature


Access = frozenset[Role] | Open

# Declared API routes that anyone may call. A new `roles=None` route fails the matrix until it is listed here.
PUBLIC_API: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/api/v1/auth/login"),
        ("GET", "/api/v1/kb/search"),
        ("GET", "/api/v1/kb/suggest"),
        ("POST", "/api/v1/kb/articles/{article_ref}/feedback"),
    }
)

# Every route that is not a declared API route. HEAD follows GET.
PAGES: dict[tuple[str, str], Access] = {
    ("GET", "/static"): Open.PUBLIC,
    ("GET", "/healthz"): Open.PUBLIC,
    ("GET", "/readyz"): Open.PUBLIC,
    # Prometheus scrapes without credentials; it shows counts only, never a customer's data.
    ("GET", "/metrics"): Open.PUBLIC,
    ("GET", "/api/v1/openapi.json"): Open.PUBLIC,
    ("GET", "/login"): Open.PUBLIC,
    ("POST", "/login"): Open.PUBLIC,
    ("POST", "/logout"): STAFF,
    ("GET", "/"): STAFF,
    ("GET", "/cases"): AGENTS,
    ("GET", "/cases/{case_ref}"): AGENTS,
    ("POST", "/cases/{case_ref}/status"): AGENTS,
    ("POST", "/cases/{case_ref}/notes"): AGENTS,
    ("POST", "/cases/{case_ref}/replies"): AGENTS,
    ("GET", "/staff/kb"): AGENTS,
    ("GET", "/staff/kb/new"): SUPERVISORS,
    ("POST", "/staff/kb/new"): SUPERVISORS,
    ("GET", "/staff/kb/{article_id}"): AGENTS,
    ("POST", "/staff/kb/{article_id}"): SUPERVISORS,
    ("POST", "/staff/kb/{article_id}/status"): SUPERVISORS,
    ("GET", "/desktop"): AGENTS,
    ("GET", "/desktop/ws"): AGENTS,
    ("GET", "/wallboard"): SUPERVISORS,
    ("GET", "/wallboard/ws"): SUPERVISORS,
    ("GET", "/email/unprocessable"): ADMINS,
    ("POST", "/email/unprocessable/{email_id}/reprocess"): ADMINS,
    ("GET", "/portal/lang/{code}"): Open.PUBLIC,
    ("GET", "/kb"): Open.PUBLIC,
    ("GET", "/kb/{slug}"): Open.PUBLIC,
    ("POST", "/kb/{slug}/feedback"): Open.PUBLIC,
    ("GET", "/portal"): Open.PUBLIC,
    ("POST", "/portal/signin"): Open.PUBLIC,
    ("POST", "/portal/code"): Open.PUBLIC,
    ("GET", "/portal/signin/{token}"): Open.PUBLIC,
    ("POST", "/portal/code/verify"): Open.PUBLIC,
    ("POST", "/portal/signout"): Open.CUSTOMER,
    ("GET", "/portal/new"): Open.CUSTOMER,
    ("POST", "/portal/new"): Open.CUSTOMER,
    ("GET", "/portal/cases/{case_ref}"): Open.CUSTOMER,
    ("POST", "/portal/cases/{case_ref}/{action}"): Open.CUSTOMER,
    ("GET", "/portal/cases/{case_ref}/files/{file_id}"): Open.CUSTOMER,
    ("GET", "/portal/invoices/{number}.{kind}"): Open.CUSTOMER,
    ("GET", "/dispatch"): SUPERVISORS,
    ("POST", "/dispatch/optimise"): SUPERVISORS,
    ("POST", "/dispatch/dispatch"): SUPERVISORS,
    ("POST", "/dispatch/pin"): SUPERVISORS,
    ("POST", "/dispatch/sick"): SUPERVISORS,
    ("GET", "/agents"): SUPERVISORS,
    ("POST", "/agents"): SUPERVISORS,
    ("POST", "/agents/teams"): SUPERVISORS,
    ("GET", "/agents/{agent_id}"): SUPERVISORS,
    ("POST", "/agents/{agent_id}"): SUPERVISORS,
    ("GET", "/queues"): SUPERVISORS,
    ("POST", "/queues"): SUPERVISORS,
    ("POST", "/queues/skills"): SUPERVISORS,
    ("GET", "/queues/{queue_id}"): SUPERVISORS,
    ("POST", "/queues/{queue_id}"): SUPERVISORS,
    ("GET", "/sla"): SUPERVISORS,
    ("POST", "/sla/policies"): ADMINS,
    ("GET", "/users"): ADMINS,
    ("POST", "/users"): ADMINS,
    ("POST", "/users/{user_id}"): ADMINS,
    ("GET", "/stock"): SUPERVISORS,
    ("POST", "/stock/purchase-requests"): SUPERVISORS,
    ("POST", "/stock/purchase-requests/{request_id}/{action}"): SUPERVISORS,
    ("POST", "/stock/transfer-requests/{request_id}/{action}"): SUPERVISORS,
    ("GET", "/tech"): TECHNICIANS,
    ("GET", "/tech/jobs/{code}"): TECHNICIANS,
    ("POST", "/tech/jobs/{code}/status"): TECHNICIANS,
    ("POST", "/tech/jobs/{code}/parts"): TECHNICIANS,
    ("POST", "/tech/jobs/{code}/readings"): TECHNICIANS,
    ("POST", "/tech/jobs/{code}/notes"): TECHNICIANS,
    ("POST", "/tech/jobs/{code}/photos"): TECHNICIANS,
    ("POST", "/tech/jobs/{code}/transfers"): TECHNICIANS,
    ("GET", "/chat"): Open.PUBLIC,
    ("GET", "/chat/ws"): Open.PUBLIC,
    ("POST", "/twilio/voice"): Open.TWILIO,
    ("POST", "/twilio/voice/gather"): Open.TWILIO,
    ("POST", "/twilio/voice/recording"): Open.TWILIO,
    ("POST", "/twilio/voice/queue-wait"): Open.TWILIO,
    ("POST", "/twilio/voice/queue-exit"): Open.TWILIO,
    ("POST", "/twilio/voice/queue-offer"): Open.TWILIO,
    ("POST", "/twilio/voice/status"): Open.TWILIO,
    ("POST", "/twilio/sms"): Open.TWILIO,
    ("POST", "/twilio/sms/status"): Open.TWILIO,
}

# Values tried for a path parameter, in order, until the route's pattern accepts them.
_SAMPLES = ("1", "CS-000001", "reply", "en", "welcome", "cancel", "INV-2026-1", "html")
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # the canonical path without parameter patterns, "/cases/{case_ref}"
    resource: web.AbstractResource
    access: Access | None  # None: in neither table
    socket: bool

    def path(self, **values: str) -> str:
        """Return a concrete path the route matches, with `values` for the parameters they name."""
        names = _PARAM.findall(self.template)
        free = [name for name in names if name not in values]
        # Every combination, since one parameter's pattern may only match alongside another's sample.
        for samples in itertools.product(_SAMPLES, repeat=len(free)):
            trial = {**values, **dict(zip(free, samples, strict=True))}
            if _matches(self.resource, _fill(self.template, trial)):
                return _fill(self.template, trial)
        return _fill(self.template, {**dict.fromkeys(free, _SAMPLES[0]), **values})


def _fill(template: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda match: values[match.group(1)], template)


def _matches(resource: web.AbstractResource, path: str) -> bool:
    info = resource.get_info()
    pattern = info.get("pattern")
    if pattern is None:
        return info.get("path", info.get("prefix")) == path
    return bool(pattern.fullmatch(path))


def api_access() -> dict[tuple[str, str], Access]:
    """Return each declared API route's access: its roles, or PUBLIC for `roles=None`."""
    return {
        (endpoint.method, endpoint.path): endpoint.roles if endpoint.roles is not None else Open.PUBLIC
        for endpoint in api_endpoints()
    }


def routes(app: web.Application) -> Iterator[Route]:
    """Yield every route of the app once (HEAD is GET's twin), with the access the tables give it."""
    declared = api_access()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        template = route.resource.canonical
        key = (route.method, template)
        access = declared.get(key, PAGES.get(key))
        yield Route(route.method, template, route.resource, access, socket=template.endswith("/ws"))
