"""Reading a mailbox over IMAP (`aioimaplib`) so that no message is skipped and none is lost.

The app runs one `ImapReader` per mailbox, as a background task it cancels at shutdown:

    reader = ImapReader(
        ImapAccount(host="imap.example.com", port=993, username="help@example.com", password="...",
                    mailbox="INBOX", use_tls=True),
        store=ImapStateTable(db),              # implements ImapStateStore
        handler=ingest,                        # async def ingest(uid: int, raw: bytes) -> None
    )
    task = asyncio.create_task(reader.run())   # forever: IDLE or polling, reconnecting with backoff
    ...
    task.cancel()

    handled = await reader.run_once()          # or: one connection, everything new, then log out

The store protocol (`ImapStateStore`) keeps, per `ImapAccount.state_key`, the mailbox's UIDVALIDITY and the
highest UID up to which every message is done:

    async def get(self, mailbox: str) -> tuple[int, int] | None     # (uidvalidity, last_uid), None at first
    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None

For each batch of messages with a UID above `last_uid` (in UID order) the reader fetches the raw bytes without
marking them read (`BODY.PEEK[]`), awaits `handler(uid, raw)` for each, and only when they returned marks them
done on the server (`\\Seen` and the keyword `$CaseCommitted`) and then advances the stored UID. With
`concurrency` above 1 the messages of a batch are handled side by side in lanes (`handling_lanes`): a reply waits
for the question it refers to, one sender's messages keep their order. The handler should return only once the
message is committed (stored, raw or as a case), or, with a `batch_scope`, once it is written in the transaction
that scope opens for the batch and commits when it exits (the scope is given the batch's messages by UID, so it
can read what they need at once). If the handler raises, the message stays unmarked, the stored UID does not
move past it, and it is offered again in the next round (after `retry_delay`). Messages after
a failed one are still handled; the keyword keeps them from being offered twice. A batch scope whose exit (the
commit) raises fails the whole batch: nothing of it is marked, and all of it is offered again.

Delivery to the handler is at least once, and the handler must be idempotent by Message-ID
(`ParsedMessage.message_id`, a hash of the raw bytes where it is missing). A second delivery happens when:
- the connection drops after the handler returned but before the flag was stored;
- UIDVALIDITY changed (the server rebuilt the mailbox, all UIDs are new): the reader starts again from UID 1,
  skipping only messages that already carry `$CaseCommitted`;
- the server does not allow keywords (no `\\*` in PERMANENTFLAGS): then messages after a failed one are
  offered again with it.
A restart, a dropped connection or days of downtime resume after the stored UID; an EXPUNGE does not renumber
UIDs, so it needs nothing special (a message expunged before it was fetched is simply not there).

IDLE (RFC 2177) is used when the server offers it and re-issued every `idle_renew` seconds (25 minutes by
default: RFC 2177 §3 says servers may log a client out after 30 minutes, hence "before 29 minutes"); otherwise
the mailbox is polled every `poll_interval` seconds. A lost connection or failed login is retried with
exponential backoff (`backoff_initial` doubling up to `backoff_max`, with jitter), reset once a connection is
up.

A connection can die without a word (a NAT forgets it, a peer hangs, a cable is pulled): nothing arrives and
nothing says so. Three things notice it well before the command time-out (`ImapAccount.timeout`, a ceiling
for a whole command): while an answer is expected, `ImapAccount.read_timeout` seconds without a single byte
end the connection; every `heartbeat` seconds of waiting (in IDLE: DONE, NOOP, IDLE again) the server must
answer, which also keeps NATs and the server's own idle limit at bay; and TCP keepalive probes the peer of a
silent socket. Run one reader per mailbox: two readers on one mailbox would both handle new messages (de-duplication by
Message-ID keeps that correct, but it is wasted work).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from typing import Any, Protocol, TypeVar

import aioimaplib

__all__ = [
    "DONE_KEYWORD",
    "ImapAccount",
    "ImapError",
    "ImapReader",
    "ImapStateStore",
    "MemoryStateStore",
    "MessageHandler",
    "handling_lanes",
]

log = logging.getLogger(__name__)

DONE_KEYWORD = "$CaseCommitted"
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_PERMANENT_FLAGS = re.compile(rb"PERMANENTFLAGS \(([^)]*)\)")
_FETCH_UID = re.compile(rb"UID (\d+)")
_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
# Headers of any sane message fit; the body is not needed to find a message's lane.
_HEADER_BYTES = 64 * 1024

# TCP keepalive on the IMAP socket: probe after this many seconds of silence, every few seconds, give up after
# a few unanswered probes; TCP_USER_TIMEOUT drops a connection whose sent data stays unacknowledged as long.
_KEEPALIVE_IDLE = 10
_KEEPALIVE_INTERVAL = 5
_KEEPALIVE_PROBES = 3

MessageHandler = Callable[[int, bytes], Awaitable[None]]
_T = TypeVar("_T")


class ImapStateStore(Protocol):
    """Where the reader keeps, per mailbox, the UIDVALIDITY and the last UID it has finished."""

    async def get(self, mailbox: str) -> tuple[int, int] | None:
        """Return (uidvalidity, last_uid), or None for a mailbox never read."""
        ...

    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Remember that every message up to last_uid under this uidvalidity is done."""
        ...


class MemoryStateStore:
    """An in-process ImapStateStore, for tests and one-off runs."""

    def __init__(self) -> None:
        self.state: dict[str, tuple[int, int]] = {}

    async def get(self, mailbox: str) -> tuple[int, int] | None:
        """Return the stored state of a mailbox."""
        return self.state.get(mailbox)

    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Store the state of a mailbox."""
        self.state[mailbox] = (uidvalidity, last_uid)


class ImapError(Exception):
    """The server refused a command (login, select, fetch, store) or the connection was lost."""


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str = ""
    mailbox: str = "INBOX"
    use_tls: bool = False
    # The longest a whole command may take.
    timeout: float = 30.0
    # The longest the server may stay silent while an answer is expected: a connection silent for that long is
    # taken for dead (a large FETCH that keeps streaming is fine).
    read_timeout: float = 10.0

    @property
    def state_key(self) -> str:
        """Return the key the reader's state is stored under: one per account and mailbox."""
        return f"{self.username}@{self.host}:{self.port}/{self.mailbox}"


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response: Any, what: str) -> Any:
    if response.result != "OK":
        text = b" ".join(line for line in response.lines if isinstance(line, bytes)).decode("utf-8", "replace")
        raise ImapError(f"{what} failed: {response.result} {text}")
    return response


class _Connection:
    """One logged-in IMAP connection with the mailbox selected."""

    def __init__(self, account: ImapAccount) -> None:
        self.account = account
        self.lost = asyncio.Event()
        self.uidvalidity = 0
        self.keywords_allowed = False
        self.idle_supported = False
        self._loop = asyncio.get_running_loop()
        self.last_received = self._loop.time()
        self.client = aioimaplib.IMAP4(
            host=account.host,
            port=account.port,
            timeout=account.timeout,
            conn_lost_cb=self._on_lost,
            ssl_context=ssl.create_default_context() if account.use_tls else None,
        )
        # aioimaplib keeps no clock of what arrives: note it, for `_call` to tell a silent connection.
        protocol = self.client.protocol
        received = protocol.data_received

        def data_received(data: bytes) -> None:
            self.last_received = self._loop.time()
            received(data)

        protocol.data_received = data_received

    def _on_lost(self, exc: Exception | None) -> None:
        self.lost.set()

    def _drop(self) -> None:
        """Give the connection up: close the socket at once (a dead peer will not answer a LOGOUT)."""
        self.lost.set()
        transport = getattr(self.client.protocol, "transport", None)
        if transport is not None:
            transport.abort()

    async def _call(self, command: Awaitable[_T], what: str) -> _T:
        """Await a command's answer; fail as soon as the connection is lost or silent for `read_timeout`.

        aioimaplib would only notice either at the command's time-out, and not at all for a lost connection.
        """
        started = self._loop.time()
        answer = asyncio.ensure_future(command)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            while True:
                silent_until = max(started, self.last_received) + self.account.read_timeout
                left = silent_until - self._loop.time()
                if left <= 0:
                    self._drop()
                    raise ImapError(f"{what}: no answer for {self.account.read_timeout:g}s")
                done, _ = await asyncio.wait({answer, lost}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                if answer in done:
                    return answer.result()
                if lost in done:
                    raise ImapError(f"connection lost during {what}")
        finally:
            answer.cancel()
            lost.cancel()

    async def open(self) -> None:
        await self._call(self.client.wait_hello_from_server(), "connect")
        self._keep_alive()
        login = _check(
            await self._call(self.client.login(self.account.username, self.account.password), "LOGIN"), "LOGIN"
        )
        selected = _check(await self._call(self.client.select(_quote(self.account.mailbox)), "SELECT"), "SELECT")
        lines = b"\n".join(line for line in selected.lines if isinstance(line, bytes))
        found = _UIDVALIDITY.search(lines)
        if found is None:
            raise ImapError("SELECT gave no UIDVALIDITY")
        self.uidvalidity = int(found.group(1))
        flags = _PERMANENT_FLAGS.search(lines)
        self.keywords_allowed = flags is not None and b"\\*" in flags.group(1)
        login_caps = b" ".join(line for line in login.lines if isinstance(line, bytes))
        self.idle_supported = self.client.has_capability("IDLE") or b" IDLE" in login_caps

    def _keep_alive(self) -> None:
        """Have the kernel probe a silent connection, and drop one whose data stays unacknowledged."""
        transport = getattr(self.client.protocol, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        options = {
            "TCP_KEEPIDLE": _KEEPALIVE_IDLE,
            "TCP_KEEPINTVL": _KEEPALIVE_INTERVAL,
            "TCP_KEEPCNT": _KEEPALIVE_PROBES,
            "TCP_USER_TIMEOUT": 1000 * (_KEEPALIVE_IDLE + _KEEPALIVE_INTERVAL * _KEEPALIVE_PROBES),
        }
        for name, value in options.items():
            option = getattr(socket, name, None)  # Linux has them all; other systems some
            if option is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, option, value)

    def ensure_alive(self) -> None:
        if self.lost.is_set():
            raise ImapError("connection lost")

    async def _uid_search(self, criteria: str) -> set[int]:
        response = _check(await self._call(self.client.uid_search(criteria, charset=None), "UID SEARCH"), "UID SEARCH")
        uids: set[int] = set()
        for line in response.lines[:-1]:
            if isinstance(line, bytes):
                uids.update(int(token) for token in line.split() if token.isdigit())
        return uids

    async def search_after(self, last_uid: int) -> tuple[list[int], set[int]]:
        """Return the UIDs above last_uid, ascending, and those among them already marked done."""
        self.ensure_alive()
        # RFC 3501 §6.4.8: "UID n:*" always includes the highest UID, even when it is below n.
        uids = sorted(uid for uid in await self._uid_search(f"UID {last_uid + 1}:*") if uid > last_uid)
        done: set[int] = set()
        if uids and self.keywords_allowed:
            done = await self._uid_search(f"UID {last_uid + 1}:* KEYWORD {DONE_KEYWORD}")
        return uids, done

    async def fetch(self, uids: list[int]) -> dict[int, bytes]:
        self.ensure_alive()
        uid_set = ",".join(str(uid) for uid in uids)
        response = _check(
            await self._call(self.client.uid("fetch", uid_set, "(UID BODY.PEEK[])"), "UID FETCH"), "UID FETCH"
        )
        found: dict[int, bytes] = {}
        lines = response.lines
        for index, line in enumerate(lines):
            if not isinstance(line, bytearray):  # aioimaplib gives literals (the messages) as bytearrays
                continue
            # A literal follows the line that announced it; the UID is there or on the line closing the item.
            for neighbour in (lines[index - 1] if index else b"", lines[index + 1] if index + 1 < len(lines) else b""):
                match = _FETCH_UID.search(bytes(neighbour)) if isinstance(neighbour, bytes) else None
                if match:
                    found[int(match.group(1))] = bytes(line)
                    break
        return found

    async def mark_done(self, uids: list[int]) -> None:
        self.ensure_alive()
        flags = f"(\\Seen {DONE_KEYWORD})" if self.keywords_allowed else "(\\Seen)"
        uid_set = ",".join(str(uid) for uid in uids)
        _check(await self._call(self.client.uid("store", uid_set, "+FLAGS.SILENT", flags), "UID STORE"), "UID STORE")

    async def wait_for_news(self, idle_renew: float, poll_interval: float, heartbeat: float) -> None:
        """Return when the mailbox may have changed: on an IDLE push, at IDLE renewal, or after a poll interval.

        Every `heartbeat` seconds of the wait the server is asked for a sign of life (in IDLE: DONE, NOOP, IDLE
        again), so a connection that died silently is noticed then, not at the end of the wait.
        """
        self.ensure_alive()
        end = self._loop.time() + (idle_renew if self.idle_supported else poll_interval)
        while True:
            wait = max(0.0, min(heartbeat, end - self._loop.time()))
            if self.idle_supported:
                news = await self._idle(wait)
            else:
                await _race(asyncio.sleep(wait), self.lost.wait())
                self.ensure_alive()
                news = False
            if news or self._loop.time() >= end:
                return
            noop = _check(await self._call(self.client.noop(), "NOOP"), "NOOP")
            # A server reports new mail in the answer to NOOP too (RFC 3501 §6.1.2).
            if any(isinstance(line, bytes) and line.endswith((b"EXISTS", b"RECENT")) for line in noop.lines):
                return

    async def _idle(self, wait: float) -> bool:
        """IDLE for up to `wait` seconds; tell whether the server pushed something meanwhile."""
        idle = await self._call(self.client.idle_start(timeout=wait), "IDLE")
        try:
            pushed: object = None
            with contextlib.suppress(TimeoutError):
                pushed = await _race(
                    self.client.wait_server_push(timeout=wait + self.account.read_timeout), self.lost.wait()
                )
            self.ensure_alive()
            # RFC 2177: DONE ends the IDLE; the tagged OK that answers it must arrive before the next command.
            self.client.idle_done()
            await self._call(idle, "IDLE")
        finally:
            idle.cancel()
        return isinstance(pushed, list)

    async def close(self) -> None:
        if not self.lost.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.logout(), 2)
        transport = getattr(self.client.protocol, "transport", None)
        if transport is not None:
            transport.close()
        for task in [*self.client.tasks, *self.client.protocol.tasks]:
            task.cancel()
        # Let the transport finish closing inside this loop, so no unclosed-socket warning is left behind.
        await asyncio.sleep(0)


async def _race(first: Awaitable[Any], second: Awaitable[Any]) -> object:
    """Await whichever finishes first, cancel the other; return the winner's result or re-raise its error."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return next(task for task in tasks if task in done).result()


@dataclass(frozen=True)
class _Round:
    found: int
    handled: int
    failures: int


def _stop_requested() -> bool:
    """Tell whether this task was asked to stop, even if the CancelledError never reached us.

    A cancellation that lands as a connection attempt fails is swallowed by ``asyncio.wait_for`` (Python 3.11): the
    caller sees only the connection error, and a retry loop would go on for ever.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class ImapReader:
    """Hands every new message of one mailbox to a handler exactly once per successful handling."""

    def __init__(
        self,
        account: ImapAccount,
        store: ImapStateStore,
        handler: MessageHandler,
        *,
        poll_interval: float = 60.0,
        idle_renew: float = 25 * 60.0,
        heartbeat: float = 60.0,
        retry_delay: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        batch_size: int = 25,
        concurrency: int = 1,
        batch_scope: Callable[[Mapping[int, bytes]], contextlib.AbstractAsyncContextManager[object]] | None = None,
    ) -> None:
        self.account = account
        self.store = store
        self.handler = handler
        self.poll_interval = poll_interval
        self.idle_renew = idle_renew
        # Seconds of waiting (IDLE or between polls) after which the server must show it is there.
        self.heartbeat = heartbeat
        self.retry_delay = retry_delay
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.batch_size = batch_size
        # Messages of a batch handled at once (in independent lanes, `handling_lanes`); 1: one after another.
        self.concurrency = max(1, concurrency)
        # Wraps the handling of each batch, given its messages by UID: e.g. one transaction, one commit for many
        # messages, or the store read once for all of them.
        self.batch_scope = batch_scope
        # Counters for health checks and the benchmark.
        self.handled = 0
        self.failed = 0
        self.connections = 0

    async def run(self) -> None:
        """Read the mailbox until cancelled: handle what is new, wait for more, reconnect after failures."""
        delay = self.backoff_initial
        while True:
            connection = _Connection(self.account)
            try:
                await connection.open()
                self.connections += 1
                delay = self.backoff_initial
                while True:
                    result = await self._round(connection)
                    if result.failures:
                        await _race(asyncio.sleep(self.retry_delay), connection.lost.wait())
                    elif not result.found:
                        # Only an empty search means we are up to date: mail that arrived during a round was
                        # reported in that round's responses, and IDLE would not announce it again.
                        await connection.wait_for_news(self.idle_renew, self.poll_interval, self.heartbeat)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection is retried after a pause.
                log.warning("IMAP %s: %s; reconnecting in %.1fs", self.account.state_key, exc, delay)
            finally:
                await connection.close()
            if _stop_requested():
                raise asyncio.CancelledError
            # Jitter keeps several workers that lost the same server from reconnecting in lockstep.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.backoff_max)

    async def run_once(self) -> int:
        """Connect, handle every new message, log out; return how many were handled."""
        connection = _Connection(self.account)
        before = self.handled
        try:
            await connection.open()
            self.connections += 1
            # Go again while rounds find mail (more may have arrived meanwhile), but leave failures for next time.
            while True:
                result = await self._round(connection)
                if not result.handled or result.failures:
                    break
        finally:
            await connection.close()
        return self.handled - before

    async def _round(self, connection: _Connection) -> _Round:
        """Offer every message above the stored UID to the handler, batch by batch in UID order."""
        key = self.account.state_key
        state = await self.store.get(key)
        if state is None or state[0] != connection.uidvalidity:
            if state is not None:
                log.warning(
                    "IMAP %s: UIDVALIDITY changed from %d to %d; reading the mailbox again from the start",
                    key,
                    state[0],
                    connection.uidvalidity,
                )
            await self.store.set(key, connection.uidvalidity, 0)
            last_uid = 0
        else:
            last_uid = state[1]

        failures = 0
        handled = 0
        advancing = True
        uids, done = await connection.search_after(last_uid)
        for offset in range(0, len(uids), self.batch_size):
            batch = uids[offset : offset + self.batch_size]
            wanted = [uid for uid in batch if uid not in done]
            messages = await connection.fetch(wanted) if wanted else {}
            succeeded = await self._handle_batch(messages)
            failed = set(messages) - succeeded
            failures += len(failed)
            self.failed += len(failed)
            if succeeded:
                # Only now, with every one of them committed, are they flagged done: one STORE for the batch.
                await connection.mark_done(sorted(succeeded))
                handled += len(succeeded)
                self.handled += len(succeeded)
            # The stored UID moves up to the last message before the first failure; a UID without data was
            # expunged before we fetched it and a flagged one was handled before: both count as done.
            top = None
            for uid in batch:
                if uid in failed:
                    advancing = False
                if not advancing:
                    break
                top = uid
            if top is not None:
                await self.store.set(key, connection.uidvalidity, top)
        return _Round(found=len(uids) - len(done), handled=handled, failures=failures)

    async def _handle_batch(self, messages: dict[int, bytes]) -> set[int]:
        """Handle a batch inside the batch scope; return the UIDs committed (none when the scope failed)."""
        if self.batch_scope is None or not messages:
            return await self._handle(messages)
        try:
            async with self.batch_scope(messages):
                succeeded = await self._handle(messages)
        except Exception:
            log.exception("IMAP %s: the batch of %d failed as a whole", self.account.state_key, len(messages))
            return set()
        return succeeded

    async def _handle(self, messages: dict[int, bytes]) -> set[int]:
        """Hand a batch to the handler, lanes side by side; return the UIDs it committed."""
        succeeded: set[int] = set()
        limit = asyncio.Semaphore(self.concurrency)

        async def run(lane: list[int]) -> None:
            async with limit:
                # Message-IDs of failed messages: a reply to one of them waits for the next round with it, so
                # it threads onto its question instead of starting a case of its own.
                failed_ids: set[str] = set()
                for uid in lane:
                    own, wanted = _lane_keys(messages[uid])
                    ids = {key for key in own if key.startswith("id:")}
                    if (wanted - own) & failed_ids:
                        failed_ids |= ids
                        continue
                    try:
                        await self.handler(uid, messages[uid])
                    except Exception:
                        # Unmarked, and the stored UID stays below it: the next round retries it.
                        log.exception("IMAP %s: handler failed for UID %d", self.account.state_key, uid)
                        failed_ids |= ids
                        continue
                    succeeded.add(uid)

        lanes = handling_lanes({uid: messages[uid] for uid in sorted(messages)})
        # With a concurrency of 1 the semaphore lets the lanes run one after another, in order of their first UID.
        await asyncio.gather(*(run(lane) for lane in lanes))
        return succeeded


def _lane_keys(raw: bytes) -> tuple[set[str], set[str]]:
    """Return (own keys, keys it depends on) of a message: its sender and Message-ID, and what it refers to."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:_HEADER_BYTES], headersonly=True)
        sender = parseaddr(str(headers.get("From") or ""))[1].lower()
        message_id = str(headers.get("Message-ID") or "").strip()
        refs = " ".join(str(headers.get(name) or "") for name in ("In-Reply-To", "References"))
    except Exception:  # unreadable headers: a lane of its own, the intake keeps it as unprocessable
        return set(), set()
    own = {f"from:{sender}"} if sender else set()
    if message_id:
        own.add(f"id:{message_id}")
    return own, {f"id:{ref}" for ref in _MESSAGE_IDS.findall(refs)} | own


def handling_lanes(messages: dict[int, bytes]) -> list[list[int]]:
    """Split a batch (in UID order) into lanes that may be handled side by side.

    A message goes into the lane of an earlier message of the same batch from the same sender or that it refers
    to (In-Reply-To, References), so a reply is never taken in before the question it threads onto, and one
    customer's messages keep their order. Everything else is independent: distinct senders, distinct cases.
    """
    lane_of: dict[str, int] = {}
    lanes: list[list[int]] = []
    for uid, raw in messages.items():
        own, wanted = _lane_keys(raw)
        joined = sorted({lane_of[key] for key in wanted if key in lane_of})
        if not joined:
            lanes.append([uid])
            index = len(lanes) - 1
        else:
            # Several earlier lanes it depends on become one (rare: a reply quoting two customers' threads).
            index = joined[0]
            for other in joined[1:]:
                lanes[index].extend(lanes[other])
                lanes[other] = []
                lane_of.update({key: index for key, value in lane_of.items() if value == other})
            lanes[index].sort()
            lanes[index].append(uid)
        for key in own:
            lane_of[key] = index
    return [lane for lane in lanes if lane]
