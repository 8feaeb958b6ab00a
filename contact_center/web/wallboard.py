"""The supervisor wallboard: the page and its WebSocket, which pushes fresh figures after every routing change.

Changes are coalesced: the first routing event after a push starts a short timer, and one push carries everything
that happened meanwhile, so a burst of events costs one computation and still arrives well within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from contact_center.errors import DomainError
from contact_center.web.api.wallboard import live_figures
from contact_center.web.auth import SUPERVISORS, authorize, authorize_page
from contact_center.web.keys import CLOCK, DATABASE, DISPATCHER, HUB
from contact_center.web.sockets import SocketWriter, check_origin, open_socket

__all__ = ["routes"]

routes = web.RouteTableDef()
_COALESCE_SECONDS = 0.2
# Longest waits grow without any event, so figures are pushed at least this often.
_REFRESH_SECONDS = 5.0


@routes.get("/wallboard", name="wallboard")
async def wallboard_page(request: web.Request) -> web.Response:
    """Show the wallboard."""
    signed_in = await authorize_page(request, SUPERVISORS)
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "today": request.app[CLOCK].now().date().isoformat(),
    }
    return aiohttp_jinja2.render_template("wallboard.html", request, context)


@routes.get("/wallboard/ws", name="wallboard-socket")
async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    """Push live figures to a supervisor."""
    check_origin(request)
    try:
        await authorize(request, SUPERVISORS)
    except DomainError as exc:
        raise web.HTTPForbidden(reason=exc.message) from None
    ws = await open_socket(request, max_msg_size=4096)
    writer = SocketWriter(ws)
    # Only routing events change the figures; the rest would wake the pusher for nothing.
    async with request.app[HUB].subscribe(lambda message: message.get("topic") == "routing") as inbox:
        pusher = asyncio.create_task(_push(request, writer, inbox))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
    return ws


async def _push(request: web.Request, writer: SocketWriter, inbox: asyncio.Queue[dict[str, Any]]) -> None:
    database, dispatcher = request.app[DATABASE], request.app[DISPATCHER]
    while True:
        await writer.send(await live_figures(database, dispatcher))
        try:
            async with asyncio.timeout(_REFRESH_SECONDS):  # not wait_for: on 3.11 it can drop a cancellation
                await inbox.get()
        except TimeoutError:
            continue
        await asyncio.sleep(_COALESCE_SECONDS)
        while not inbox.empty():
            inbox.get_nowait()
