"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import func
from sqlmodel import select

from contact_center.models import Case, Contact, OutboxMessage
from contact_center.web.keys import DATABASE, METRICS, SETTINGS

__all__ = ["metrics_middleware", "routes"]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_READY_TIMEOUT = 3.0


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """Answer while the process serves requests at all."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Answer 200 only when the case store (and Redis, where configured) can be reached."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(request.app[DATABASE].ping(), _READY_TIMEOUT)
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        checks["database"] = f"unreachable: {type(exc).__name__}"
    redis_url = request.app[SETTINGS].redis_url
    if redis_url:
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        try:
            await asyncio.wait_for(client.ping(), _READY_TIMEOUT)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
        finally:
            await client.aclose()
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Expose request metrics and case-store gauges in the Prometheus text format."""
    registry = request.app[METRICS]
    async with request.app[DATABASE].transaction() as session:
        for status, count in await session.execute(select(Case.status, func.count()).group_by(Case.status)):
            registry.cases.labels(status=str(status)).set(count)
        for channel, count in await session.execute(select(Contact.channel, func.count()).group_by(Contact.channel)):
            registry.contacts.labels(channel=str(channel)).set(count)
        for channel, status, count in await session.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.channel, OutboxMessage.status
            )
        ):
            registry.outbox.labels(channel=str(channel), status=str(status)).set(count)
    return web.Response(
        body=registry.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by its route pattern (never by raw path, which would explode labels)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        registry = request.app[METRICS]
        registry.requests.labels(method=request.method, route=route, status=str(status)).inc()
        registry.latency.labels(route=route).observe(time.perf_counter() - started)
