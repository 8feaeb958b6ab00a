"""What every WebSocket of the app shares: the Origin check and one writer at a time.

Browsers send cookies with a WebSocket handshake from any site and CORS does not apply to it, so a socket that
trusts the session cookie must check `Origin` itself (cross-site WebSocket hijacking).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from contact_center.web.keys import SETTINGS

__all__ = ["SocketWriter", "add_socket_registry", "check_origin", "open_socket", "own_origins"]

_OPEN = web.AppKey("open_sockets", weakref.WeakSet[web.WebSocketResponse])


def own_origins(request: web.Request) -> set[str]:
    """Return the origins this server answers on: the one the request reached and PUBLIC_BASE_URL's."""
    origins = {f"{request.scheme}://{request.host}".lower()}
    base = request.app[SETTINGS].public_base_url
    if base:
        parts = urlsplit(base)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def check_origin(request: web.Request, extra: Collection[str] = ()) -> None:
    """Refuse (403) a handshake whose Origin is missing or not one of ours (or `extra`)."""
    origin = (request.headers.get("Origin") or "").lower().rstrip("/")
    if not origin or origin not in own_origins(request) | set(extra):
        raise web.HTTPForbidden(reason="this socket only accepts pages of this site")


class SocketWriter:
    """Serialises sends on one socket: the reader and the forwarder both write to it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message unless the socket is closing."""
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_json(message)


def add_socket_registry(app: web.Application) -> None:
    """Remember every open socket, and close them all when the app shuts down (else shutdown waits for them)."""
    app[_OPEN] = weakref.WeakSet()

    async def close_all(app: web.Application) -> None:
        sockets = app[_OPEN]
        closing = [ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down") for ws in list(sockets)]
        await asyncio.gather(*closing, return_exceptions=True)

    app.on_shutdown.append(close_all)


async def open_socket(request: web.Request, *, max_msg_size: int) -> web.WebSocketResponse:
    """Complete a WebSocket handshake and register the socket for shutdown."""
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=max_msg_size)
    await ws.prepare(request)
    request.app[_OPEN].add(ws)
    return ws
