"""`serve --workers`: refused where state cannot be shared; under load, a worker killed with SIGKILL is replaced,
its lease taken over, and no text it was sent is lost or stored twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from twilio.request_validator import RequestValidator

from contact_center.cli import main
from contact_center.db import Database
from contact_center.leases import holder_of
from contact_center.migrate import upgrade
from contact_center.models import Channel
from contact_center.supervisor import connection_budget_error
from tests.conftest import DATABASES, POSTGRES_URL
from tests.scale.conftest import free_port
from tests.scale.test_faults import contacts_by_external_id, eventually

TOKEN = "workers-token"


def test_more_than_one_worker_needs_postgresql_and_redis(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["serve", "--workers", "2"]) == 2
    assert "needs PostgreSQL" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    assert main(["serve", "--workers", "2"]) == 2
    assert "needs REDIS_URL" in capsys.readouterr().err
    assert main(["serve", "--workers", "0"]) == 2


def test_workers_whose_pools_would_exhaust_postgresql_are_refused_naming_the_setting(monkeypatch, tmp_path, capsys):
    if "postgresql" not in DATABASES:
        pytest.skip("needs PostgreSQL")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "1000")
    assert main(["serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "DATABASE_POOL_SIZE=1000 may open 2000 connections" in err
    assert "set DATABASE_POOL_SIZE to at most" in err


def test_the_connection_budget_keeps_room_for_the_command_line():
    assert connection_budget_error(2, 30, 100, 3) is None  # 60 + 5 of 97
    assert connection_budget_error(3, 30, 100, 3) is None  # 90 + 5 of 97
    problem = connection_budget_error(4, 30, 100, 3)
    assert problem is not None
    assert "may open 120 connections, but PostgreSQL accepts 97" in problem
    assert "at most 23" in problem  # (97 - 5) // 4
    assert "run fewer workers" in (connection_budget_error(200, 1, 100, 3) or "")


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    """A database of this test's own on the shared server, migrated to head (server processes need a URL)."""
    if "postgresql" not in DATABASES:
        pytest.skip("server processes share PostgreSQL; TEST_DATABASES leaves it out")
    name = f"t_workers_{secrets.token_hex(4)}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def children_of(pid: int) -> set[int]:
    """Return the pids of a process's children (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(raw) for raw in path.read_text().split()} if path.exists() else set()


async def lease_holder_pid(db: Database, name: str) -> int | None:
    """Return the pid of the process holding a lease (holders are named host:pid:random)."""
    holder = await holder_of(db, name, datetime.now(UTC))
    return int(holder.split(":")[1]) if holder else None


async def test_a_worker_killed_under_load_is_replaced_and_nothing_is_lost_or_doubled(
    own_database, private_redis, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": own_database,
        "REDIS_URL": private_redis.url,
        "PUBLIC_BASE_URL": base,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET_KEY": "workers-secret",
        "LEASE_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
        # Texts are stored before they are answered even on this shared, loaded machine, so the check below counts
        # contacts soon after the load; one answered from the backlog of the killed worker would wait in its journal
        # until the replacement claims it (tests/scale/test_backlog.py shows that path).
        "TWILIO_STORE_TIMEOUT": "12",
    }
    command = [sys.executable, "-m", "contact_center.cli", "serve", "--port", str(port), "--workers", "2"]
    server = await asyncio.create_subprocess_exec(*command, env=env)
    db = Database(own_database)
    validator = RequestValidator(TOKEN)
    acknowledged: set[str] = set()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

            async def ready() -> bool:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{base}/readyz") as response:
                        return response.status == 200 and len(children_of(server.pid)) == 2
                return False

            assert await eventually(ready, seconds=90, every=0.25), "the server did not start"
            first = children_of(server.pid)
            holder = await eventually(lambda: lease_holder_pid(db, "sla-timer"), seconds=15)
            assert holder in first

            async def text_in(number: int) -> None:
                """Deliver one text as Twilio does: retried until answered 200."""
                sid = f"SM{number:032d}"
                form = {"MessageSid": sid, "From": f"+1415555{number % 50:04d}", "To": "+18005550100"}
                form["Body"] = f"Order {number}?"
                headers = {"X-Twilio-Signature": validator.compute_signature(f"{base}/twilio/sms", form)}
                for _ in range(50):
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.post(f"{base}/twilio/sms", data=form, headers=headers) as response:
                            if response.status == 200:
                                acknowledged.add(sid)
                                return
                    await asyncio.sleep(0.2)

            async def load() -> None:
                sent = []
                for number in range(80):
                    sent.append(asyncio.create_task(text_in(number)))
                    await asyncio.sleep(1 / 20)  # 20 texts a second for four seconds
                await asyncio.gather(*sent)

            traffic = asyncio.create_task(load())
            await asyncio.sleep(1.0)
            os.kill(holder, signal.SIGKILL)  # the worker that runs the SLA timer, mid-load
            await traffic

            async def replaced() -> set[int] | None:
                now = children_of(server.pid)
                return now if len(now) == 2 and holder not in now else None

            after = await eventually(replaced, seconds=60)
            assert after, "the killed worker was not replaced"

            async def taken_over() -> int | None:
                pid = await lease_holder_pid(db, "sla-timer")
                return pid if pid in after else None

            assert await eventually(taken_over, seconds=20)

        assert len(acknowledged) == 80

        async def all_kept() -> dict[str, int] | None:
            # A text answered while the store was slow waits in its worker's backlog for a few seconds.
            kept = await contacts_by_external_id(db, Channel.SMS)
            return kept if len(kept) >= len(acknowledged) else None

        kept = await eventually(all_kept, seconds=30)
        assert kept == dict.fromkeys(acknowledged, 1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert await asyncio.wait_for(server.wait(), 40) == 0  # a graceful stop of every worker
        finally:
            if server.returncode is None:
                server.kill()
            await db.dispose()
