"""The ``maintenance run`` command: create the preventive work orders due on a day, registered into the app's CLI.

Like :mod:`field_service.cli`, it is handed a way to open the store and a clock by the app, which knows the
settings; the command returns 0 on success and 2 on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import date, datetime

from field_service.cli import OpenStore
from field_service.maintenance_store import CreatedOrder, run_maintenance

__all__ = ["register_commands"]

_BAD_INPUT = 2


def register_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    open_store: OpenStore,
    now: Callable[[], datetime],
) -> None:
    """Add ``maintenance run``."""
    parser = subparsers.add_parser(
        "maintenance",
        help="preventive maintenance plans",
        description="Preventive maintenance: create the work orders of plans that fall due.",
    )
    actions = parser.add_subparsers(dest="maintenance_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="create the work orders of plans due within their lead time",
        description="Create a work order for every active plan due within its lead time on the day; running "
        "again creates nothing new.",
    )
    run.add_argument("--date", help="the day to run for, YYYY-MM-DD (default today, UTC)")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(func=lambda args: _run(args, open_store, now))


def _run(args: argparse.Namespace, open_store: OpenStore, now: Callable[[], datetime]) -> int:
    moment = now()
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            print(f"error: --date {args.date!r} is not a date like 2026-12-07", file=sys.stderr)
            return _BAD_INPUT
    else:
        day = moment.date()
    created = asyncio.run(_create(open_store, day, moment))
    if args.json:
        report = {
            "date": day.isoformat(),
            "created": [
                {"plan": c.plan_id, "work_order": c.work_order, "due_on": c.due_on.isoformat()} for c in created
            ],
        }
        print(json.dumps(report, indent=2))
    else:
        for item in created:
            print(f"{item.work_order:24} plan {item.plan_id:<6} due {item.due_on.isoformat()}")
        print(f"{len(created)} work order(s) created for {day.isoformat()}")
    return 0


async def _create(open_store: OpenStore, day: date, moment: datetime) -> list[CreatedOrder]:
    async with open_store() as transaction, transaction() as session:
        return await run_maintenance(session, day, moment)
