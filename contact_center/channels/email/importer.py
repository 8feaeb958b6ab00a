"""Importing mail from another help desk: .eml files, Maildirs and mbox files threaded into cases as live mail is.

Old mail is never answered: the import takes every message in with `auto_reply=False` and routes nothing (the
conversations are history, not contacts waiting for an agent). Re-running an import skips what is already there
(de-duplication by Message-ID), so an interrupted import is simply started again.

    contact-center email import export.mbox old-maildir/ one.eml [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from contact_center.channels.email.intake import IntakeOutcome, take_in_message
from contact_center.clock import SystemClock
from contact_center.db import Database
from contact_center.migrate import upgrade
from contact_center.settings import Settings
from email_response.sources import RawMessage, SourceProblem, iter_messages

__all__ = ["ImportSummary", "import_paths", "run_import_command"]

Progress = Callable[[int], object]


@dataclass
class ImportSummary:
    """What an import did: `imported` counts every message stored, `threaded` those that joined an earlier case."""

    imported: int = 0
    threaded: int = 0
    unprocessable: int = 0
    duplicates: int = 0
    oversize: int = 0
    unreadable: list[str] = field(default_factory=list)


async def import_paths(
    db: Database,
    paths: Sequence[Path],
    now: datetime,
    *,
    progress: Progress | None = None,
    smtp_from: str = "support@localhost",
    region: str = "US",
) -> ImportSummary:
    """Take in every message under `paths` without acknowledging or routing any; return a summary."""
    summary = ImportSummary()
    messages: Iterator[RawMessage | SourceProblem] = iter_messages(paths)
    while True:
        # The sources read files with blocking I/O; each read runs in a thread so the event loop stays free.
        item = await asyncio.to_thread(next, messages, None)
        if item is None:
            break
        if isinstance(item, SourceProblem):
            summary.unreadable.append(f"{item.label}: {item.reason}")
        else:
            result = await take_in_message(
                db, item.raw, now, router=None, auto_reply=False, smtp_from=smtp_from, region=region, source="import"
            )
            _count(summary, result.outcome)
        if progress is not None:
            progress(1)
    return summary


def _count(summary: ImportSummary, outcome: IntakeOutcome) -> None:
    if outcome is IntakeOutcome.DUPLICATE:
        summary.duplicates += 1
    elif outcome is IntakeOutcome.UNPROCESSABLE:
        summary.unprocessable += 1
    else:
        summary.imported += 1
        summary.threaded += outcome is IntakeOutcome.THREADED
        summary.oversize += outcome is IntakeOutcome.OVERSIZE


def run_import_command(args: argparse.Namespace) -> int:
    """Run `contact-center email import` (parsed arguments: paths, json); return the exit status."""
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        print(f"contact-center: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = Settings.from_env(os.environ)
    upgrade(settings.database_url)
    summary = asyncio.run(_run_import(settings, list(args.paths)))
    if args.json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(
            f"imported {summary.imported} (threaded into existing cases {summary.threaded}, "
            f"oversize {summary.oversize}), unprocessable {summary.unprocessable}, "
            f"duplicates skipped {summary.duplicates}, unreadable {len(summary.unreadable)}"
        )
        for problem in summary.unreadable:
            print(f"  unreadable: {problem}")
    return 0


async def _run_import(settings: Settings, paths: list[Path]) -> ImportSummary:
    db = Database(settings.database_url)
    try:
        with tqdm(desc="importing", unit="msg", file=sys.stderr, disable=None) as bar:
            return await import_paths(
                db,
                paths,
                SystemClock().now(),
                progress=bar.update,
                smtp_from=settings.smtp_from,
                region=settings.default_phone_region,
            )
    finally:
        await db.dispose()
