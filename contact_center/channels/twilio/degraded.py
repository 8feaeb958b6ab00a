"""What the Twilio channel owes the case store while it cannot be reached, kept on disk until the store takes it.

A caller must hear something within seconds whatever the database is doing, so a webhook that cannot reach the
store answers with safe TwiML (the general queue, then voicemail) and leaves a note here of what it could not
write: the call's arrival, its voicemail, its end, an inbound text. A background loop replays the notes, in
order, once the store answers; every replay is idempotent (contacts are keyed by CallSid or MessageSid).

Twilio is told a text or call was received, so the note must outlive the process. Each process appends its notes
to a journal of its own under `DATA_DIR/twilio-backlog/` (one JSON line each) and fsyncs it before the webhook is
answered; a note is marked done only after its replay committed. A process holds an exclusive `flock` on its
journal while it lives; the kernel drops that lock when the process dies (kill -9 included), so a process that
can take the lock on another's journal knows its owner is gone: it copies the notes still owed into its own
journal, fsyncs, deletes the orphan and replays them with its own. A crash between a replay's commit and its
"done" line only means the note is replayed once more, which changes nothing.

At most `limit` notes are kept. A note is a promise (Twilio was told the call or text was received), so a full
backlog never drops one it holds: it refuses the new note with `BacklogFull`, the webhook answers 503, and Twilio
retries or sends the call or text to the number's fallback URL. Notes taken over from a dead process are promises
too: they are always adopted, even past the limit, and new notes wait until replay makes room again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from contact_center.group_commit import GroupCommit

__all__ = ["Backlog", "BacklogFull", "CallArrived", "CallEnded", "Pending", "SmsArrived", "VoicemailLeft"]

log = logging.getLogger(__name__)

_SUFFIX = ".journal"


class BacklogFull(Exception):
    """The backlog holds `limit` notes already: the new one was not kept, so the webhook must not claim it was."""


@dataclass(frozen=True)
class CallArrived:
    """A call answered with the degraded TwiML: it needs a contact, a case and a place in the queue."""

    call_sid: str
    caller: str | None
    at: datetime


@dataclass(frozen=True)
class VoicemailLeft:
    """A voicemail recorded while the store was down: it goes on the caller's case."""

    call_sid: str
    caller: str | None
    url: str
    duration: int
    at: datetime


@dataclass(frozen=True)
class CallEnded:
    """A call that ended while the store was down: its contact ends and leaves the queue."""

    call_sid: str
    status: str
    at: datetime


@dataclass(frozen=True)
class SmsArrived:
    """A text that arrived while the store was down, with its webhook form."""

    form: Mapping[str, str]
    at: datetime


Pending = CallArrived | VoicemailLeft | CallEnded | SmsArrived
_KINDS: dict[str, type[Pending]] = {
    "call": CallArrived,
    "voicemail": VoicemailLeft,
    "call_ended": CallEnded,
    "sms": SmsArrived,
}
_KIND_OF = {kind: name for name, kind in _KINDS.items()}


def _encode(seq: int, item: Pending) -> bytes:
    fields = {**asdict(item), "at": item.at.isoformat()}
    if isinstance(item, SmsArrived):
        fields["form"] = dict(item.form)
    return json.dumps({"seq": seq, "kind": _KIND_OF[type(item)], "note": fields}).encode() + b"\n"


def _decode(fields: dict[str, Any], kind: str) -> Pending:
    return _KINDS[kind](**{**fields, "at": datetime.fromisoformat(fields["at"])})


def _owed(lines: list[bytes]) -> list[Pending]:
    """Return the notes a journal's lines still owe, in order (a line torn by a crash is left out)."""
    notes: dict[int, Pending] = {}
    for line in lines:
        try:
            record = json.loads(line)
            if "done" in record:
                notes.pop(int(record["done"]), None)
            else:
                notes[int(record["seq"])] = _decode(record["note"], record["kind"])
        except (ValueError, KeyError, TypeError):
            log.warning("Twilio backlog: unreadable journal line %r skipped", line[:200])
    return [notes[seq] for seq in sorted(notes)]


class Backlog:
    """Notes of writes the store could not take yet, journalled to disk and replayed in order by `flush`.

    Without a directory (or before `open`) the notes live in memory only.
    """

    def __init__(self, directory: Path | None = None, *, limit: int = 10_000) -> None:
        self.directory = directory
        self.limit = limit
        self._items: list[tuple[int, Pending]] = []
        self._seq = 0
        self._journal: IO[bytes] | None = None
        self._path: Path | None = None
        # One writer of the journal at a time; `flush` also holds `_replaying` so replays never overlap.
        self._writing = asyncio.Lock()
        self._adds: GroupCommit[Pending, bool] = GroupCommit(self._add_many, name="twilio-backlog", limit=1000)
        self._replaying = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._items)

    async def open(self) -> int:
        """Start this process's journal and take over the journals of dead processes; return the notes taken."""
        if self.directory is None:
            return 0
        directory = self.directory
        name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
        self._path = directory / name

        def start() -> IO[bytes]:
            directory.mkdir(parents=True, exist_ok=True)
            journal = (directory / name).open("ab")
            fcntl.flock(journal.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return journal

        self._journal = await asyncio.to_thread(start)
        return await self.claim()

    async def aclose(self) -> None:
        """Close the journal (its lock goes with it); an empty one is deleted, one with notes waits for a claim."""
        async with self._writing:
            journal, path = self._journal, self._path
            self._journal = None
            if journal is None or path is None:
                return
            empty = not self._items

            def close() -> None:
                if empty:
                    path.unlink(missing_ok=True)
                journal.close()

            await asyncio.to_thread(close)

    async def claim(self) -> int:
        """Take over the notes of every journal whose process is gone; return how many."""
        if self._journal is None or self.directory is None:
            return 0
        taken = 0
        for orphan in await asyncio.to_thread(self._orphans):
            # Held while the thread copies the notes: it numbers them and appends to `_items` and the journal.
            async with self._writing:
                taken += await asyncio.to_thread(_adopt, orphan, self._take_over)
        if taken:
            log.warning("Twilio backlog: took over %d notes of a process that died", taken)
        return taken

    def _orphans(self) -> list[Path]:
        assert self.directory is not None
        return sorted(p for p in self.directory.glob(f"*{_SUFFIX}") if p != self._path)

    def _take_over(self, notes: list[Pending]) -> None:
        """Copy a dead process's notes into this journal, durably, before its journal is deleted (in a thread)."""
        if not notes:
            return
        lines = []
        for note in notes:
            self._seq += 1
            lines.append(_encode(self._seq, note))
            self._items.append((self._seq, note))
        assert self._journal is not None
        self._journal.write(b"".join(lines))
        self._sync()

    async def add(self, item: Pending) -> None:
        """Keep a note for later, on disk before this returns; raise `BacklogFull` when `limit` notes wait already.

        Notes of concurrent webhooks share one write and one fsync (group commit): while the store is away every
        webhook lands here, and one fsync each, one after another, would make Twilio wait on the disk.
        """
        if not await self._adds.put(item):
            log.error("Twilio backlog full (%d notes): refused %r", len(self._items), item)
            raise BacklogFull(f"the Twilio backlog holds {len(self._items)} notes already")

    async def _add_many(self, items: Sequence[Pending]) -> list[bool]:
        """Journal the notes that fit under the limit, in arrival order; say for each whether it was kept."""
        async with self._writing:
            room = max(self.limit - len(self._items), 0)
            numbered = []
            for item in items[:room]:
                self._seq += 1
                numbered.append((self._seq, item))
            if self._journal is not None and numbered:
                lines = b"".join(_encode(seq, item) for seq, item in numbered)
                await asyncio.to_thread(self._append, lines, sync=True)
            self._items.extend(numbered)
        return [index < room for index in range(len(items))]

    async def flush(self, apply: Callable[[Pending], Awaitable[None]]) -> int:
        """Replay notes in order until one fails (the store is still down); return how many were written."""
        async with self._replaying:
            done = 0
            while self._items:
                seq, item = self._items[0]
                try:
                    await apply(item)
                except Exception:
                    log.warning("Twilio backlog: %d notes wait for the case store", len(self._items), exc_info=True)
                    break
                async with self._writing:
                    if self._items and self._items[0][0] == seq:
                        self._items.pop(0)
                    await self._mark_done(seq)
                done += 1
            async with self._writing:
                if not self._items and self._journal is not None and done:
                    # Everything owed is written: start the journal afresh rather than let it grow.
                    await asyncio.to_thread(self._truncate)
            return done

    async def _mark_done(self, seq: int) -> None:
        # Not fsynced: a "done" lost in a crash only replays an idempotent note once more.
        if self._journal is not None:
            await asyncio.to_thread(self._append, json.dumps({"done": seq}).encode() + b"\n", sync=False)

    def _append(self, line: bytes, *, sync: bool) -> None:
        assert self._journal is not None
        self._journal.write(line)
        if sync:
            self._sync()
        else:
            self._journal.flush()

    def _sync(self) -> None:
        assert self._journal is not None
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _truncate(self) -> None:
        assert self._journal is not None
        self._journal.flush()
        self._journal.truncate(0)
        os.fsync(self._journal.fileno())


def _adopt(orphan: Path, take_over: Callable[[list[Pending]], None]) -> int:
    """Take a journal's notes if its process is gone (its lock is free); return how many (run in a thread)."""
    try:
        handle = orphan.open("rb")
    except FileNotFoundError:
        return 0  # another process took it over first
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its process is alive
        with contextlib.suppress(FileNotFoundError):
            if os.stat(orphan).st_ino != os.fstat(handle.fileno()).st_ino:
                return 0  # taken over and replaced while this process waited
            notes = _owed(handle.read().splitlines())
            take_over(notes)
            orphan.unlink()
            return len(notes)
        return 0
