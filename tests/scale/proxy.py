"""A TCP proxy the fault tests cut: in front of PostgreSQL or Dovecot, so the shared services keep running."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Link:
    """One proxied connection: its two sockets, and whether it went silent."""

    sides: tuple[asyncio.StreamWriter, asyncio.StreamWriter]
    silent: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class Proxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection, `refuse` turns new ones away.

    `cut_after(n)` lets n more bytes through from the target, then drops the connection carrying them: a
    connection lost in the middle of a response. `stall_after(n)` and `stall()` make a connection go silent
    instead, both ways, with its sockets left open: what a NAT that forgot it or a hung peer looks like, where
    no reset ever arrives.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.refuse = False
        self.connections = 0
        self.downstream_bytes = 0
        self.upstream = bytearray()  # everything the clients sent, to wait for a command
        self._budget: int | None = None
        self._stall_at_budget = False
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection at once (both sides see a reset or an end of stream)."""
        for link in list(self._links):
            self._drop(link)

    def cut_after(self, budget: int) -> None:
        """Drop the connection that carries the next `budget` bytes from the target."""
        self._budget, self._stall_at_budget = budget, False

    def stall_after(self, budget: int) -> None:
        """Silence the connection that carries the next `budget` bytes from the target."""
        self._budget, self._stall_at_budget = budget, True

    def stall(self) -> None:
        """Silence every open connection: nothing more passes either way, and nothing is closed."""
        for link in self._links:
            link.silent.set()

    def _drop(self, link: _Link) -> None:
        self._links.discard(link)
        link.silent.set()
        link.dropped.set()
        for side in link.sides:
            side.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        link = _Link((writer, up_writer))
        self._links.add(link)
        await asyncio.gather(
            self._pipe(link, reader, up_writer, downstream=False),
            self._pipe(link, up_reader, writer, downstream=True),
            return_exceptions=True,
        )
        self._drop(link)

    async def _pipe(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, downstream: bool
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await _read_unless(source, link.silent):
                if downstream:
                    self.downstream_bytes += len(data)
                else:
                    self.upstream += data
                if downstream and self._budget is not None:
                    if len(data) >= self._budget:
                        sink.write(data[: self._budget])
                        self._budget = None
                        await sink.drain()
                        if self._stall_at_budget:
                            link.silent.set()
                        else:
                            self._drop(link)
                        break
                    self._budget -= len(data)
                sink.write(data)
                await sink.drain()
        # A silent link keeps its sockets open (the other pipe's too) until it is dropped, by `cut` or `stop`.
        if link.silent.is_set():
            await link.dropped.wait()


async def _read_unless(source: asyncio.StreamReader, silent: asyncio.Event) -> bytes:
    """Return the next bytes from source, or nothing once the link went silent."""
    if silent.is_set():
        return b""
    read = asyncio.ensure_future(source.read(65536))
    hush = asyncio.ensure_future(silent.wait())
    try:
        await asyncio.wait({read, hush}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hush.cancel()
        if not read.done():
            read.cancel()
    return b"" if silent.is_set() or read.cancelled() else read.result()
