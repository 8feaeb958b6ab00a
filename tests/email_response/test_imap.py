"""The IMAP reader against a real Dovecot: once per message, resumable, retrying, safe across UIDVALIDITY."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from email_response import imap
from email_response.imap import DONE_KEYWORD, ImapAccount, ImapReader, MemoryStateStore

from .conftest import Dovecot, mfs


def message(number: int, subject: str = "Printer") -> bytes:
    return mfs(f"""\
        From: Ann <ann@example.org>
        To: help@example.test
        Subject: {subject} {number}
        Message-ID: <m{number}@example.org>

        Message number {number}.
        """)


class Recorder:
    """A handler that records what it was given and can be told to fail for some subjects."""

    def __init__(self, fail_subjects: set[str] | None = None) -> None:
        self.seen: list[tuple[int, bytes]] = []
        self.fail_subjects = fail_subjects or set()
        self.arrived = asyncio.Event()

    async def __call__(self, uid: int, raw: bytes) -> None:
        for subject in self.fail_subjects:
            if f"Subject: {subject}".encode() in raw:
                raise RuntimeError(f"database unavailable for {subject}")
        self.seen.append((uid, raw))
        self.arrived.set()

    @property
    def uids(self) -> list[int]:
        return [uid for uid, _ in self.seen]


def account(dovecot: Dovecot, mailbox: str) -> ImapAccount:
    return ImapAccount(dovecot.host, dovecot.port, dovecot.user, dovecot.password, mailbox=mailbox, timeout=5)


async def test_new_messages_are_handled_once_and_marked_done(dovecot: Dovecot, mailbox: str) -> None:
    for number in (1, 2, 3):
        await dovecot.append(mailbox, message(number))
    store, handler = MemoryStateStore(), Recorder()
    reader = ImapReader(account(dovecot, mailbox), store, handler)

    assert await reader.run_once() == 3
    assert handler.uids == [1, 2, 3]
    assert b"Message-ID: <m2@example.org>" in handler.seen[1][1]
    flags = await dovecot.flags(mailbox)
    assert all({"\\Seen", DONE_KEYWORD} <= flags[uid] for uid in (1, 2, 3))
    _uidvalidity, last_uid = store.state[reader.account.state_key]
    assert last_uid == 3

    assert await reader.run_once() == 0
    assert handler.uids == [1, 2, 3]


async def test_restart_resumes_after_the_last_uid(dovecot: Dovecot, mailbox: str) -> None:
    store, first = MemoryStateStore(), Recorder()
    await dovecot.append(mailbox, message(1))
    await dovecot.append(mailbox, message(2))
    await ImapReader(account(dovecot, mailbox), store, first).run_once()

    # Mail arrives while the worker is down; a new reader (a restarted process) shares only the store.
    await dovecot.append(mailbox, message(3))
    await dovecot.append(mailbox, message(4))
    second = Recorder()
    await ImapReader(account(dovecot, mailbox), store, second).run_once()

    assert first.uids == [1, 2]
    assert second.uids == [3, 4]


async def test_restart_without_the_server_flags_still_skips_done_messages(dovecot: Dovecot, mailbox: str) -> None:
    """The stored UID alone is enough: a message someone marked unread again is not handled twice."""
    store = MemoryStateStore()
    await dovecot.append(mailbox, message(1))
    await ImapReader(account(dovecot, mailbox), store, Recorder()).run_once()
    async with dovecot.client() as client:
        await client.select(mailbox)
        await client.uid("store", "1", "-FLAGS.SILENT", f"(\\Seen {DONE_KEYWORD})")

    again = Recorder()
    await ImapReader(account(dovecot, mailbox), store, again).run_once()
    assert again.uids == []


async def test_a_failing_handler_leaves_the_message_for_the_next_round(dovecot: Dovecot, mailbox: str) -> None:
    await dovecot.append(mailbox, message(1))
    await dovecot.append(mailbox, message(2, subject="Boom"))
    await dovecot.append(mailbox, message(3))
    store, handler = MemoryStateStore(), Recorder(fail_subjects={"Boom"})
    reader = ImapReader(account(dovecot, mailbox), store, handler)

    await reader.run_once()
    assert handler.uids == [1, 3]
    assert reader.failed == 1
    flags = await dovecot.flags(mailbox)
    assert DONE_KEYWORD not in flags[2]
    assert DONE_KEYWORD in flags[3]
    # The stored UID must not pass the failed message, or a restart would skip it.
    assert store.state[reader.account.state_key][1] == 1

    handler.fail_subjects.clear()
    await reader.run_once()
    assert handler.uids == [1, 3, 2]  # 3 is not offered again: its keyword says it is done
    assert store.state[reader.account.state_key][1] == 3  # and now the stored UID covers both


async def test_an_expunged_message_is_neither_a_gap_nor_an_error(dovecot: Dovecot, mailbox: str) -> None:
    for number in (1, 2, 3):
        await dovecot.append(mailbox, message(number))
    await dovecot.expunge(mailbox, 2)
    store, handler = MemoryStateStore(), Recorder()

    await ImapReader(account(dovecot, mailbox), store, handler).run_once()
    await dovecot.append(mailbox, message(4))
    await ImapReader(account(dovecot, mailbox), store, handler).run_once()

    assert handler.uids == [1, 3, 4]


async def test_a_uidvalidity_change_reads_the_mailbox_again(dovecot: Dovecot, mailbox: str) -> None:
    """All UIDs are new after a rebuild, so the reader starts over; the app de-duplicates by Message-ID."""
    store, handler = MemoryStateStore(), Recorder()
    await dovecot.append(mailbox, message(1))
    reader = ImapReader(account(dovecot, mailbox), store, handler)
    await reader.run_once()
    old_validity = store.state[reader.account.state_key][0]

    await dovecot.delete(mailbox)
    await dovecot.create(mailbox)
    await dovecot.append(mailbox, message(1))  # the same message, restored without its flags
    await dovecot.append(mailbox, message(2))
    async with dovecot.client() as client:  # a restored message that still carries our keyword is skipped
        assert (await client.append(message(3), mailbox=mailbox, flags=f"(\\Seen {DONE_KEYWORD})")).result == "OK"

    await reader.run_once()
    new_validity, last_uid = store.state[reader.account.state_key]
    assert new_validity != old_validity
    ids = [raw.split(b"Message-ID: ")[1].split(b"\r\n")[0] for _, raw in handler.seen]
    assert ids == [b"<m1@example.org>", b"<m1@example.org>", b"<m2@example.org>"]
    assert last_uid == 3


async def test_idle_wakes_the_reader_when_a_message_arrives(dovecot: Dovecot, mailbox: str) -> None:
    await dovecot.append(mailbox, message(1))
    handler = Recorder()
    # A minute between polls: only IDLE can bring the second message in within the test's few seconds.
    reader = ImapReader(account(dovecot, mailbox), MemoryStateStore(), handler, poll_interval=60, idle_renew=60)
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.wait_for(handler.arrived.wait(), 5)
        handler.arrived.clear()
        await asyncio.sleep(0.2)  # let the reader enter IDLE
        await dovecot.append(mailbox, message(2))
        await asyncio.wait_for(handler.arrived.wait(), 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert handler.uids == [1, 2]
    assert reader.connections == 1


async def test_idle_is_reissued_before_it_expires(dovecot: Dovecot, mailbox: str) -> None:
    handler = Recorder()
    reader = ImapReader(account(dovecot, mailbox), MemoryStateStore(), handler, poll_interval=60, idle_renew=0.3)
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.sleep(1.0)  # three renewals on one connection
        await dovecot.append(mailbox, message(1))
        await asyncio.wait_for(handler.arrived.wait(), 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert reader.connections == 1


async def test_without_idle_the_reader_polls(dovecot: Dovecot, mailbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = imap._Connection.open

    async def open_without_idle(self: imap._Connection) -> None:
        await original(self)
        self.idle_supported = False

    monkeypatch.setattr(imap._Connection, "open", open_without_idle)
    handler = Recorder()
    reader = ImapReader(account(dovecot, mailbox), MemoryStateStore(), handler, poll_interval=0.2)
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.sleep(0.3)
        await dovecot.append(mailbox, message(1))
        await asyncio.wait_for(handler.arrived.wait(), 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert handler.uids == [1]


async def test_an_unreachable_server_is_retried_with_backoff_until_cancelled() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    attempts = 0
    original = imap._Connection.open

    async def counting_open(self: imap._Connection) -> None:
        nonlocal attempts
        attempts += 1
        await original(self)

    reader = ImapReader(
        ImapAccount("127.0.0.1", port, "agent", "secret", timeout=1),
        MemoryStateStore(),
        Recorder(),
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(imap._Connection, "open", counting_open)
        task = asyncio.create_task(reader.run())
        await asyncio.sleep(0.6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # 0.05, 0.1, 0.2, 0.2 ... (halved at most by jitter): several attempts, but not a busy loop.
    assert 3 <= attempts <= 15
    assert reader.connections == 0


async def test_a_wrong_password_raises_in_run_once(dovecot: Dovecot, mailbox: str) -> None:
    wrong = ImapAccount(dovecot.host, dovecot.port, dovecot.user, "wrong", mailbox=mailbox, timeout=5)
    with pytest.raises(imap.ImapError, match="LOGIN"):
        await ImapReader(wrong, MemoryStateStore(), Recorder()).run_once()


async def test_a_stop_swallowed_on_the_way_is_still_seen() -> None:
    seen: list[bool] = []

    async def connecting() -> None:
        # What asyncio.wait_for does when a cancellation and a failed connect meet (Python 3.11): the
        # CancelledError is swallowed, only the connection error comes out; the task stays asked to stop.
        seen.append(imap._stop_requested())
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        seen.append(imap._stop_requested())

    task = asyncio.create_task(connecting())
    await asyncio.sleep(0)
    task.cancel()
    await task
    assert seen == [False, True]
