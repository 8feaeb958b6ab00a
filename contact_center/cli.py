"""The `contact-center` command: serve, demo, migrate, users, and the engines' own commands."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime, tzinfo
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.clock import SystemClock
from contact_center.db import Database
from contact_center.errors import DomainError
from contact_center.migrate import upgrade
from contact_center.models import Role
from contact_center.settings import ConfigError, Settings

__all__ = ["build_parser", "main"]

log = logging.getLogger("contact_center")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="contact-center",
        description="Open-source contact center: routing, IVR, email, field service and a knowledge base.",
        epilog="Configuration comes from environment variables (DATA_DIR, DATABASE_URL, REDIS_URL, ...); "
        "see the README.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, help_text in (
        ("serve", "run the server (migrates the database first)"),
        ("demo", "load demo data, then run the server and print the URLs to open"),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        sub.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
        sub.set_defaults(func=_serve if name == "serve" else _demo)
        if name == "serve":
            sub.add_argument(
                "--workers",
                type=int,
                default=1,
                help="server processes sharing the port (default 1; more need PostgreSQL and REDIS_URL)",
            )

    migrate = commands.add_parser("migrate", help="upgrade the database schema", description="Upgrade the database.")
    migrate.add_argument("--revision", default="head", help="target revision (default head)")
    migrate.set_defaults(func=_migrate)

    user = commands.add_parser("user", help="manage users who sign in", description="Manage users.")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_commands.add_parser("create", help="create a user", description="Create a user who can sign in.")
    create.add_argument("username")
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    create.add_argument("--name", help="display name")
    create.add_argument(
        "--password-env", metavar="VAR", help="read the password from this environment variable instead of a prompt"
    )
    create.set_defaults(func=_create_user)

    bench = commands.add_parser("bench", help="run a benchmark and print JSON", description="Benchmarks.")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    _register_engine_commands(commands, bench_commands)
    return parser


def _register_engine_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    bench_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add the commands the routing engine, the IVR, the email channel and field service define for themselves."""
    from contact_center.channels.email.cli import register_bench as register_email_bench
    from contact_center.channels.email.cli import register_commands as register_email
    from contact_center.loadtest.cli import register_bench as register_load_bench
    from contact_center.loadtest.intake import register_bench as register_intake_bench
    from field_service.cli import register_bench as register_schedule_bench
    from field_service.cli import register_commands as register_field_service
    from field_service.maintenance_cli import register_commands as register_maintenance
    from ivr.cli import register_commands as register_ivr
    from routing.cli import register_bench
    from routing.cli import register_commands as register_routing

    register_routing(commands)
    register_bench(bench_commands)
    register_schedule_bench(bench_commands)
    register_field_service(commands, _field_service_store, SystemClock().now, _save_field_day)
    register_maintenance(commands, _field_service_store, SystemClock().now)
    register_ivr(commands)
    register_email(commands)
    register_email_bench(bench_commands)
    register_load_bench(bench_commands)
    register_intake_bench(bench_commands)


@asynccontextmanager
async def _field_service_store() -> AsyncIterator[Callable[[], AbstractAsyncContextManager[AsyncSession]]]:
    """Open the configured store, migrated, for a field-service command."""
    settings = _settings()
    await asyncio.to_thread(upgrade, settings.database_url)
    database = Database(settings.database_url)
    try:
        yield database.transaction
    finally:
        await database.dispose()


async def _save_field_day(
    transactions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    day: date,
    tz: tzinfo,
    now: datetime,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    """Plan and save a day for ``schedule --save`` through the dispatcher's planning service."""
    from contact_center.services.field_planning import plan_day

    return await plan_day(transactions, day, tz, now, seconds=seconds, seed=seed, actor="contact-center schedule")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, DomainError) as exc:
        print(f"contact-center: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings() -> Settings:
    return Settings.from_env(os.environ)


def _migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}: {_display_url(settings.database_url)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from contact_center.supervisor import check_connection_budget, check_workers, supervise

    settings = _settings()
    check_workers(settings, args.workers)
    check_connection_budget(settings, args.workers)
    upgrade(settings.database_url)
    if args.workers > 1:
        return supervise(args.host, args.port, args.workers)
    _run(settings, args.host, args.port)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from contact_center.demo import PORTAL_EMAIL, load_demo
    from contact_center.demo_field import demo_day

    settings = _settings()
    if settings.outbox_drop_dir is None:
        # Without SMTP or Twilio the portal's sign-in links and codes would wait in the outbox: the demo drops them
        # where a person can read them.
        settings = dataclasses.replace(settings, outbox_drop_dir=settings.data_dir / "outbox")
    upgrade(settings.database_url)
    accounts = asyncio.run(load_demo(settings))
    base = f"http://{args.host}:{args.port}"
    # The demo plans today, or the next working day when today is a weekend or mostly over.
    planned = f"?date={demo_day(SystemClock().now(), settings.field_zone).isoformat()}"
    print("\nDemo data loaded. Open:")
    print(f"  {base}/login            sign in (accounts below)")
    print(f"  {base}/desktop          the agent desktop (sign in as an agent)")
    print(f"  {base}/wallboard        the supervisor wallboard")
    print(f"  {base}/cases            the case list")
    print(f"  {base}/chat             web chat, as a customer")
    print(f"  {base}/portal           the customer portal (sign in as {PORTAL_EMAIL})")
    print(f"  {base}/kb               the public knowledge base")
    print(f"  {base}/dispatch{planned}   the dispatch board: the demo day's routes (sign in as the supervisor)")
    print(f"  {base}/tech{planned}       a technician's day in route order (sign in as tech@demo.test)")
    print(f"  {base}/stock            spare-parts stock and reorder alerts (sign in as the supervisor)")
    print(f"  {base}/agents           agents, their skills and capacity (sign in as the supervisor)")
    print(f"  {base}/queues           queues, what they require and promise; skills (sign in as the supervisor)")
    print(f"  {base}/sla              SLA policies and how the last 30 days went (sign in as the supervisor)")
    print(f"  {base}/users            who can sign in, roles, passwords (sign in as the admin)")
    print(f"  {base}/api/v1/openapi.json   the REST API")
    print(f"  {base}/healthz  {base}/readyz  {base}/metrics")
    print("\nAccounts (username / password):")
    for username, password, role in accounts:
        print(f"  {username:28} {password:20} {role}")
    twilio = settings.twilio_account_sid and settings.twilio_auth_token
    dropped = [what for what, provider in (("mail", settings.smtp_host), ("texts", twilio)) if not provider]
    if settings.outbox_drop_dir is not None and dropped:
        print(f"\nThe {' and '.join(dropped)} the platform sends (portal sign-in links and codes, replies) are")
        print(f"written to {settings.outbox_drop_dir}/ and logged, not sent.")
    print()
    _run(settings, args.host, args.port)
    return 0


def _create_user(args: argparse.Namespace) -> int:
    from contact_center.services.users import do_create_user

    settings = _settings()
    upgrade(settings.database_url)
    password = os.environ.get(args.password_env, "") if args.password_env else getpass.getpass("Password: ")
    if not password:
        print("contact-center: no password given", file=sys.stderr)
        return 2

    async def create() -> None:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                await do_create_user(
                    session,
                    username=args.username,
                    password=password,
                    role=Role(args.role),
                    display_name=args.name,
                    now=SystemClock().now(),
                )
        finally:
            await database.dispose()

    asyncio.run(create())
    print(f"created {args.role} {args.username}")
    return 0


def _run(settings: Settings, host: str, port: int) -> None:
    from contact_center.web.app import create_app

    log.info(
        "case store: %s; routing: %s",
        _display_url(settings.database_url),
        "redis" if settings.redis_url else "in-process",
    )
    web.run_app(create_app(settings), host=host, port=port, print=lambda text: log.info("%s", text))


def _display_url(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
