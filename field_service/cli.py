"""Command-line commands of the field-service package, registered into the app's argparse CLI.

The app's ``contact-center`` parser calls :func:`register_bench` (``bench schedule``) and
:func:`register_commands` (``schedule``), handing the latter a way to open the store, since this package does not
know the app's settings. Each command's ``func`` takes the parsed namespace and returns the exit code: 0 on
success, 2 on bad input (after a message on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from field_service import bench
from field_service.day import build_day
from field_service.optimiser import ScheduleError, optimise
from field_service.plan import plan_json
from field_service.problem import ProblemError
from field_service.solomon import SolomonError
from field_service.store import load_problem, save_plan
from field_service.travel import HaversineTravel

__all__ = ["OpenStore", "SaveDay", "Transactions", "register_bench", "register_commands"]

# A factory of transactions: each a session, committed on success.
Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
# Opens the store for one command run and yields its factory of transactions.
OpenStore = Callable[[], AbstractAsyncContextManager[Transactions]]
# Plans and saves a day the way the app does (day, time zone, now, seconds, seed): returns plan_json with "saved".
SaveDay = Callable[[Transactions, date, tzinfo, datetime, float, int], Awaitable[dict[str, Any]]]

_BAD_INPUT = 2


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schedule`` benchmark under the app's ``bench`` command."""
    parser = bench_subparsers.add_parser(
        "schedule",
        help="benchmark the technician scheduler",
        description="Solve a generated field-service day with the optimiser and the nearest-feasible greedy "
        "baseline, or (with --solomon) Solomon VRPTW files with the scheduler and with plain PyVRP, both on a "
        "distance-only objective.",
    )
    parser.add_argument("--jobs", type=int, default=200, help="work orders of the generated day")
    parser.add_argument("--technicians", type=int, default=20, help="technicians of the generated day")
    parser.add_argument("--seconds", type=float, default=10.0, help="solver time per instance (and side)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--solomon", nargs="+", type=Path, metavar="FILE", help="Solomon VRPTW instance files")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_bench)


def register_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    open_store: OpenStore,
    now: Callable[[], datetime],
    save_day: SaveDay | None = None,
) -> None:
    """Add the ``schedule`` command, which plans a day from the store.

    With ``save_day`` (the app's planning service), ``--save`` plans and saves through it, so a day saved from the
    command line is planned under the same lease and tells customers as one saved from the dispatcher's page.
    """
    parser = subparsers.add_parser(
        "schedule",
        help="plan a day's field-service work and print it",
        description="Assign the open work orders to technicians and order each route for one day, keeping "
        "dispatched visits fixed. With --save, store the plan and reserve its parts.",
    )
    parser.add_argument("--date", required=True, help="the day to plan, YYYY-MM-DD")
    parser.add_argument("--tz", default="UTC", help="time zone of shifts and of the day (default UTC)")
    parser.add_argument("--seconds", type=float, default=10.0, help="solver time (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="store the plan and reserve parts")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=lambda args: _schedule(args, open_store, now, save_day))


def _schedule(
    args: argparse.Namespace, open_store: OpenStore, now: Callable[[], datetime], save_day: SaveDay | None
) -> int:
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        return _fail(f"--date {args.date!r} is not a date like 2026-12-07")
    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"--tz {args.tz!r} is not a known time zone")
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        return _fail("--seconds must be a positive number")
    try:
        report = asyncio.run(
            _plan_day(open_store, now, day, tz, args.seconds, args.seed, save=args.save, save_day=save_day)
        )
    except (ProblemError, ScheduleError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for route in report["routes"]:
            stops = ", ".join(
                f"{v['work_order']} {datetime.fromisoformat(v['start']).astimezone(tz):%H:%M}" for v in route["visits"]
            )
            print(f"{route['technician']:12} {stops}")
        print(f"unassigned   {', '.join(report['unassigned']) or '-'}")
    return 0


async def _plan_day(
    open_store: OpenStore,
    now: Callable[[], datetime],
    day: date,
    tz: ZoneInfo,
    seconds: float,
    seed: int,
    *,
    save: bool,
    save_day: SaveDay | None = None,
) -> dict[str, Any]:
    async with open_store() as transaction:
        if save and save_day is not None:
            return await save_day(transaction, day, tz, now(), seconds, seed)
        async with transaction() as session:
            problem = await load_problem(session, day, tz)
        compiled = build_day(problem, HaversineTravel())
        # The solver holds the CPU for its whole time limit; keep the event loop free meanwhile.
        plan = await asyncio.to_thread(optimise, compiled, seconds=seconds, seed=seed)
        report = plan_json(compiled, plan)
        if save:
            async with transaction() as session:
                saved = await save_plan(session, compiled, plan, now(), actor="contact-center schedule")
            report["saved"] = {
                "scheduled": list(saved.scheduled),
                "unscheduled": list(saved.unscheduled),
                "parts_short": list(saved.parts_short),
            }
        return report


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return _BAD_INPUT


def _bench(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        return _fail("--seconds must be a positive number")
    if args.solomon:
        missing = [str(path) for path in args.solomon if not path.is_file()]
        if missing:
            return _fail(f"no such file: {', '.join(missing)}")
        try:
            report = bench.run_solomon(args.solomon, args.seconds, args.seed)
        except SolomonError as exc:
            return _fail(str(exc))
        _print(report, args.json, _solomon_table)
        return 0
    if args.jobs < 1 or args.technicians < 1:
        return _fail("--jobs and --technicians must be at least 1")
    _print(bench.run_generated(args.jobs, args.technicians, args.seconds, args.seed), args.json, _generated_table)
    return 0


def _print(report: dict[str, Any], as_json: bool, table: Any) -> None:
    print(json.dumps(report, indent=2) if as_json else table(report))


def _generated_table(report: dict[str, Any]) -> str:
    lines = [f"{'':22}{'optimiser':>12}{'greedy':>12}"]
    for key in ("travel_seconds", "lateness_seconds", "late_visits", "unassigned", "unassigned_priority"):
        lines.append(f"{key:22}{report['optimiser'][key]:>12}{report['greedy'][key]:>12}")
    lines.append(
        f"{'solve_seconds':22}{report['optimiser']['solve_seconds']:>12}{report['greedy']['solve_seconds']:>12}"
    )
    return "\n".join(lines)


def _solomon_table(report: dict[str, Any]) -> str:
    lines = [f"{'instance':10}{'vehicles':>10}{'distance':>12}{'pyvrp veh':>11}{'pyvrp dist':>12}{'ratio':>8}"]
    for row in report["instances"]:
        ours, theirs = row["ours"], row["pyvrp"]
        lines.append(
            f"{row['instance']:10}{ours['vehicles']:>10}{ours['distance']:>12.2f}"
            f"{theirs['vehicles']:>11}{theirs['distance']:>12.2f}{row['distance_ratio']:>8}"
        )
    return "\n".join(lines)
