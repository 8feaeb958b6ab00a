"""The application factory: one function builds the whole web app from settings, for production and tests alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from contact_center.channels.base import Transport
from contact_center.channels.chat.web import add_chat_channel
from contact_center.channels.email.web import add_email_channel, email_transport
from contact_center.channels.twilio.options import TwilioOptions
from contact_center.channels.twilio.web import add_twilio_routes, sms_transport
from contact_center.clock import Clock, SystemClock
from contact_center.db import Database
from contact_center.dispatch import Dispatcher, build_backend, check_rules
from contact_center.hub import EventHub
from contact_center.intake_queue import IntakeQueue
from contact_center.leases import LoopFactory, new_holder, run_exclusively
from contact_center.models import OutboxChannel
from contact_center.portal import web as portal_web
from contact_center.recovery import keep_routing_state
from contact_center.relay import RedisRelay
from contact_center.settings import Settings
from contact_center.throttle import MemoryThrottle, RedisThrottle, Throttle
from contact_center.web import (
    agent_pages,
    desktop,
    dispatch_board,
    health,
    kb_pages,
    pages,
    queue_pages,
    sla_pages,
    stock_pages,
    tech_pages,
    user_pages,
    wallboard,
)
from contact_center.web.api import (
    agents,
    cases,
    contacts,
    customers,
    email,
    field_dispatch,
    knowledge_base,
    portal,
    routing,
    sla,
    technician,
    users,
)
from contact_center.web.api import desktop as desktop_api
from contact_center.web.api import invoices as invoices_api
from contact_center.web.api import maintenance as maintenance_api
from contact_center.web.api import stock as stock_api
from contact_center.web.api import wallboard as wallboard_api
from contact_center.web.errors import error_middleware
from contact_center.web.keys import (
    CLOCK,
    DATABASE,
    DISPATCHER,
    HUB,
    INTAKE,
    LEASE_HOLDER,
    METRICS,
    ROUTER,
    SETTINGS,
    THROTTLE,
)
from contact_center.web.metrics import Metrics
from contact_center.web.openapi import openapi_document
from contact_center.web.router import ApiRouter, Endpoint
from contact_center.web.sockets import add_socket_registry
from contact_center.workers.field_reminders import run_field_reminders
from contact_center.workers.maintenance import run_maintenance_planner
from contact_center.workers.outbox import run_outbox_sender
from contact_center.workers.sla import run_sla_timer
from routing.redis_backend import RedisBackend

__all__ = ["API_ROUTERS", "api_endpoints", "create_app", "exclusively"]

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent
API_ROUTERS: tuple[ApiRouter, ...] = (
    users.router,
    customers.router,
    cases.router,
    contacts.router,
    agents.router,
    routing.router,
    sla.router,
    knowledge_base.router,
    portal.router,
    desktop_api.router,
    wallboard_api.router,
    email.router,
    field_dispatch.router,
    technician.router,
    invoices_api.router,
    stock_api.router,
    maintenance_api.router,
)
_BACKGROUND = web.AppKey("background_tasks", list[asyncio.Task[None]])
# Request bodies beyond this are refused with 413 before a handler reads them.
MAX_BODY_BYTES = 2 * 1024 * 1024


def api_endpoints() -> list[Endpoint]:
    """Return every declared API endpoint (for the OpenAPI document and the authorization tests)."""
    return [endpoint for router in API_ROUTERS for endpoint in router.endpoints]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Forbid framing, sniffing and third-party scripts on every response."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    )
    return response


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    twilio_options: TwilioOptions | None = None,
) -> web.Application:
    """Build the application; the database, clock and channel options can be passed in (tests share them)."""
    app = web.Application(
        middlewares=[health.metrics_middleware, security_headers, error_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[LEASE_HOLDER] = new_holder()
    app[METRICS] = Metrics()
    owns_database = database is None
    app[DATABASE] = database or Database(settings.database_url, pool_size=settings.database_pool_size)
    app[HUB] = EventHub()
    app[invoices_api.PRICES] = invoices_api.price_list(settings)
    app[THROTTLE] = _throttle(app, settings)
    dispatcher = Dispatcher(build_backend(settings), app[DATABASE], app[CLOCK], app[HUB])
    app[DISPATCHER] = dispatcher
    app[ROUTER] = dispatcher
    app[INTAKE] = IntakeQueue(app[DATABASE], region=settings.default_phone_region)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_static("/static", _HERE / "static", name="static")
    app.router.add_routes(health.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(portal_web.routes)
    app.router.add_routes(kb_pages.routes)
    app.router.add_routes(tech_pages.routes)
    add_socket_registry(app)
    app.router.add_routes(desktop.routes)
    app.router.add_routes(wallboard.routes)
    app.router.add_routes(dispatch_board.routes)
    app.router.add_routes(stock_pages.routes)
    app.router.add_routes(agent_pages.routes)
    app.router.add_routes(queue_pages.routes)
    app.router.add_routes(user_pages.routes)
    app.router.add_routes(sla_pages.routes)
    for router in API_ROUTERS:
        router.add_to(app)
    add_twilio_routes(app, twilio_options)
    add_email_channel(app)
    add_chat_channel(app)
    # After the channels' own contexts, so their transports exist when the sender starts.
    app.cleanup_ctx.append(_outbox_sender)
    document = openapi_document(api_endpoints(), title="Contact Center API", version="1")

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.cleanup_ctx.append(_background_work)
    if settings.redis_url:
        app.cleanup_ctx.append(_event_relay)
        app.cleanup_ctx.append(_routing_state_watch)
    app.on_shutdown.append(_finish_batches)
    if owns_database:
        app.on_cleanup.append(_dispose_database)
    return app


def _throttle(app: web.Application, settings: Settings) -> Throttle:
    """Count rate-limited attempts in Redis when the processes share one, else in this process."""
    if not settings.redis_url:
        return MemoryThrottle()
    client = Redis.from_url(settings.redis_url)

    async def close(_app: web.Application) -> None:
        await client.aclose()

    app.on_cleanup.append(close)
    return RedisThrottle(client, f"{settings.redis_prefix}throttle:")


async def _background_work(app: web.Application) -> AsyncIterator[None]:
    """Load routing state, then run the timers while the app runs; cancel them on shutdown."""
    settings, dispatcher = app[SETTINGS], app[DISPATCHER]
    tasks: list[asyncio.Task[None]] = []
    try:
        await _load_routing(app)
    except (OSError, SQLAlchemyError):
        # The store is unreachable: serve anyway (readyz says not ready) and load routing once it answers.
        log.exception("routing state not loaded; retrying in the background")
        tasks.append(asyncio.create_task(_retry_load_routing(app), name="routing-load"))
    if settings.background_workers:
        db, clock = app[DATABASE], app[CLOCK]
        field_zone = settings.field_zone
        singletons: dict[str, LoopFactory] = {
            "sla-timer": lambda: run_sla_timer(db, clock),
            # Each reminder is also keyed once per appointment; the lease saves the other processes the work.
            "field-reminders": lambda: run_field_reminders(db, clock, field_zone),
            "maintenance": lambda: run_maintenance_planner(db, clock),
        }
        for name, loop in singletons.items():
            tasks.append(asyncio.create_task(exclusively(app, name, loop), name=name))
        # Not under a lease: every routing timeout fires in one atomic backend script, so each process may tick.
        tasks.append(asyncio.create_task(dispatcher.run_timers(), name="routing-timers"))
    app[_BACKGROUND] = tasks
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await dispatcher.close()


async def exclusively(app: web.Application, name: str, loop_factory: LoopFactory) -> None:
    """Run a background loop in one process only of those sharing this case store (see `contact_center.leases`).

    Lease times are wall-clock time, whatever clock the app's business logic is given: they measure whether a
    process is alive.
    """
    await run_exclusively(
        name,
        loop_factory,
        db=app[DATABASE],
        holder=app[LEASE_HOLDER],
        clock=SystemClock(),
        period=float(app[SETTINGS].lease_seconds),
    )


async def _event_relay(app: web.Application) -> AsyncIterator[None]:
    """Carry live events between the server processes that share this Redis."""
    settings = app[SETTINGS]
    assert settings.redis_url is not None
    client = Redis.from_url(settings.redis_url)
    relay = RedisRelay(app[HUB], client, f"{settings.redis_prefix}events")
    try:
        async with relay.running():
            yield
    finally:
        await client.aclose()


async def _routing_state_watch(app: web.Application) -> AsyncIterator[None]:
    """Rebuild the shared routing state from the case store whenever Redis comes back empty."""
    backend = app[DISPATCHER].backend
    task = None
    if isinstance(backend, RedisBackend):
        marker = f"{app[SETTINGS].redis_prefix}loaded"
        # Start-up has just loaded the state (`_background_work` runs first): mark it, so it is not loaded twice.
        with contextlib.suppress(RedisError, OSError):
            await backend.client.set(marker, "1")
        task = asyncio.create_task(keep_routing_state(app[DISPATCHER], backend.client, marker), name="routing-watch")
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _outbox_sender(app: web.Application) -> AsyncIterator[None]:
    """Send stored outbound messages through the transports that are configured."""
    transports: dict[OutboxChannel, Transport] = {}
    sms = sms_transport(app)
    if sms is not None:
        transports[OutboxChannel.SMS] = sms
    email = email_transport(app)
    if email is not None:
        transports[OutboxChannel.EMAIL] = email
    task = None
    if app[SETTINGS].background_workers and transports:
        task = asyncio.create_task(run_outbox_sender(app[DATABASE], transports, app[CLOCK]), name="outbox-sender")
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _load_routing(app: web.Application) -> None:
    await check_rules(app[SETTINGS], app[DATABASE])
    await app[DISPATCHER].sync_agents()
    requeued = await app[DISPATCHER].rebuild()
    if requeued:
        log.info("routing: %d waiting contacts queued again", requeued)


async def _retry_load_routing(app: web.Application, interval: float = 5.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await _load_routing(app)
        except (OSError, SQLAlchemyError):
            continue
        log.info("routing state loaded")
        return


async def _finish_batches(app: web.Application) -> None:
    """Let the contacts and routing submits handed in so far be written before the store closes."""
    await app[INTAKE].aclose()
    await app[DISPATCHER].aclose()


async def _dispose_database(app: web.Application) -> None:
    await app[DATABASE].dispose()
