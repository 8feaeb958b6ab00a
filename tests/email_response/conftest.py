"""Fixtures for the email tests: the real-world corpus, literal messages, and a real Dovecot for IMAP."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aioimaplib
import pytest

from email_response.parsing import ParsedMessage, parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/fixtures/email"
# The machine's shared services sit beside the checkout (`/work/main` -> `/work/shared`), or further up for a
# worktree (`/work/wt/<name>` -> `/work/shared`).
DOVECOT_TEMPLATE = next(
    (
        found
        for parent in Path(__file__).resolve().parents[2].parents
        if (found := parent / "shared/services/dovecot.conf.template").exists()
    ),
    Path(__file__).resolve().parents[3] / "shared/services/dovecot.conf.template",
)
USER = "agent@example.test"
PASSWORD = "secret"


def mfs(text: str) -> bytes:
    """Return a message from literal RFC 822 text: dedented, CRLF line ends, as bytes."""
    return textwrap.dedent(text).lstrip("\n").replace("\n", "\r\n").encode("utf-8")


def parsed(text: str) -> ParsedMessage:
    """Parse a literal message and insist that it parsed."""
    result = parse_message(mfs(text))
    assert isinstance(result, ParsedMessage), result
    return result


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the email fixture corpus is not at {CORPUS}")
    return CORPUS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Dovecot:
    """A running Dovecot with one user; every helper opens its own short connection."""

    host: str
    port: int
    user: str = USER
    password: str = PASSWORD

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[aioimaplib.IMAP4]:
        client = aioimaplib.IMAP4(host=self.host, port=self.port, timeout=5)
        try:
            await client.wait_hello_from_server()
            assert (await client.login(self.user, self.password)).result == "OK"
            yield client
        finally:
            with contextlib.suppress(Exception):
                await client.logout()
            if client.protocol.transport is not None:
                client.protocol.transport.close()

    async def create(self, mailbox: str) -> None:
        async with self.client() as client:
            assert (await client.create(mailbox)).result == "OK"

    async def delete(self, mailbox: str) -> None:
        async with self.client() as client:
            assert (await client.delete(mailbox)).result == "OK"

    async def append(self, mailbox: str, raw: bytes) -> None:
        async with self.client() as client:
            response = await client.append(raw, mailbox=mailbox)
            assert response.result == "OK", response

    async def flags(self, mailbox: str) -> dict[int, set[str]]:
        """Return the flags of every message by UID."""
        async with self.client() as client:
            assert (await client.select(mailbox)).result == "OK"
            response = await client.uid("fetch", "1:*", "(UID FLAGS)")
        found = {}
        for line in response.lines:
            if isinstance(line, bytes) and b"FLAGS (" in line:
                text = line.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                found[uid] = set(text.split("FLAGS (")[1].split(")")[0].split())
        return found

    async def expunge(self, mailbox: str, uid: int) -> None:
        async with self.client() as client:
            assert (await client.select(mailbox)).result == "OK"
            assert (await client.uid("store", str(uid), "+FLAGS.SILENT", "(\\Deleted)")).result == "OK"
            assert (await client.expunge()).result == "OK"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Start a private Dovecot on a free loopback port for the whole session; stop it at the end."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        pytest.skip("dovecot is not installed (apt-get install -y dovecot-imapd; .ci/run installs it)")
    if not DOVECOT_TEMPLATE.exists():
        pytest.skip(f"no Dovecot config template at {DOVECOT_TEMPLATE}")
    # Dovecot's mail processes run as nobody (65534), so the directory must be reachable by that user; pytest's
    # own tmp directories are private to root.
    base = Path(tempfile.mkdtemp(prefix="dovecot-"))
    base.chmod(0o755)
    port = _free_port()
    config = DOVECOT_TEMPLATE.read_text().replace("@DIR@", str(base)).replace("@PORT@", str(port))
    (base / "dovecot.conf").write_text(config)
    (base / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (base / "mail").mkdir()
    os.chown(base / "mail", 65534, 65534)
    subprocess.run([binary, "-c", str(base / "dovecot.conf")], check=True, timeout=30)  # noqa: S603
    pid_file = base / "run" / "master.pid"
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                log = (base / "dovecot.log").read_text() if (base / "dovecot.log").exists() else ""
                pytest.fail(f"dovecot did not start on port {port}:\n{log}")
            time.sleep(0.05)
        yield Dovecot("127.0.0.1", port)
    finally:
        # Stop exactly the master we started (by its pid), then wait for it to go.
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def mailbox(dovecot: Dovecot) -> str:
    """A new, empty mailbox of the test user, private to this test."""
    name = f"t-{secrets.token_hex(4)}"
    await dovecot.create(name)
    return name
