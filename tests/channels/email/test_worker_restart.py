"""The worker killed in the middle of a mailbox (SIGKILL, no clean-up): after a restart every message is there once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter

import pytest
from sqlalchemy import func
from sqlmodel import select

from contact_center.channels.email.bench import generate_messages
from contact_center.db import Database
from contact_center.models import Contact, OutboxMessage
from contact_center.models.email import EmailAutoReply, StoredEmail
from email_response.imap import DONE_KEYWORD
from tests.conftest import DATABASES

from .conftest import Dovecot

TOTAL = 160


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
        stored_at_kill = 0
        for _ in range(600):
            await asyncio.sleep(0.05)
            if (tmp_path / "worker.db").exists():
                try:
                    stored_at_kill = await count(db, StoredEmail)
                except Exception:  # noqa: S112 - the schema is still being created
                    continue
                if stored_at_kill >= 25:
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
