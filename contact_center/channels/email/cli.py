"""The email channel's commands: `email import`, `email worker`, and `bench email`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from contact_center.channels.email.bench import register_bench
from contact_center.channels.email.importer import run_import_command
from contact_center.channels.email.worker import build_imap_readers
from contact_center.clock import SystemClock
from contact_center.db import Database
from contact_center.dispatch import Dispatcher, build_backend
from contact_center.hub import EventHub
from contact_center.leases import new_holder, run_exclusively
from contact_center.migrate import upgrade
from contact_center.settings import ConfigError, Settings

__all__ = ["read_mailboxes", "register_bench", "register_commands"]

log = logging.getLogger(__name__)


def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `email` command group (import, worker) to the app's CLI."""
    group = subparsers.add_parser("email", help="import and read mail into cases", description="The email channel.")
    commands = group.add_subparsers(dest="email_command", required=True, metavar="ACTION")
    imports = commands.add_parser(
        "import",
        help="thread .eml files, Maildirs and mbox files into cases (no acknowledgements are sent)",
        description="Import mail from another help desk: .eml files, Maildirs and mbox files.",
    )
    imports.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imports.add_argument("--json", action="store_true", help="print the summary as JSON")
    imports.set_defaults(func=run_import_command)
    worker = commands.add_parser(
        "worker",
        help="read IMAP_MAILBOXES into cases (a process of its own; the app runs the same reader)",
        description=(
            "Read the configured mailboxes into cases, acknowledging new ones; with REDIS_URL their contacts are "
            "queued in the shared routing state at once."
        ),
    )
    worker.add_argument("--once", action="store_true", help="read what is there now, then stop")
    worker.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    if not settings.imap_host or not settings.imap_username:
        raise ConfigError("IMAP_HOST and IMAP_USERNAME are needed to read mail")
    upgrade(settings.database_url)
    asyncio.run(read_mailboxes(settings, once=args.once))
    return 0


async def read_mailboxes(settings: Settings, *, once: bool) -> None:
    """Read every configured mailbox into cases (until cancelled, or once), routing through Redis when set."""
    db = Database(settings.database_url)
    clock = SystemClock()
    # With Redis the routing state is shared: contacts this process queues are offered by the app's engine.
    # Without it the app's in-memory engine cannot be reached from here; it queues them at its next start.
    dispatcher = Dispatcher(build_backend(settings), db, clock, EventHub()) if settings.redis_url else None
    if dispatcher is None:
        log.warning("REDIS_URL is not set: mail is taken in, and routed when the app next starts")
    try:
        readers = build_imap_readers(db, settings, dispatcher, clock)
        if once:
            for reader in readers:
                await reader.run_once()
        else:
            # Under the same per-mailbox leases as the app's readers: one reader per mailbox across processes.
            holder = new_holder()
            await asyncio.gather(
                *(
                    run_exclusively(
                        f"imap:{reader.account.state_key}",
                        reader.run,
                        db=db,
                        holder=holder,
                        clock=clock,
                        period=float(settings.lease_seconds),
                    )
                    for reader in readers
                )
            )
    finally:
        if dispatcher is not None:
            await dispatcher.close()
        await db.dispose()
