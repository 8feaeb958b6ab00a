"""One error shape for the whole API, and readable error pages for people.

API errors are always `{"error": {"code": ..., "message": ..., "details": {...}}}` with a matching status, so a
client handles every failure the same way whatever raised it.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from contact_center.errors import DomainError

__all__ = ["error_middleware", "json_error"]

log = logging.getLogger(__name__)

_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def json_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> web.Response:
    """Build an API error response."""
    return web.json_response({"error": {"code": code, "message": message, "details": details or {}}}, status=status)


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn domain errors and HTTP errors into the API shape or an HTML page."""
    try:
        return await handler(request)
    except DomainError as exc:
        status, code, message, details = exc.status, exc.code, exc.message, exc.details
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, code, message, details = exc.status, _CODES.get(exc.status, "error"), exc.reason, {}
        if isinstance(exc, web.HTTPMethodNotAllowed):
            details = {"allowed": sorted(exc.allowed_methods)}
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        status, code, message, details = 500, "internal_error", "something went wrong on our side", {}
    if _wants_json(request):
        response = json_error(status, code, message, details)
    else:
        response = aiohttp_jinja2.render_template(
            "error.html", request, {"status": status, "message": message}, status=status
        )
    if status == 429 and "retry_after_seconds" in details:
        response.headers["Retry-After"] = str(details["retry_after_seconds"])  # RFC 9110 §10.2.3
    return response
