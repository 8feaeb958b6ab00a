"""The worker process: killed mid-mailbox (SIGKILL) it resumes with every message once; it routes through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import select

from contact_center.channels.email.bench import generate_messages
from contact_center.channels.email.cli import read_mailboxes
from contact_center.db import Database
from contact_center.dispatch import build_backend, task_id_for
from contact_center.models import Contact, OutboxMessage
from contact_center.models.email import EmailAutoReply, StoredEmail
from email_response.imap import DONE_KEYWORD
from tests.conftest import DATABASES

from .conftest import Dovecot

TOTAL = 80  # three batches and more of 25: the kill lands after the first, well before the last
REDIS_URL = os.environ.get("ROUTING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def worker_env(tmp_path, dovecot: Dovecot, mailbox: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "IMAP_HOST": dovecot.host,
        "IMAP_PORT": str(dovecot.port),
        "IMAP_USERNAME": dovecot.user,
        "IMAP_PASSWORD": dovecot.password,
        "IMAP_MAILBOXES": mailbox,
        "SMTP_FROM": "help@example.test",
        "LOG_LEVEL": "WARNING",
    }


async def count(db: Database, model) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def committed(path: Path) -> int:
    """Return how many messages the worker's store holds, read without taking SQLite's write lock."""
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM email_messages").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is still being created
            return 0


@pytest.mark.skipif("sqlite" not in DATABASES, reason="the worker process runs on a SQLite file")
async def test_a_killed_worker_resumes_and_takes_every_message_exactly_once(tmp_path, dovecot, mailbox):
    messages = list(generate_messages(TOTAL, seed=11))
    async with dovecot.client() as client:
        for raw in messages:
            assert (await client.append(raw, mailbox=mailbox)).result == "OK"
    env = worker_env(tmp_path, dovecot, mailbox)
    command = [sys.executable, "-m", "contact_center.cli", "email", "worker"]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}")
    try:
        worker = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL)
        for _ in range(600):
            await asyncio.sleep(0.05)
            # A plain WAL reader: a transaction of the store's own (BEGIN IMMEDIATE) would queue behind the
            # worker's batches for the write lock and see the mailbox only when it is done.
            if await asyncio.to_thread(committed, tmp_path / "worker.db") >= 25:
                break
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        stored_at_kill = await count(db, StoredEmail)
        assert 0 < stored_at_kill < TOTAL, "the worker was not stopped in the middle of the mailbox"

        again = await asyncio.create_subprocess_exec(*command, "--once", env=env, stdout=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(again.wait(), 90) == 0

        async with db.transaction() as session:
            ids = list((await session.scalars(select(StoredEmail.message_id))).all())
            contacts = list((await session.scalars(select(Contact.external_id))).all())
            acknowledged = list((await session.scalars(select(EmailAutoReply.case_id))).all())
        outbox = await count(db, OutboxMessage)
        expected = {line.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode() for line in messages}
        assert sorted(ids) == sorted(expected)
        assert Counter(contacts) == Counter(expected)  # one contact per message: none lost, none doubled
        assert max(Counter(acknowledged).values()) == 1  # no case acknowledged twice
        assert outbox == len(acknowledged)
        flags = await dovecot.flags(mailbox)
        assert len(flags) == TOTAL
        assert all(DONE_KEYWORD in found for found in flags.values())
    finally:
        await db.dispose()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_worker_process_queues_its_contacts_in_shared_routing_state(database, settings, dovecot, mailbox):
    prefix = f"test:{secrets.token_hex(6)}:"
    shared = replace(
        settings,
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_username=dovecot.user,
        imap_password=dovecot.password,
        imap_mailboxes=((mailbox, None),),
        smtp_from="help@example.test",
        redis_url=REDIS_URL,
        redis_prefix=prefix,
    )
    async with dovecot.client() as client:
        assert (await client.append(next(generate_messages(1)), mailbox=mailbox)).result == "OK"

    await read_mailboxes(shared, once=True)

    async with database.transaction() as session:
        [contact] = (await session.scalars(select(Contact))).all()
    backend = build_backend(shared)
    try:
        assert await backend.get_task(task_id_for(contact.id or 0)) is not None
    finally:
        close = getattr(backend, "aclose", None)
        if close is not None:
            await close()
        redis = Redis.from_url(REDIS_URL)
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
