"""The search index's database objects, which are not models: an FTS5 table on SQLite, tsvectors on PostgreSQL.

They are created by migration 0006 and, for stores built with `metadata.create_all` (the tests), by the hook in
`knowledge_base.models`. Every one of them is named `kb_search*`, so schema comparisons can leave them out.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["SEARCH_PREFIX", "create_search_objects", "drop_search_objects", "is_search_object", "trgm_schema"]

SEARCH_PREFIX = "kb_search"

SQLITE_DDL = (
    # The rowid is the article id. Porter stems English; unicode61 keeps each CJK bigram we insert as one token.
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_search USING fts5("
    "title, tags, body, tokenize = 'porter unicode61 remove_diacritics 2')",
)
POSTGRES_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE IF NOT EXISTS kb_search ("
    "article_id INTEGER PRIMARY KEY REFERENCES kb_articles (id) ON DELETE CASCADE, document TSVECTOR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS kb_search_document ON kb_search USING gin (document)",
    # Trigram index for "did you mean" look-ups; the operator class lives wherever pg_trgm was installed.
    "CREATE INDEX IF NOT EXISTS kb_search_terms_trgm ON kb_terms USING gin (term {schema}.gin_trgm_ops)",
)


def is_search_object(name: str | None) -> bool:
    """Tell whether a table or index belongs to the search index (and so has no model)."""
    return bool(name) and str(name).startswith(SEARCH_PREFIX)


def trgm_schema(connection: Connection) -> str:
    """Return the schema pg_trgm's functions live in (not necessarily on the search path)."""
    schema = connection.execute(
        text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    ).scalar_one()
    return str(schema)


def create_search_objects(connection: Connection) -> None:
    """Create the search index on this connection's database (idempotent)."""
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_DDL:
            connection.execute(text(statement))
        return
    connection.execute(text(POSTGRES_DDL[0]))
    schema = trgm_schema(connection)
    for statement in POSTGRES_DDL[1:]:
        connection.execute(text(statement.format(schema=schema)))


def drop_search_objects(connection: Connection) -> None:
    """Drop the search index (before its articles table goes)."""
    connection.execute(text("DROP INDEX IF EXISTS kb_search_terms_trgm"))
    connection.execute(text("DROP TABLE IF EXISTS kb_search"))
