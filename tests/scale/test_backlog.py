"""Texts Twilio was told were received while PostgreSQL was away survive a kill -9 of the worker that took them.

The server's database is cut in PostgreSQL itself (`ALLOW_CONNECTIONS false`, which binds superusers too, and
its sessions terminated), so the server process sees what it would see if the server went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import aiohttp
import asyncpg
from twilio.request_validator import RequestValidator

from contact_center.channels.twilio.web import BACKLOG_DIRECTORY
from contact_center.db import Database
from contact_center.models import Channel
from tests.conftest import POSTGRES_URL
from tests.scale.conftest import free_port
from tests.scale.test_faults import contacts_by_external_id, eventually
from tests.scale.test_workers import own_database

__all__ = ["own_database"]

TOKEN = "backlog-token"


class Server:
    """One `serve` process on a fixed port and data directory, talking to PostgreSQL through a proxy."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, http: aiohttp.ClientSession) -> None:
        command = [sys.executable, "-m", "contact_center.cli", "serve", "--port", str(self.port)]
        self.process = await asyncio.create_subprocess_exec(*command, env=self.env)

        async def ready() -> bool:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{self.base}/readyz") as response:
                    return response.status == 200
            return False

        assert await eventually(ready, seconds=90, every=0.25), "the server did not start"

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def allow_connections(database_url: str, allowed: bool) -> None:
    """Let sessions into a database again, or refuse new ones and end the open ones."""
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()


async def test_texts_kept_while_postgresql_is_cut_are_stored_once_after_their_worker_is_killed(own_database, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": own_database,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET_KEY": "backlog-secret",
        "LOG_LEVEL": "WARNING",
        "TWILIO_STORE_TIMEOUT": "1",
    }
    env.pop("REDIS_URL", None)
    validator = RequestValidator(TOKEN)
    db = Database(own_database)
    first, second = Server(port, env), Server(port, env)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

            async def text_in(number: int) -> int:
                form = {"MessageSid": f"SM{number:032d}", "From": f"+1415555{number % 3:04d}", "To": "+18005550100"}
                form["Body"] = f"Where is order {number}?"
                url = f"{first.base}/twilio/sms"
                headers = {"X-Twilio-Signature": validator.compute_signature(url, form)}
                async with http.post(url, data=form, headers=headers) as response:
                    return response.status

            await first.start(http)
            assert [await text_in(n) for n in range(3)] == [200] * 3
            await allow_connections(own_database, False)  # PostgreSQL is gone: sessions end, new ones refused
            assert await asyncio.gather(*(text_in(n) for n in range(3, 10))) == [200] * 7
            journals = list((Path(tmp_path) / BACKLOG_DIRECTORY).iterdir())
            assert [j.stat().st_size > 0 for j in journals] == [True]
            await first.kill()  # what Twilio was told it received now lives only in the journal
            await allow_connections(own_database, True)

            await second.start(http)

            async def all_kept() -> dict[str, int] | None:
                kept = await contacts_by_external_id(db, Channel.SMS)
                return kept if len(kept) >= 10 else None

            kept = await eventually(all_kept, seconds=40)
            assert kept == {f"SM{n:032d}": 1 for n in range(10)}
            assert await text_in(4) == 200  # Twilio retrying a text already kept changes nothing
            assert await contacts_by_external_id(db, Channel.SMS) == kept
            assert not journals[0].exists()  # the dead worker's journal was taken over, then deleted
    finally:
        await allow_connections(own_database, True)
        await second.stop()
        await first.stop()
        await db.dispose()
