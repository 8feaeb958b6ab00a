"""`contact-center serve --workers N`: N server processes on one port, kept running by a small supervisor.

The parent binds the listening socket once and starts N children (`python -m contact_center.supervisor --fd F`),
each serving the whole app on the inherited socket; the kernel hands every new connection to one of them. The
parent only supervises: a child that dies is started again (with a pause when children die at once after
starting, so a broken configuration does not spin), and SIGTERM or SIGINT is passed on to every child, which
finishes its requests and stops (aiohttp's graceful shutdown), before the parent exits.

Processes share nothing but the case store and Redis, so more than one needs PostgreSQL and REDIS_URL: SQLite
has one writer per file and the in-memory routing state lives inside one process.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from sqlalchemy import text
from sqlalchemy.engine import make_url

from contact_center.db import Database
from contact_center.settings import ConfigError, Settings

__all__ = [
    "check_connection_budget",
    "check_workers",
    "connection_budget_error",
    "listening_socket",
    "serve_on_socket",
    "supervise",
]

log = logging.getLogger(__name__)

# PostgreSQL connections left over for everything but the server processes: migrations, the command line, psql.
_SPARE_CONNECTIONS = 5
# A child that dies sooner than this after starting counts as a crash on start-up: wait before the next try.
_QUICK_DEATH = 2.0
_MAX_PAUSE = 10.0
_STOP_GRACE = 30.0


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse a worker count the configuration cannot share state for."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if workers == 1:
        return
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        raise ConfigError(
            f"--workers {workers} needs PostgreSQL (DATABASE_URL=postgresql://...): SQLite has one writer per file"
        )
    if not settings.redis_url:
        raise ConfigError(
            f"--workers {workers} needs REDIS_URL: without Redis the routing state lives inside one process"
        )


def connection_budget_error(workers: int, pool_size: int, max_connections: int, reserved: int) -> str | None:
    """Say why `workers` pools of `pool_size` would not fit PostgreSQL's connection limit, or return None."""
    accepted = max_connections - reserved
    wanted = workers * pool_size
    if wanted + _SPARE_CONNECTIONS <= accepted:
        return None
    fits = (accepted - _SPARE_CONNECTIONS) // workers
    advice = (
        f"set DATABASE_POOL_SIZE to at most {fits} or raise max_connections"
        if fits >= 1
        else "run fewer workers or raise max_connections"
    )
    return (
        f"{workers} server process(es) with DATABASE_POOL_SIZE={pool_size} may open {wanted} connections, but "
        f"PostgreSQL accepts {accepted} (max_connections {max_connections} less {reserved} reserved for "
        f"superusers) and {_SPARE_CONNECTIONS} are kept for the command line: {advice}"
    )


def check_connection_budget(settings: Settings, workers: int) -> None:
    """Refuse to start processes whose pools together could exhaust PostgreSQL's connections.

    Each process keeps up to DATABASE_POOL_SIZE connections once a burst opened them, so the limit is reached only
    under load, where every request past it would fail with "too many clients": better to say so at start-up. A
    server that cannot be reached is left to the migration that follows, which reports it.
    """
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        return
    try:
        limits = asyncio.run(_connection_limits(settings.database_url))
    except Exception as exc:
        log.debug("PostgreSQL's connection limit not read: %s", exc)
        return
    problem = connection_budget_error(workers, settings.database_pool_size, *limits)
    if problem:
        raise ConfigError(problem)


async def _connection_limits(url: str) -> tuple[int, int]:
    database = Database(url, pool_size=1)
    try:
        async with database.transaction() as session:
            max_connections = int((await session.execute(text("SHOW max_connections"))).scalar_one())
            reserved = int((await session.execute(text("SHOW superuser_reserved_connections"))).scalar_one())
        return max_connections, reserved
    finally:
        await database.dispose()


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind and listen once, in the parent; children inherit the socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class _Children:
    """The running children by pid, and when each started."""

    def __init__(self, fd: int, env: dict[str, str]) -> None:
        self._fd = fd
        self._env = env
        self.started: dict[int, tuple[subprocess.Popen[bytes], float]] = {}

    def start(self) -> None:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "contact_center.supervisor", "--fd", str(self._fd)],
            pass_fds=(self._fd,),
            env=self._env,
        )
        self.started[child.pid] = (child, time.monotonic())
        log.info("worker %d started", child.pid)

    def signal_all(self, signum: int) -> None:
        for child, _ in self.started.values():
            if child.poll() is None:
                child.send_signal(signum)


def supervise(host: str, port: int, workers: int, *, env: dict[str, str] | None = None) -> int:
    """Serve with `workers` child processes until SIGTERM or SIGINT; return the exit status."""
    sock = listening_socket(host, port)
    log.info("serving on http://%s:%d with %d worker processes", host, sock.getsockname()[1], workers)
    children = _Children(sock.fileno(), dict(env if env is not None else os.environ))
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    pause = 0.0
    try:
        for _ in range(workers):
            children.start()
        while not stopping:
            time.sleep(0.2)
            for pid, (child, started) in list(children.started.items()):
                status = child.poll()
                if status is None or stopping:
                    continue
                del children.started[pid]
                lived = time.monotonic() - started
                log.warning("worker %d exited with status %s after %.1f s; starting another", pid, status, lived)
                pause = min(max(pause * 2, 0.5), _MAX_PAUSE) if lived < _QUICK_DEATH else 0.0
                if pause:
                    time.sleep(pause)
                children.start()
        log.info("stopping %d workers", len(children.started))
        children.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for child, _ in children.started.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop in time; killing it", child.pid)
                child.kill()
                child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
    return 0


def serve_on_socket(fd: int) -> None:
    """Run one worker: the whole app, configured from the environment, on an inherited listening socket."""
    from aiohttp import web

    from contact_center.web.app import create_app

    settings = Settings.from_env(os.environ)
    sock = socket.socket(fileno=fd)
    # SIGINT reaches the whole process group from a terminal; the parent decides, so children wait for SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    web.run_app(create_app(settings), sock=sock, print=None, handle_signals=True)


def _child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contact_center.supervisor", description="One server worker process.")
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format=f"%(asctime)s %(levelname)s [{os.getpid()}] %(name)s: %(message)s",
    )
    serve_on_socket(args.fd)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
