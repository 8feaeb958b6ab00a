"""A TCP proxy the fault tests cut: in front of PostgreSQL or Dovecot, so the shared services keep running."""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection, `refuse` turns new ones away.

    `cut_after(n)` lets n more bytes through from the target, then drops the connection carrying them: a
    connection lost in the middle of a response.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.refuse = False
        self.connections = 0
        self.downstream_bytes = 0
        self._budget: int | None = None
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()

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
        for writer in list(self._live):
            writer.transport.abort()
        self._live.clear()

    def cut_after(self, budget: int) -> None:
        """Drop the connection that carries the next `budget` bytes from the target."""
        self._budget = budget

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
        self._live.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer, downstream=False),
            self._pipe(up_reader, writer, downstream=True),
            return_exceptions=True,
        )
        for side in (writer, up_writer):
            self._live.discard(side)
            side.transport.abort()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, downstream: bool) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(65536):
                if downstream:
                    self.downstream_bytes += len(data)
                if downstream and self._budget is not None:
                    if len(data) >= self._budget:
                        sink.write(data[: self._budget])
                        self._budget = None
                        await sink.drain()
                        self.cut()
                        return
                    self._budget -= len(data)
                sink.write(data)
                await sink.drain()
