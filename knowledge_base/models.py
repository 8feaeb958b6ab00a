"""The knowledge base's tables: articles, their versions, readers' feedback and the spelling vocabulary.

The search index itself (an FTS5 virtual table on SQLite, a tsvector table on PostgreSQL) is not a model: it is
built by `knowledge_base.schema` in the migration and after `metadata.create_all`, and kept current by the service.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = [
    "LANGUAGES",
    "Article",
    "ArticleFeedback",
    "ArticleStatus",
    "ArticleVersion",
    "KbTerm",
    "UTCInstant",
    "Visibility",
]

# Languages articles may be written in; the search treats Chinese text with bigrams (see `knowledge_base.text`).
LANGUAGES = ("en", "zh")


class UTCInstant(TypeDecorator[datetime]):
    """Store aware UTC instants on both databases (the domain package keeps its own copy of the case store's type)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the knowledge base; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Visibility(enum.StrEnum):
    """Public articles are for customers; internal ones only for staff."""

    PUBLIC = "public"
    INTERNAL = "internal"


def _enum(enum_class: type[enum.Enum]) -> sa.Enum:
    def values(members: Any) -> list[str]:
        return [member.value for member in members]

    return sa.Enum(enum_class, native_enum=False, create_constraint=False, length=32, values_callable=values)


class Article(SQLModel, table=True):
    __tablename__ = "kb_articles"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_type=sa.Text)
    category: str | None = Field(default=None, max_length=80, index=True)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    language: str = Field(default="en", max_length=16, index=True)
    status: ArticleStatus = Field(default=ArticleStatus.DRAFT, sa_type=_enum(ArticleStatus), index=True)
    visibility: Visibility = Field(default=Visibility.PUBLIC, sa_type=_enum(Visibility))
    version: int = 1
    views: int = 0
    helpful_yes: int = 0
    helpful_no: int = 0
    created_at: datetime = Field(sa_type=UTCInstant)
    updated_at: datetime = Field(sa_type=UTCInstant)
    published_at: datetime | None = Field(default=None, sa_type=UTCInstant)


class ArticleVersion(SQLModel, table=True):
    """One saved state of an article: every edit adds a row, so history is never overwritten."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (sa.UniqueConstraint("article_id", "version", name="uq_kb_article_versions_article_version"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="kb_articles.id", index=True)
    version: int
    title: str = Field(max_length=200)
    body: str = Field(sa_type=sa.Text)
    category: str | None = Field(default=None, max_length=80)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    status: ArticleStatus = Field(sa_type=_enum(ArticleStatus))
    visibility: Visibility = Field(sa_type=_enum(Visibility))
    author_id: int | None = None
    author_name: str = Field(max_length=200)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCInstant)


class ArticleFeedback(SQLModel, table=True):
    """A reader's "was this helpful?" answer; the article row keeps the running counts."""

    __tablename__ = "kb_feedback"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="kb_articles.id", index=True)
    helpful: bool
    comment: str | None = Field(default=None, max_length=2000)
    source: str = Field(default="web", max_length=32)
    created_at: datetime = Field(sa_type=UTCInstant)


class KbTerm(SQLModel, table=True):
    """A word of the public, published articles of one language and in how many of them it occurs.

    "Did you mean" proposes only these words, so a suggestion never reveals an internal article's vocabulary.
    """

    __tablename__ = "kb_terms"

    term: str = Field(primary_key=True, max_length=64)
    language: str = Field(primary_key=True, max_length=16)
    documents: int = 0


_ARTICLES = SQLModel.metadata.tables["kb_articles"]


@event.listens_for(_ARTICLES, "after_create")
def _articles_created(_target: Any, connection: Connection, **_kwargs: Any) -> None:
    # kb_terms may come after kb_articles in create_all's order; build the index once every table exists.
    connection.info["kb_articles_created"] = True


@event.listens_for(SQLModel.metadata, "after_create")
def _tables_created(_target: Any, connection: Connection, **_kwargs: Any) -> None:
    if connection.info.pop("kb_articles_created", False):
        # Imported here because the DDL module is about the index, not the tables; it imports nothing of ours.
        from knowledge_base.schema import create_search_objects

        create_search_objects(connection)


@event.listens_for(_ARTICLES, "before_drop")
def _articles_dropping(_target: Any, connection: Connection, **_kwargs: Any) -> None:
    from knowledge_base.schema import drop_search_objects

    drop_search_objects(connection)
