"""The one interface both search adapters implement, and the plain data they take and give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.models import ArticleStatus, Visibility
from knowledge_base.query import Query

__all__ = ["IndexedDocument", "Match", "Scope", "SearchIndex", "scope_conditions"]


@dataclass(frozen=True)
class IndexedDocument:
    """An article as the index sees it: text already prepared by `knowledge_base.text.index_text`."""

    article_id: int
    title: str
    tags: str
    body: str


@dataclass(frozen=True)
class Scope:
    """Which articles a search may return."""

    statuses: tuple[ArticleStatus, ...] = (ArticleStatus.PUBLISHED,)
    visibilities: tuple[Visibility, ...] = (Visibility.PUBLIC,)
    language: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Match:
    article_id: int
    relevance: float


class SearchIndex(Protocol):
    """Full-text search over articles in one database."""

    async def store(self, session: AsyncSession, document: IndexedDocument) -> None:
        """Add or replace an article's entry."""

    async def remove(self, session: AsyncSession, article_id: int) -> None:
        """Drop an article's entry."""

    async def match(self, session: AsyncSession, query: Query, scope: Scope, limit: int) -> list[Match]:
        """Return the best matches in scope, most relevant first (higher relevance is better)."""

    async def lock_vocabulary(self, session: AsyncSession, language: str) -> None:
        """Wait until no other transaction is rebuilding this language's vocabulary (held until commit)."""

    async def similar_terms(
        self, session: AsyncSession, words: Sequence[str], language: str | None
    ) -> dict[str, dict[str, int]]:
        """Return, for each word, vocabulary words spelt like it and how many articles use each."""


def scope_conditions(scope: Scope, params: dict[str, object]) -> str:
    """Return the SQL conditions on `kb_articles AS a` for a scope, adding their bind values to params."""
    clauses = []
    for name, values in (("status", scope.statuses), ("visibility", scope.visibilities)):
        keys = []
        for index, value in enumerate(values):
            params[f"{name}{index}"] = value.value
            keys.append(f":{name}{index}")
        clauses.append(f"a.{name} IN ({', '.join(keys)})")
    if scope.language is not None:
        params["language"] = scope.language
        clauses.append("a.language = :language")
    if scope.category is not None:
        params["category"] = scope.category
        clauses.append("a.category = :category")
    return " AND ".join(clauses)
