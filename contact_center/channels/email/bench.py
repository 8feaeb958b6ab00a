"""`contact-center bench email`: messages per second from an IMAP mailbox to committed cases, against a bare fetch.

The run, all against real servers:

1. A Dovecot of its own on a free loopback port (or the server given with `--imap-host`), a fresh mailbox, and
   `--messages` generated messages APPENDed to it (not timed): new questions in English and Chinese, replies
   that thread by In-Reply-To, some with a small attachment, a few delivery reports and auto-replies.
2. A bare fetch: one connection, `UID FETCH` of every message in the reader's batch size, nothing else.
3. The pipeline: `ImapReader.run_once` with the intake's handler on a fresh case store (SQLite in a temporary
   directory, or `--database-url` for PostgreSQL, in a schema of its own): every message parsed, threaded,
   classified, made a contact on a case with its acknowledgement queued in the outbox, committed, then flagged
   done on the server with its UID stored.

It prints messages per second for both and their ratio (how many times a bare fetch the pipeline costs), and
checks the outcome: every message stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import aioimaplib
from sqlalchemy import func
from sqlmodel import select

from contact_center.channels.email.worker import build_imap_reader
from contact_center.clock import SystemClock
from contact_center.loadtest.stores import fresh_database
from contact_center.models import Case, OutboxMessage
from contact_center.models.email import StoredEmail
from contact_center.settings import Settings

__all__ = ["BenchResult", "generate_messages", "register_bench", "run_bench"]

_USER = "bench@example.test"
# A throwaway account on a private, loopback-only Dovecot that lives for one run.
_PASSWORD = "bench"  # noqa: S105
_BATCH = 25
# The same self-contained configuration the tests use (../shared/services/dovecot.conf.template).
_DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = @DIR@/run
state_dir = @DIR@/state
log_path = @DIR@/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u @DIR@/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=@DIR@/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = @PORT@
  }
  inet_listener imaps {
    port = 0
  }
}
"""


@dataclass(frozen=True)
class BenchResult:
    messages: int
    database: str
    pipeline_seconds: float
    messages_per_second: float
    bare_fetch_seconds: float
    bare_fetch_per_second: float
    #: pipeline time / bare fetch time.
    ratio: float
    #: CPU time of this process (all its threads) per message in the pipeline: what a loaded machine's wall
    #: clock hides. Dovecot's own work is not in it.
    cpu_ms_per_message: float
    stored: int
    cases: int
    acknowledgements: int
    megabytes: float


def generate_messages(count: int, seed: int = 5) -> Iterator[bytes]:
    """Yield `count` varied raw messages: questions, threaded replies, attachments, bounces and auto-replies."""
    rng = random.Random(seed)
    asked: list[tuple[str, str, str]] = []
    subjects = ["Invoice is wrong", "Router keeps rebooting", "Refund for order 1234", "Cannot sign in", "发票有误"]
    for n in range(count):
        kind = rng.random()
        date = f"Mon, 23 Nov 2026 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0000"
        if kind < 0.02:
            yield (
                "From: MAILER-DAEMON@mx.example.org\r\nTo: help@example.test\r\n"
                f"Subject: Undelivered Mail\r\nMessage-ID: <dsn-{n}@mx.example.org>\r\nDate: {date}\r\n"
                'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
                "\r\n--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n--b\r\n"
                "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
                f"Final-Recipient: rfc822; gone{n}@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
            ).encode()
            continue
        if kind < 0.04:
            yield (
                f"From: ooo{n}@example.org\r\nTo: help@example.test\r\nSubject: Out of office\r\n"
                f"Message-ID: <ooo-{n}@example.org>\r\nDate: {date}\r\nAuto-Submitted: auto-replied\r\n\r\n"
                "I am away until Monday.\r\n"
            ).encode()
            continue
        if asked and kind < 0.35:
            sender, subject, parent = rng.choice(asked)
            message_id = f"<r{n}@{sender.split('@')[1]}>"
            headers = f"Subject: Re: {subject}\r\nIn-Reply-To: {parent}\r\nReferences: {parent}\r\n"
            body = "Any news on this? It still happens every morning.\r\n"
        else:
            sender = f"customer{n % 700}@example{n % 7}.org"
            subject = rng.choice(subjects)
            message_id = f"<q{n}@example{n % 7}.org>"
            headers = f"Subject: {subject}\r\n"
            body = (
                "您好\uff0c我的发票金额不对\uff0c请帮忙查看。谢谢\uff01\r\n"
                if subject == "发票有误"
                else "Hello, since yesterday this does not work. Please help, thanks.\r\n" * rng.randint(1, 6)
            )
            asked.append((sender, subject, message_id))
        head = f"From: Customer {n} <{sender}>\r\nTo: Help <help@example.test>\r\nMessage-ID: {message_id}\r\n"
        head += f"Date: {date}\r\nMIME-Version: 1.0\r\n{headers}"
        if rng.random() < 0.1:
            attachment = secrets.token_bytes(3000).hex()
            yield (
                f'{head}Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
                'Content-Type: text/plain; charset="utf-8"\r\n\r\n'
                f"{body}--m\r\nContent-Type: application/octet-stream\r\n"
                'Content-Disposition: attachment; filename="log.txt"\r\n\r\n'
                f"{attachment}\r\n--m--\r\n"
            ).encode()
        else:
            yield f'{head}Content-Type: text/plain; charset="utf-8"\r\n\r\n{body}'.encode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def private_dovecot() -> Iterator[tuple[str, int]]:
    """Run a Dovecot of our own on a free loopback port; stop exactly that one at the end."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        raise SystemExit("contact-center: dovecot is not installed (apt-get install dovecot-imapd) or use --imap-host")
    base = Path(tempfile.mkdtemp(prefix="bench-dovecot-"))
    # Dovecot's mail processes run as nobody, who must reach the mail directory.
    base.chmod(0o755)
    port = _free_port()
    (base / "dovecot.conf").write_text(_DOVECOT_CONF.replace("@DIR@", str(base)).replace("@PORT@", str(port)))
    (base / "users").write_text(f"{_USER}:{{PLAIN}}{_PASSWORD}\n")
    (base / "mail").mkdir()
    with contextlib.suppress(PermissionError):
        os.chown(base / "mail", 65534, 65534)
    subprocess.run([binary, "-c", str(base / "dovecot.conf")], check=True, timeout=30)  # noqa: S603
    pid_file = base / "run" / "master.pid"
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"contact-center: dovecot did not start on port {port}")
            time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)


@contextlib.asynccontextmanager
async def _imap(host: str, port: int, user: str, password: str) -> AsyncIterator[aioimaplib.IMAP4]:
    client = aioimaplib.IMAP4(host=host, port=port, timeout=30)
    await client.wait_hello_from_server()
    if (await client.login(user, password)).result != "OK":
        raise SystemExit(f"contact-center: IMAP login as {user} failed")
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.logout()


async def _fill(host: str, port: int, user: str, password: str, mailbox: str, messages: list[bytes]) -> None:
    async with _imap(host, port, user, password) as client:
        if (await client.create(mailbox)).result != "OK":
            raise SystemExit(f"contact-center: cannot create mailbox {mailbox}")
        for raw in messages:
            if (await client.append(raw, mailbox=mailbox)).result != "OK":
                raise SystemExit("contact-center: APPEND failed")


async def _bare_fetch(host: str, port: int, user: str, password: str, mailbox: str) -> tuple[int, float]:
    """Fetch every message of the mailbox in reader-sized batches; return (messages, seconds)."""
    started = time.perf_counter()
    fetched = 0
    async with _imap(host, port, user, password) as client:
        await client.select(f'"{mailbox}"')
        search = await client.uid_search("ALL", charset=None)
        uids = [
            int(uid) for line in search.lines[:-1] if isinstance(line, bytes) for uid in line.split() if uid.isdigit()
        ]
        for offset in range(0, len(uids), _BATCH):
            batch = ",".join(str(uid) for uid in uids[offset : offset + _BATCH])
            response = await client.uid("fetch", batch, "(BODY.PEEK[])")
            fetched += sum(1 for line in response.lines if isinstance(line, bytearray))
    return fetched, time.perf_counter() - started


async def run_bench(
    count: int, *, database_url: str | None, imap: tuple[str, int, str, str] | None = None
) -> BenchResult:
    """Run the benchmark against a given IMAP server (or a private Dovecot) and return its figures."""
    messages = list(generate_messages(count))
    with contextlib.ExitStack() as stack:
        if imap is None:
            host, port = stack.enter_context(private_dovecot())
            imap = (host, port, _USER, _PASSWORD)
        host, port, user, password = imap
        mailbox = f"bench-{secrets.token_hex(4)}"
        await _fill(host, port, user, password, mailbox, messages)
        fetched, bare_seconds = await _bare_fetch(host, port, user, password, mailbox)
        if fetched != count:
            raise SystemExit(f"contact-center: the bare fetch read {fetched} of {count} messages")
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-email-")))
        async with fresh_database(database_url, scratch) as db:
            settings = Settings(
                data_dir=scratch,
                database_url=db.url,
                secret_key=secrets.token_urlsafe(16),
                imap_host=host,
                imap_port=port,
                imap_username=user,
                imap_password=password,
                smtp_from="Help <help@example.test>",
            )
            reader = build_imap_reader(db, settings, None, SystemClock(), mailbox=mailbox)
            reader.batch_size = _BATCH
            started, cpu_started = time.perf_counter(), time.process_time()
            await reader.run_once()
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            async with db.transaction() as session:
                stored = (await session.execute(select(func.count()).select_from(StoredEmail))).scalar_one()
                cases = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
                acks = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
            kind = "sqlite" if db.is_sqlite else "postgresql"
    return BenchResult(
        messages=count,
        database=kind,
        pipeline_seconds=round(seconds, 3),
        messages_per_second=round(count / seconds, 1),
        bare_fetch_seconds=round(bare_seconds, 3),
        bare_fetch_per_second=round(count / bare_seconds, 1),
        ratio=round(seconds / bare_seconds, 1),
        cpu_ms_per_message=round(cpu_seconds * 1000 / count, 2),
        stored=int(stored),
        cases=int(cases),
        acknowledgements=int(acks),
        megabytes=round(sum(map(len, messages)) / 1_000_000, 2),
    )


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench email` to the app's benchmark commands."""
    bench = bench_subparsers.add_parser(
        "email",
        help="IMAP to committed cases with queued acknowledgements, against a bare IMAP fetch",
        description="Messages per second from Dovecot to committed cases, and the ratio to a bare IMAP fetch.",
    )
    bench.add_argument("--messages", type=int, default=2000, help="how many messages (default 2000)")
    bench.add_argument("--database-url", help="a PostgreSQL URL (default: SQLite in a temporary directory)")
    bench.add_argument("--imap-host", help="an IMAP server to use instead of a private Dovecot")
    bench.add_argument("--imap-port", type=int, default=143)
    bench.add_argument("--imap-user", default=_USER)
    bench.add_argument("--imap-password", default=_PASSWORD)
    bench.add_argument("--json", action="store_true", help="print JSON only")
    bench.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    if args.messages < 1:
        print("contact-center: --messages must be at least 1", file=sys.stderr)
        return 2
    imap = (args.imap_host, args.imap_port, args.imap_user, args.imap_password) if args.imap_host else None
    result = asyncio.run(run_bench(args.messages, database_url=args.database_url, imap=imap))
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(
            f"{result.messages} messages on {result.database}: {result.messages_per_second}/s through the pipeline, "
            f"{result.bare_fetch_per_second}/s bare fetch (pipeline = {result.ratio}x a bare fetch), "
            f"{result.cpu_ms_per_message} ms of CPU per message"
        )
    ok = result.stored == result.messages
    if not ok:
        print(f"contact-center: {result.stored} of {result.messages} messages stored", file=sys.stderr)
    return 0 if ok else 1
