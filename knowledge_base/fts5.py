"""SQLite adapter: FTS5 with bm25, title and tags weighted above the body."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.index import IndexedDocument, Match, Scope, scope_conditions
from knowledge_base.query import Query

__all__ = ["Fts5Index"]

# bm25 column weights: title, tags, body. A word in the title says more about an article than one in its body.
_WEIGHTS = "10.0, 4.0, 1.0"


class Fts5Index:
    """Search through the `kb_search` FTS5 table, whose rowid is the article id."""

    async def store(self, session: AsyncSession, document: IndexedDocument) -> None:
        """Add or replace an article's entry."""
        await self.remove(session, document.article_id)
        await session.execute(
            text("INSERT INTO kb_search (rowid, title, tags, body) VALUES (:id, :title, :tags, :body)"),
            {"id": document.article_id, "title": document.title, "tags": document.tags, "body": document.body},
        )

    async def remove(self, session: AsyncSession, article_id: int) -> None:
        """Drop an article's entry."""
        await session.execute(text("DELETE FROM kb_search WHERE rowid = :id"), {"id": article_id})

    async def match(self, session: AsyncSession, query: Query, scope: Scope, limit: int) -> list[Match]:
        """Return the best matches in scope by bm25."""
        if query.empty:
            return []
        params: dict[str, object] = {"match": query.fts5(), "limit": limit}
        where = scope_conditions(scope, params)
        rows = await session.execute(
            text(
                f"SELECT a.id, bm25(kb_search, {_WEIGHTS}) AS score FROM kb_search "  # noqa: S608 (no input in it)
                f"JOIN kb_articles AS a ON a.id = kb_search.rowid "
                f"WHERE kb_search MATCH :match AND {where} ORDER BY score LIMIT :limit"
            ),
            params,
        )
        # bm25 is negative, lower is better; turn it into "higher is better" like ts_rank.
        return [Match(article_id=row[0], relevance=-float(row[1])) for row in rows]

    async def lock_vocabulary(self, session: AsyncSession, language: str) -> None:
        """Do nothing: SQLite transactions here begin IMMEDIATE, so writers already take turns."""

    async def similar_terms(
        self, session: AsyncSession, words: Sequence[str], language: str | None
    ) -> dict[str, dict[str, int]]:
        """Return vocabulary words of about the same length; the edit distance is judged in `spelling`."""
        result: dict[str, dict[str, int]] = {}
        for word in words:
            params: dict[str, object] = {"low": len(word) - 2, "high": len(word) + 2}
            language_sql = ""
            if language is not None:
                params["language"] = language
                language_sql = "AND language = :language"
            rows = await session.execute(
                text(
                    "SELECT term, MAX(documents) FROM kb_terms "  # noqa: S608 (no input in it)
                    f"WHERE length(term) BETWEEN :low AND :high {language_sql} GROUP BY term"
                ),
                params,
            )
            result[word] = {row[0]: int(row[1]) for row in rows}
        return result
