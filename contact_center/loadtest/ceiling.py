"""The machine's ceiling: a trivial aiohttp server answering the benchmark's requests without doing anything.

It runs with as many processes as the real server (`SO_REUSEPORT`), so the same traffic against it shows what
the client, the kernel and aiohttp cost on this machine before the contact center does any work.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

__all__ = ["ceiling_app", "main"]


async def _answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="<Response/>", content_type="text/xml")


async def _chat(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()
    await ws.send_json({"type": "started", "chat": "ceiling", "token": "-"})
    await ws.close()
    return ws


def ceiling_app() -> web.Application:
    """Return the trivial app: 200 for any request, a `started` frame on the chat socket."""
    app = web.Application()
    app.router.add_get("/chat/ws", _chat)
    app.router.add_route("*", "/{tail:.*}", _answer)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the trivial app on an inherited socket (one process of several)."""
    parser = argparse.ArgumentParser(prog="contact_center.loadtest.ceiling")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(ceiling_app(), sock=socket.socket(fileno=args.fd), print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
