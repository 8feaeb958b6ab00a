"""`contact-center bench load`: the whole platform under a fixed arrival rate, and the machine's ceiling beside it.

Unless `--url` names a running server, the benchmark makes a database of its own on the PostgreSQL server of
DATABASE_URL (dropped afterwards), a Redis key prefix of its own on REDIS_URL, and starts `contact-center serve
--workers N` on a free port with the bench IVR flow (every call queued at once). This process is the client: it
signs agents in on the desktop WebSocket, drives the traffic (`traffic.drive`), audits the store, then sends the
same traffic to a trivial aiohttp server with as many processes (`ceiling`) and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contact_center.db import Database
from contact_center.loadtest.agents import AgentFloor, sign_in
from contact_center.loadtest.audit import audit_store
from contact_center.loadtest.traffic import KINDS, Recorded, Target, drive
from contact_center.migrate import upgrade
from contact_center.models import Role
from contact_center.services.agents import AgentFields, do_create_agent
from contact_center.services.users import do_create_user
from contact_center.settings import ConfigError, Settings
from contact_center.supervisor import listening_socket

__all__ = ["register_bench"]

FLOW = Path(__file__).with_name("flow.yaml")
# The target on this machine: 1,000 inbound contacts a second with p99 under 100 ms.
TARGET_CONTACTS_PER_S = 1000
TARGET_P99_MS = 100.0
# The arrivals a second that carry the target's contacts (API calls are arrivals but not contacts), and how long the
# trivial server is driven at that rate to show whether the machine could carry it at all.
TARGET_REQUESTS_PER_S = TARGET_CONTACTS_PER_S * len(KINDS) / sum(kind != "api" for kind in KINDS)
_AT_TARGET_SECONDS = 10.0
_READY_SECONDS = 120.0
# How long the audit waits for webhooks answered from a backlog to be replayed into the store.
_SETTLE_SECONDS = 90.0


def register_bench(bench_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench load` to the `bench` command group."""
    load = bench_commands.add_parser(
        "load",
        help="drive webhooks, chats and API calls at a fixed rate against serve --workers (PostgreSQL + Redis)",
        description=(
            "Start the server with --workers on a fresh database (or target --url), drive signed Twilio voice and "
            "SMS webhooks, chats and API calls at --rate arrivals a second with agents accepting offers, audit the "
            "store, and run the same load against a trivial aiohttp server (the machine's ceiling)."
        ),
    )
    load.add_argument("--duration", type=float, default=60.0, help="seconds of traffic per run (default 60)")
    load.add_argument("--rate", type=float, default=500.0, help="arrivals a second (default 500)")
    load.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    load.add_argument("--agents", type=int, default=20, help="simulated agents on the desktop (default 20)")
    load.add_argument("--url", help="drive this running server instead (it must use DATABASE_URL and REDIS_URL)")
    load.add_argument("--json", action="store_true", help="print the result as JSON")
    load.set_defaults(func=_bench_load)


@dataclass(frozen=True)
class _Plan:
    settings: Settings
    duration: float
    rate: float
    workers: int
    agents: int
    url: str | None


def _bench_load(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ConfigError("bench load needs DATABASE_URL=postgresql://... (the server runs with --workers)")
    if not settings.redis_url:
        raise ConfigError("bench load needs REDIS_URL (the server processes share routing state in Redis)")
    if args.duration <= 0 or args.rate <= 0 or args.workers < 1 or args.agents < 1:
        raise ConfigError("--duration, --rate, --workers and --agents must be positive")
    if args.url and not settings.twilio_auth_token:
        raise ConfigError("with --url, set TWILIO_AUTH_TOKEN (and PUBLIC_BASE_URL) as the server has them")
    plan = _Plan(settings, args.duration, args.rate, args.workers, args.agents, args.url)
    result = asyncio.run(_bench(plan))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)
    return 0


async def _bench(plan: _Plan) -> dict[str, Any]:
    async with _store(plan) as settings:
        accounts, supervisor = await _seed(settings, plan.agents)
        with _server(plan, settings) as (base_url, public_url, token, server_pid):
            await _wait_ready(base_url, plan.workers)
            real = await _run_real(plan, settings, (base_url, public_url, token, server_pid), accounts, supervisor)
        with _ceiling(plan.workers) as (ceiling_url, ceiling_pids):
            await _wait_ready(ceiling_url, 1)
            ceiling, ceiling_cpu = await _drive_ceiling(ceiling_url, ceiling_pids, plan.rate, plan.duration)
            at_target, at_target_cpu = await _drive_ceiling(
                ceiling_url, ceiling_pids, TARGET_REQUESTS_PER_S, min(plan.duration, _AT_TARGET_SECONDS)
            )
    server = real["server"]
    inbound = [server["endpoints"].get(kind, {}).get("p99_ms", 0.0) for kind in ("voice", "sms", "chat")]
    return {
        "benchmark": "load",
        "rate_per_s": plan.rate,
        "duration_s": plan.duration,
        "workers": plan.workers,
        "agents": plan.agents,
        "cpus": os.cpu_count(),
        **real,
        "ceiling": ceiling.summary(),
        "ceiling_cpu": ceiling_cpu,
        "ceiling_at_target": {
            **at_target.summary(),
            "cpu": at_target_cpu,
            "left_for_platform_ms_per_request": _left_for_platform(at_target_cpu),
        },
        "target": {"contacts_per_s": TARGET_CONTACTS_PER_S, "p99_ms": TARGET_P99_MS},
        "target_met": server["contacts_per_s"] >= TARGET_CONTACTS_PER_S
        and max(inbound) < TARGET_P99_MS
        and not server["errors"],
    }


async def _run_real(
    plan: _Plan,
    settings: Settings,
    server: tuple[str, str, str, int | None],
    accounts: list[tuple[str, str, int]],
    supervisor: tuple[str, str],
) -> dict[str, Any]:
    base_url, public_url, token, server_pid = server
    floor = AgentFloor(base_url, public_url)
    await floor.start(accounts)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as api:
        await sign_in(api, base_url, *supervisor)
        cookies = {cookie.key: cookie.value for cookie in api.cookie_jar}
    try:
        server_cpu, client_cpu = _process_tree_cpu(server_pid), time.process_time()
        recorded: Recorded = await drive(
            Target(base_url, public_url, token, cookies), rate=plan.rate, duration=plan.duration
        )
        cpu = _cpu_figures(
            _spent(server_cpu, _process_tree_cpu(server_pid)), time.process_time() - client_cpu, recorded
        )
        # Let the last offers be answered, and webhooks answered from a backlog reach the store (replayed every
        # 5 s), before the audit; a backlog still replaying is waited for up to _SETTLE_SECONDS, so that what is
        # missing at the end is lost, not late.
        await asyncio.sleep(7.0)
        db = Database(settings.database_url)
        try:
            settled = time.monotonic()
            while True:
                audit = await audit_store(
                    db,
                    calls=recorded.accepted_calls,
                    texts=recorded.accepted_texts,
                    chats=recorded.started_chats,
                    accepted=floor.accepted,
                )
                if not audit.lost or time.monotonic() - settled > _SETTLE_SECONDS:
                    break
                await asyncio.sleep(2.0)
        finally:
            await db.dispose()
    finally:
        await floor.stop()
    return {
        "server": recorded.summary(),
        "cpu": cpu,
        "audit": {**audit.as_dict(), "settled_after_s": round(7.0 + time.monotonic() - settled, 1)},
        "agent_outcomes": dict(floor.outcomes),
    }


@contextlib.asynccontextmanager
async def _store(plan: _Plan) -> AsyncIterator[Settings]:
    """Yield settings on a database and Redis prefix of the run's own (or the configured ones, with --url)."""
    settings = plan.settings
    if plan.url:
        await asyncio.to_thread(upgrade, settings.database_url)
        yield settings
        return
    name = f"cc_load_{secrets.token_hex(4)}"
    url = make_url(settings.database_url)
    await _administer(settings.database_url, f'CREATE DATABASE "{name}"')
    prefix = f"bench:{name}:"
    own = replace(settings, database_url=url.set(database=name).render_as_string(hide_password=False))
    own = replace(own, redis_prefix=prefix)
    try:
        await asyncio.to_thread(upgrade, own.database_url)
        yield own
    finally:
        await _administer(settings.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        assert settings.redis_url is not None
        redis = Redis.from_url(settings.redis_url)
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
        await redis.aclose()


async def _administer(database_url: str, statement: str) -> None:
    """Run a statement that cannot run inside a transaction (CREATE / DROP DATABASE)."""
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _seed(settings: Settings, count: int) -> tuple[list[tuple[str, str, int]], tuple[str, str]]:
    """Create the run's agents (each with a sign-in) and a supervisor; return their credentials."""
    password = secrets.token_urlsafe(12)
    run = secrets.token_hex(3)
    now = datetime.now(UTC)
    db = Database(settings.database_url)
    accounts = []
    try:
        async with db.transaction() as session:
            for number in range(count):
                name = f"load-{run}-agent-{number}"
                agent = await do_create_agent(
                    session, AgentFields(name=name, email=f"{name}@bench.test", capacity={"chat": 2}), now
                )
                username = f"{name}@bench.test"
                await do_create_user(
                    session, username=username, password=password, role=Role.AGENT, now=now, agent_id=agent.id
                )
                accounts.append((username, password, agent.id or 0))
            supervisor = f"load-{run}-supervisor@bench.test"
            await do_create_user(session, username=supervisor, password=password, role=Role.SUPERVISOR, now=now)
    finally:
        await db.dispose()
    return accounts, (supervisor, password)


@contextlib.contextmanager
def _server(plan: _Plan, settings: Settings) -> Iterator[tuple[str, str, str, int | None]]:
    """Start `serve --workers` on a free port (or use --url); yield (url, public url, Twilio token, process id)."""
    if plan.url:
        url = plan.url.rstrip("/")
        yield url, settings.public_base_url or url, settings.twilio_auth_token or "", None
        return
    probe = listening_socket("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    base = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(16)
    # A data directory of the run's own, like its database: a backlog journal left by this run's server must not
    # be claimed and replayed by another deployment's.
    data_dir = tempfile.mkdtemp(prefix="cc-load-")
    env = {
        **os.environ,
        "DATA_DIR": data_dir,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "REDIS_PREFIX": settings.redis_prefix,
        "PUBLIC_BASE_URL": base,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_IVR_FLOW": str(FLOW),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "contact_center.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
        [*command, "--workers", str(plan.workers)],
        env=env,
    )
    try:
        yield base, base, token, server.pid
    finally:
        _stop(server)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def _ceiling(workers: int) -> Iterator[tuple[str, list[int]]]:
    """Start the trivial server with `workers` processes on one socket; yield its URL and their pids."""
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    children = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "contact_center.loadtest.ceiling", "--fd", str(sock.fileno())],
            pass_fds=(sock.fileno(),),
        )
        for _ in range(workers)
    ]
    sock.close()
    try:
        yield f"http://127.0.0.1:{port}", [child.pid for child in children]
    finally:
        for child in children:
            _stop(child)


def _process_tree_cpu(pid: int | None) -> float | None:
    """Return the CPU seconds used so far by a process and its children (Linux `/proc`; None if unknown)."""
    return None if pid is None else _processes_cpu([pid])


def _processes_cpu(pids: list[int]) -> float | None:
    """Return the CPU seconds used so far by these processes and their children, in one pass over `/proc`."""
    if not os.path.isdir("/proc"):
        return None
    wanted = set(pids)
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces: state, ppid, ... utime, stime.
        fields = stat.rsplit(")", 1)[1].split()
        if int(entry) in wanted or int(fields[1]) in wanted:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _spent(before: float | None, after: float | None) -> float | None:
    """CPU seconds between two readings (None if either is unknown)."""
    return None if before is None or after is None else after - before


def _cpu_figures(server: float | None, client_seconds: float, recorded: Recorded) -> dict[str, float | None]:
    """CPU the server processes and this client spent while the traffic ran, in all and per answered request."""
    answered = max(sum(len(values) for values in recorded.latencies.values()), 1)
    return {
        "server_s": None if server is None else round(server, 2),
        "server_ms_per_request": None if server is None else round(server * 1000 / answered, 2),
        "client_s": round(client_seconds, 2),
        "client_ms_per_request": round(client_seconds * 1000 / answered, 2),
    }


async def _drive_ceiling(
    url: str, pids: list[int], rate: float, duration: float
) -> tuple[Recorded, dict[str, float | None]]:
    """Send the traffic to the trivial server; return what it saw and the CPU it and this client spent."""
    server_before, client_before = _processes_cpu(pids), time.process_time()
    recorded = await drive(Target(url, url, "ceiling"), rate=rate, duration=duration)
    server = _spent(server_before, _processes_cpu(pids))
    return recorded, _cpu_figures(server, time.process_time() - client_before, recorded)


def _left_for_platform(cpu: Mapping[str, float | None]) -> float | None:
    """CPU per request that the target leaves the platform once this client and a do-nothing server are paid.

    At the target's request rate the machine's cores buy so many milliseconds of CPU per request; the client and the
    trivial server spend some of it (measured at that rate: per-request costs fall as batches grow). What is left is
    all that the contact center, PostgreSQL and Redis together may spend per request, on this machine, for the
    target to be reachable at all. Negative: not even a server that does nothing could meet it here.
    """
    if cpu["server_ms_per_request"] is None or cpu["client_ms_per_request"] is None:
        return None
    available = (os.cpu_count() or 1) * 1000.0 / TARGET_REQUESTS_PER_S
    return round(available - cpu["client_ms_per_request"] - cpu["server_ms_per_request"], 3)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _wait_ready(base_url: str, answers: int) -> None:
    """Wait until `answers` readiness checks in a row succeed (each worker has started)."""
    deadline = time.monotonic() + _READY_SECONDS
    in_a_row = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while in_a_row < answers * 4:
            if time.monotonic() > deadline:
                raise ConfigError(f"the server at {base_url} did not become ready in {_READY_SECONDS:.0f} s")
            try:
                async with session.get(f"{base_url}/readyz") as response:
                    in_a_row = in_a_row + 1 if response.status == 200 else 0
            except (aiohttp.ClientError, TimeoutError):
                in_a_row = 0
            await asyncio.sleep(0.25)
    # Processes that share one socket and are not accepting yet get no requests: give the slower ones time.
    await asyncio.sleep(3.0 if answers > 1 else 0.0)


def _print_table(result: dict[str, Any]) -> None:
    for run in ("server", "ceiling"):
        figures = result[run]
        print(f"{run}: {figures['throughput_per_s']} req/s, {figures['contacts_per_s']} contacts/s")
        for kind, numbers in figures["endpoints"].items():
            print(f"  {kind:6} n={numbers['count']:6} p50 {numbers['p50_ms']:7.1f} ms  p99 {numbers['p99_ms']:7.1f} ms")
        if figures["errors"]:
            print(f"  errors: {figures['errors']}")
    print(f"cpu while the traffic ran: {result['cpu']}; against the ceiling: {result['ceiling_cpu']}")
    at_target = result["ceiling_at_target"]
    worst_p99 = max((numbers["p99_ms"] for numbers in at_target["endpoints"].values()), default=0.0)
    print(
        f"ceiling at the target's {TARGET_REQUESTS_PER_S:.0f} req/s: {at_target['throughput_per_s']} req/s, "
        f"p99 {worst_p99:.1f} ms, cpu {at_target['cpu']}, "
        f"left for the platform: {at_target['left_for_platform_ms_per_request']} ms a request"
    )
    print(f"audit: {result['audit']}")
    print(f"agents: {result['agent_outcomes']}")
    print(f"target met: {result['target_met']}")
