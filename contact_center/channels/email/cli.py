"""The email channel's commands: `email import`, `email worker`, and `bench email`."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from contact_center.channels.email.bench import register_bench
from contact_center.channels.email.importer import run_import_command
from contact_center.channels.email.worker import build_imap_readers
from contact_center.clock import SystemClock
from contact_center.db import Database
from contact_center.migrate import upgrade
from contact_center.settings import ConfigError, Settings

__all__ = ["register_bench", "register_commands"]


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
        description="Read the configured mailboxes into cases, acknowledging new ones. Routing runs in the app.",
    )
    worker.add_argument("--once", action="store_true", help="read what is there now, then stop")
    worker.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    if not settings.imap_host or not settings.imap_username:
        raise ConfigError("IMAP_HOST and IMAP_USERNAME are needed to read mail")
    upgrade(settings.database_url)
    asyncio.run(_read(settings, once=args.once))
    return 0


async def _read(settings: Settings, *, once: bool) -> None:
    db = Database(settings.database_url)
    try:
        # No router here: the app's routing rebuilds its queues from the store (contacts waiting without an agent).
        readers = build_imap_readers(db, settings, None, SystemClock())
        if once:
            for reader in readers:
                await reader.run_once()
        else:
            await asyncio.gather(*(reader.run() for reader in readers))
    finally:
        await db.dispose()
