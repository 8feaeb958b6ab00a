"""`contact-center bench intake`: contacts taken in per second in-process, one at a time against in batches.

Each run gets addresses of its own on a scratch store (a temporary SQLite file, or a schema of its own on the
PostgreSQL server of DATABASE_URL, dropped afterwards). Before the clock starts, half of the run's customers text
once, so each of them has an open case on their SMS thread; the timed part then alternates a text from one of them
(which joins that case) with a text from a new number (a new customer and a new case), through `receive_contacts`
in batches of `--batch` (and, for comparison, of one). It prints contacts per second, CPU milliseconds per contact
(`time.process_time`, this process: the database server's CPU is not in it) and SQL statements per contact (BEGIN
and COMMIT aside), the median of `--repeat` runs each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from contact_center.db import Database
from contact_center.loadtest.stores import fresh_database
from contact_center.models import Channel
from contact_center.services.contacts import ContactIntake, receive_contacts

__all__ = ["register_bench", "run_bench"]

_SEED_BATCH = 100


def register_bench(bench_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench intake` to the `bench` command group."""
    intake = bench_commands.add_parser(
        "intake",
        help="contacts taken in per second in-process, one at a time and in batches (SQLite or PostgreSQL)",
        description=(
            "Take in --contacts texts, half from known customers on open threads and half from new numbers, "
            "one per transaction and --batch per transaction; print contacts/s, CPU ms and SQL statements per "
            "contact. Uses DATABASE_URL when it names PostgreSQL (a schema of its own), else a temporary SQLite file."
        ),
    )
    intake.add_argument("--contacts", type=int, default=1000, help="contacts per run (default 1000)")
    intake.add_argument("--batch", type=int, default=20, help="contacts per transaction to compare with 1 (default 20)")
    intake.add_argument("--repeat", type=int, default=3, help="runs per batch size; medians are printed (default 3)")
    intake.add_argument("--json", action="store_true", help="print the result as JSON")
    intake.set_defaults(func=_bench_intake)


def _bench_intake(args: argparse.Namespace) -> int:
    if args.contacts < 2 or args.batch < 1 or args.repeat < 1:
        print("contact-center: --contacts must be at least 2, --batch and --repeat at least 1", file=sys.stderr)
        return 2
    url = os.environ.get("DATABASE_URL") or None
    if url is not None and url.startswith("sqlite"):
        url = None
    result = asyncio.run(run_bench(args.contacts, args.batch, repeat=args.repeat, database_url=url))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for run in result["runs"]:
            print(
                f"batch {run['batch']:4}: {run['contacts_per_s']:8.1f} contacts/s, "
                f"{run['cpu_ms_per_contact']:6.2f} ms CPU, {run['statements_per_contact']:5.2f} statements per contact"
            )
    return 0


async def run_bench(contacts: int, batch: int, *, repeat: int, database_url: str | None) -> dict[str, Any]:
    """Run every batch size `repeat` times, alternating, on one scratch store; return the medians."""
    sizes = sorted({1, batch})
    figures: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as scratch:
        async with fresh_database(database_url, Path(scratch)) as db:
            pool = 0
            for _ in range(repeat):
                for size in sizes:
                    pool += 1
                    figures[size].append(await _run(db, pool, contacts, size))
            kind = "sqlite" if db.is_sqlite else "postgresql"
    runs = []
    for size in sizes:
        medians = {key: round(statistics.median(run[key] for run in figures[size]), 3) for key in figures[size][0]}
        runs.append({"batch": size, **medians})
    return {
        "benchmark": "intake",
        "database": kind,
        "contacts": contacts,
        "repeat": repeat,
        "known_share": 0.5,
        "runs": runs,
        "batch_speedup_cpu": round(runs[0]["cpu_ms_per_contact"] / runs[-1]["cpu_ms_per_contact"], 2),
    }


async def _run(db: Database, pool: int, contacts: int, batch: int) -> dict[str, float]:
    """Seed the pool's known customers, then time `contacts` texts taken in `batch` at a time."""
    start = datetime.now(UTC)
    known = contacts // 2
    seed = [(_text(pool, "seed", n, _number(pool, n)), start) for n in range(known)]
    for offset in range(0, len(seed), _SEED_BATCH):
        await receive_contacts(db, seed[offset : offset + _SEED_BATCH])
    items = []
    for n in range(contacts):
        address = _number(pool, n // 2) if n % 2 == 0 else _number(pool, known + n)
        items.append((_text(pool, "timed", n, address), start + timedelta(milliseconds=n)))
    with _counting(db) as statements:
        wall, cpu = time.perf_counter(), time.process_time()
        for offset in range(0, len(items), batch):
            await receive_contacts(db, items[offset : offset + batch])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "contacts_per_s": contacts / wall,
        "cpu_ms_per_contact": cpu * 1000 / contacts,
        "statements_per_contact": len(statements) / contacts,
    }


def _number(pool: int, n: int) -> str:
    """Return a distinct possible US number for customer `n` of a pool."""
    return f"+1{200 + pool:03d}{2000000 + n:07d}"


def _text(pool: int, stage: str, n: int, address: str) -> ContactIntake:
    return ContactIntake(
        channel=Channel.SMS,
        external_id=f"SM-{pool}-{stage}-{n}",
        address=address,
        body=f"Text {n}: my internet has been down since this morning",
    )


@contextmanager
def _counting(db: Database) -> Iterator[list[str]]:
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
