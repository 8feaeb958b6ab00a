"""How the Redis backend's FCALLs reach Redis: packed here, pipelined on one connection, two batches on the wire.

Calls issued while others are on the wire wait and leave together as one batch (one write, one read for many
decisions, each still its own atomic ``FCALL``, run in the order issued). Up to two batches are on the wire at once,
so Redis runs one while the client turns the other's replies into the callers' next calls: with one batch at a time,
Redis idled while the client worked and the two took turns (at 132 us of Redis and 65 us of client CPU a decision,
that capped 8 callers at about 5,000 decisions/s where Redis alone could do 7,500). More than two would only queue in
Redis's socket. A burst that meets an empty wire leaves as two halves for the same reason: the first half's callers
get their replies, and issue their next calls, while Redis runs the second. (Redis answers every command it read in
one turn of its event loop together, so the halves leave one turn of the client's loop apart: sent back to back, most
were read as one, and in a benchmark of 8 callers the halves took turns in 55% of batches instead of 98%.)

The connection is taken from the client's pool once and kept, and while the pipe holds it, it has no socket time-out
of its own: redis-py would otherwise time every read (a timer per reply) and run every write in a task of its own
(``wait_for``), which cost the client more CPU than the replies themselves. The pipe times the wire instead, once
per batch: a batch whose replies are not all read within the socket time-out fails like a dropped connection. One
task writes batches, another reads their replies in order; callers only await their own reply, so a cancelled caller
never leaves a reply half-read (its reply is read and dropped). When the connection fails, every batch on it whose
replies had not begun to arrive, and that was not sent twice already, is sent once more on a fresh connection ahead
of newer calls (so that a Redis restarted since the last call costs nothing); the others fail with the error, since
Redis may have run them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["FcallPipe"]

# Batches on the wire at once; see the module docstring.
MAX_ON_WIRE = 2

Call = tuple[tuple[str, ...], "asyncio.Future[Any]"]


@dataclass(slots=True, eq=False)
class _Batch:
    calls: list[Call]
    packed: bytes
    resent: bool = False  # sent once more after a failed connection already
    replied: int = 0


class FcallPipe:
    """Send ``FCALL <function> 1 <args...>`` for many callers on one kept connection of ``client``'s pool."""

    def __init__(self, client: Redis, function: str) -> None:
        self._pool: Any = client.connection_pool  # redis-py leaves get_connection untyped
        self._timeout: float | None = None  # the connection's socket time-out, taken when the pipe takes it
        name = function.encode()
        self._head = b"$5\r\nFCALL\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(name), name)
        self.connection: Any = None
        self._waiting: list[Call] = []
        self._again: deque[_Batch] = deque()  # batches to send once more, first, in their order
        self._on_wire: deque[_Batch] = deque()  # sent on self.connection, replies not all read
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._room: asyncio.Future[None] | None = None

    async def call(self, call_args: tuple[str, ...]) -> Any:
        """Return the reply to one FCALL, or raise the error Redis replied with."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((call_args, future))
        if self._writer is None:
            # Started now, it runs once the calls issued in this turn of the loop have joined it.
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def aclose(self) -> None:
        """Fail the calls not answered, stop reading and writing, and give the connection back to the pool."""
        connection, self.connection = self.connection, None  # the stopped tasks then leave it alone
        closed = ConnectionError("the routing backend was closed")
        unanswered = bool(self._on_wire)
        for batch in (*self._again, *self._on_wire):
            _fail_calls(batch.calls[batch.replied :], closed)
        _fail_calls(self._waiting, closed)
        self._again.clear()
        self._on_wire.clear()
        self._waiting = []
        for task in (self._writer, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if connection is not None:
            if unanswered:  # replies may still come: nobody else must read them
                await connection.disconnect()
            await self._release(connection)

    def _take(self) -> _Batch:
        if self._again:
            return self._again.popleft()
        waiting = self._waiting
        count = len(waiting)
        if not self._on_wire and count > 1:
            count = (count + 1) // 2
        calls, self._waiting = waiting[:count], waiting[count:]
        return _Batch(calls, self._pack(calls))

    def _pack(self, calls: list[Call]) -> bytes:
        parts: list[bytes] = []
        for call_args, _ in calls:
            parts.append(b"*%d\r\n%s" % (len(call_args) + 3, self._head))
            for arg in call_args:
                data = arg.encode()
                parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._again or self._waiting:
                if len(self._on_wire) >= MAX_ON_WIRE:
                    self._room = loop.create_future()
                    await self._room
                    continue
                connection = self.connection
                if connection is None:
                    try:
                        connection = self.connection = await self._pool.get_connection()
                        # See the module docstring; _release puts it back.
                        self._timeout, connection.socket_timeout = connection.socket_timeout, None
                    except Exception as exc:  # Redis is down: tell the callers rather than keep them waiting
                        for batch in self._again:
                            _fail_calls(batch.calls, exc)
                        self._again.clear()
                        _fail_calls(self._waiting, exc)
                        self._waiting = []
                        return
                    continue  # the wait may have let more calls in
                batch = self._take()
                self._on_wire.append(batch)
                try:
                    await connection.send_packed_command(batch.packed, check_health=False)
                except BaseException as exc:
                    await self._failed(connection, exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                if self._reader is None:
                    self._reader = loop.create_task(self._read(connection))
                if len(self._on_wire) == 1 and self._waiting:
                    # The first half of a burst: give Redis a moment to start on it alone, or it reads both halves
                    # at once and answers them together, and the two would never take turns.
                    await asyncio.sleep(0)
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def _read(self, connection: Any) -> None:
        try:
            while self._on_wire and self.connection is connection:
                batch = self._on_wire[0]
                try:
                    async with asyncio.timeout(self._timeout):
                        for _, future in batch.calls[batch.replied :]:
                            try:
                                # Not decoded even if the client decodes: replies carry binary doubles.
                                reply: Any = await connection.read_response(disable_decoding=True)
                            except ResponseError as exc:
                                reply = exc
                            batch.replied += 1
                            if future.done():  # its caller was cancelled
                                continue
                            if isinstance(reply, Exception):
                                future.set_exception(reply)
                            else:
                                future.set_result(reply)
                except TimeoutError:  # asyncio.timeout's: the batch's replies took longer than the socket time-out
                    await self._failed(connection, RedisTimeoutError(f"no reply from Redis within {self._timeout} s"))
                    return
                except BaseException as exc:
                    await self._failed(connection, exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    return
                self._on_wire.popleft()
                # The callers just answered issue their next calls in the coming turn of the loop, before the
                # writer wakes: they leave together.
                if self._room is not None and not self._room.done():
                    self._room.set_result(None)
        finally:
            if self._reader is asyncio.current_task():
                self._reader = None

    async def _failed(self, connection: Any, exc: BaseException) -> None:
        """Drop a failed connection; send again the batches on it that Redis surely never answered, fail the rest."""
        if self.connection is not connection:
            return  # the other task got there first
        self.connection = None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        again: list[_Batch] = []
        retry = isinstance(exc, ConnectionError)
        for batch in self._on_wire:
            if retry and batch.replied == 0 and not batch.resent:
                batch.resent = True
                again.append(batch)
            else:
                _fail_calls(batch.calls[batch.replied :], exc)
        self._on_wire.clear()
        self._again.extendleft(reversed(again))
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
        with contextlib.suppress(Exception):
            await connection.disconnect()
        await self._release(connection)
        if (self._again or self._waiting) and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _release(self, connection: Any) -> None:
        connection.socket_timeout = self._timeout
        await self._pool.release(connection)


def _fail_calls(calls: list[Call], exc: BaseException) -> None:
    for _, future in calls:
        if future.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(exc)
