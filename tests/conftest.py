"""Shared fixtures: a fresh case store per test on SQLite and on PostgreSQL, a manual clock, signed-in clients."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import event

from contact_center.clock import ManualClock
from contact_center.db import Database
from contact_center.models import Role, metadata
from contact_center.services import users as users_service
from contact_center.services.agents import AgentFields, do_create_agent
from contact_center.services.users import do_create_user
from contact_center.settings import Settings
from contact_center.web.app import create_app

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DATABASES = [name.strip() for name in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",") if name.strip()]
# A Monday morning in winter: London business hours, UTC == local time.
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def _raw_postgres_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """Hash test passwords with tiny Argon2 parameters: the production cost would dominate the suite's time."""
    original = users_service._HASHER
    users_service._HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    yield
    users_service._HASHER = original


@pytest.fixture(params=DATABASES)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """A case store with every table, empty, private to this test."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(await _sqlite_template(tmp_path_factory), path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        schema = None
    else:
        schema = _SPARE_SCHEMAS.pop() if _SPARE_SCHEMAS else await _new_postgres_schema()
        db = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield db
    finally:
        await db.dispose()
        if schema is not None:
            await _give_back(schema)


# Creating a schema (60 tables and their indexes) costs about a second of PostgreSQL's time, dropping one a third
# of that, mostly in files made and synced; emptying one costs a few milliseconds. So a test's schema is emptied
# afterwards (rows deleted, sequences back to 1) and handed to the next test; a new one is made only when none is
# spare, and the spares are dropped at the end of the session.
_SPARE_SCHEMAS: list[str] = []


async def _new_postgres_schema() -> str:
    schema = f"t_{secrets.token_hex(6)}"
    script = await _postgres_schema_script()
    admin = await asyncpg.connect(_raw_postgres_dsn())
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}";\n{script}')
        # What a schema as built holds (the models' tables and any their DDL events add): to tell one a test changed.
        _TEMPLATES.setdefault("tables", len(await admin.fetch(_TABLES, schema)))
    finally:
        await admin.close()
    return schema


async def _give_back(schema: str) -> None:
    """Empty a test's schema for the next test, or drop it if it cannot be emptied or is no longer as built."""
    admin = await asyncpg.connect(_raw_postgres_dsn())
    try:
        try:
            async with admin.transaction():
                # Foreign keys are not checked meanwhile (superuser only), so the order of the deletes is free.
                await admin.execute("SET LOCAL lock_timeout = '5s'; SET LOCAL session_replication_role = replica")
                tables = [row[0] for row in await admin.fetch(_TABLES, schema)]
                if len(tables) != _TEMPLATES["tables"]:
                    raise RuntimeError(f"schema {schema} has {len(tables)} tables")  # a test changed it: drop it
                await admin.execute(";".join(f'DELETE FROM "{schema}"."{table}"' for table in tables))  # noqa: S608
                await admin.execute(_RESTART_SEQUENCES, schema)
        except (asyncpg.PostgresError, RuntimeError):
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            _SPARE_SCHEMAS.append(schema)
    finally:
        await admin.close()


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = $1"
_RESTART_SEQUENCES = """
    SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'S' AND n.nspname = $1
"""


@pytest.fixture(autouse=True, scope="session")
def drop_spare_schemas() -> Iterator[None]:
    """Drop the spare PostgreSQL schemas at the end of the session."""
    yield
    if not _SPARE_SCHEMAS:
        return

    async def drop() -> None:
        admin = await asyncpg.connect(_raw_postgres_dsn())
        try:
            for schema in _SPARE_SCHEMAS:
                await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await admin.close()
        _SPARE_SCHEMAS.clear()

    asyncio.run(drop())


# Building the schema with `metadata.create_all` costs hundreds of round trips per test. Each database is built
# that way once per session; each test then gets a copy: the SQLite file copied, the PostgreSQL DDL replayed as one
# script into the test's own schema.
_TEMPLATES: dict[str, Any] = {}


async def _sqlite_template(factory: pytest.TempPathFactory) -> Path:
    if "sqlite" not in _TEMPLATES:
        path = factory.mktemp("template") / "store.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        await db.dispose()  # checkpoints the WAL into the file
        _TEMPLATES["sqlite"] = path
    path = _TEMPLATES["sqlite"]
    assert isinstance(path, Path)
    return path


async def _postgres_schema_script() -> str:
    if "postgresql" not in _TEMPLATES:
        schema = f"t_template_{secrets.token_hex(6)}"
        admin = await asyncpg.connect(_raw_postgres_dsn())
        # In public, once: installed into a test's own schema it would vanish with that schema under the feet of
        # tests running at the same time.
        await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        db = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
        statements: list[str] = []

        def capture(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
            # The DDL, not create_all's catalogue look-ups; none of it names the schema (the search path does).
            if not statement.lstrip().upper().startswith(("SELECT", "SHOW")):
                statements.append(statement.strip().rstrip(";"))

        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        try:
            async with db.engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
        finally:
            await db.dispose()
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()
        assert not any(schema in statement for statement in statements)
        _TEMPLATES["postgresql"] = ";\n".join(statements) + ";"
    script = _TEMPLATES["postgresql"]
    assert isinstance(script, str)
    return script


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    # Sessions outlive the tests' jumps in time; the expiry test sets its own clock.
    return Settings(
        data_dir=tmp_path,
        database_url=database.url,
        secret_key="test-secret",
        background_workers=False,
        session_hours=24 * 400,
    )


@pytest.fixture
async def app_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    settings: Settings,
    database: Database,
    clock: ManualClock,
) -> Callable[[], Awaitable[TestClient[Any, Any]]]:
    """Return a factory of HTTP clients (each with its own cookie jar) on one app."""
    app = create_app(settings, database=database, clock=clock)
    first: TestClient[Any, Any] | None = None

    async def make() -> TestClient[Any, Any]:
        nonlocal first
        if first is None:
            first = await aiohttp_client(app)
            return first
        # Further clients talk to the same running server with a cookie jar of their own.
        other = await aiohttp_client(first.server)
        return other

    return make


class Api:
    """A signed-in API client that sends the CSRF token with every state-changing request."""

    def __init__(self, client: TestClient[Any, Any], csrf: str | None) -> None:
        self.client = client
        self.csrf = csrf

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {**({"X-CSRF-Token": self.csrf} if self.csrf else {}), **(headers or {})}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        expect: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        response = await self.client.request(method, path, json=json, headers=self._headers(headers), **kwargs)
        body = await response.json() if response.content_type == "application/json" else await response.text()
        if expect is not None:
            assert response.status == expect, (response.status, body)
        return body

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return await self.call("POST", path, json=json, **kwargs)

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return await self.call("PATCH", path, json=json, **kwargs)

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return await self.call("PUT", path, json=json, **kwargs)


PERSONAS = {
    "alice": Role.ADMIN,
    "sam": Role.SUPERVISOR,
    "bob": Role.AGENT,
    "tess": Role.TECHNICIAN,
}


@pytest.fixture
async def users(database: Database, clock: ManualClock) -> dict[str, int]:
    """Create the named personas: alice (admin), sam (supervisor), bob (agent), tess (technician).

    Everyone but tess also works as an agent (with no skills, offline), so each can take contacts.
    """
    ids = {}
    async with database.transaction() as session:
        for name, role in PERSONAS.items():
            agent = None
            if role is not Role.TECHNICIAN:
                agent = await do_create_agent(
                    session, AgentFields(name=name.title(), email=f"{name}@example.test"), clock.now()
                )
            user = await do_create_user(
                session,
                username=f"{name}@example.test",
                password=PASSWORD,
                role=role,
                now=clock.now(),
                display_name=name.title(),
                agent_id=agent.id if agent else None,
            )
            ids[name] = user.id or 0
    return ids


@pytest.fixture
async def login(
    app_client: Callable[[], Awaitable[TestClient[Any, Any]]], users: dict[str, int]
) -> Callable[[str], Awaitable[Api]]:
    """Return a function that signs a persona in on a fresh client."""

    async def sign_in(persona: str) -> Api:
        client = await app_client()
        if persona == "anonymous":
            return Api(client, None)
        response = await client.post(
            "/api/v1/auth/login", json={"username": f"{persona}@example.test", "password": PASSWORD}
        )
        assert response.status == 200, await response.text()
        return Api(client, (await response.json())["csrf_token"])

    return sign_in
