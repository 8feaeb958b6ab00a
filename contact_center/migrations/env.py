"""Alembic environment: runs migrations over the async engine of the configured database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

import contact_center.models as models
from knowledge_base.schema import is_search_object

config = context.config
target_metadata = models.metadata
# Taken by every process that migrates, so several servers starting at once run each migration once.
_ADVISORY_LOCK = 727_001


def _include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    # The knowledge base's search index (FTS5 tables, tsvector table, trigram index) is made by hand, not by models.
    return not (type_ in ("table", "index") and is_search_object(name))


def _run(connection: Connection) -> None:
    context.configure(
        include_name=_include_name,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(
        config.get_main_option("sqlalchemy.url") or "", connect_args=config.attributes.get("connect_args", {})
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
