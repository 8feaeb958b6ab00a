"""PostgreSQL adapter: tsvector documents (weights A/B/C), websearch_to_tsquery, ts_rank, pg_trgm for spelling."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.index import IndexedDocument, Match, Scope, scope_conditions
from knowledge_base.query import Query

__all__ = ["TsearchIndex"]

# The english configuration stems English words and leaves the CJK bigrams we insert as they are.
_CONFIG = "english"
# ts_rank normalisation 1: divide by 1 + log(document length), so a long article does not win by size alone.
_NORMALISATION = 1
# The advisory-lock namespace of vocabulary rebuilds (the migrations use their own number).
_VOCABULARY_LOCK = 727_006


class TsearchIndex:
    """Search through the `kb_search` table of weighted tsvectors."""

    async def store(self, session: AsyncSession, document: IndexedDocument) -> None:
        """Add or replace an article's entry."""
        await session.execute(
            text(
                "INSERT INTO kb_search (article_id, document) VALUES (:id, "  # noqa: S608 (no input in it)
                f"setweight(to_tsvector('{_CONFIG}', :title), 'A') || "
                f"setweight(to_tsvector('{_CONFIG}', :tags), 'B') || "
                f"setweight(to_tsvector('{_CONFIG}', :body), 'C')) "
                "ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document"
            ),
            {"id": document.article_id, "title": document.title, "tags": document.tags, "body": document.body},
        )

    async def remove(self, session: AsyncSession, article_id: int) -> None:
        """Drop an article's entry."""
        await session.execute(text("DELETE FROM kb_search WHERE article_id = :id"), {"id": article_id})

    async def match(self, session: AsyncSession, query: Query, scope: Scope, limit: int) -> list[Match]:
        """Return the best matches in scope by ts_rank."""
        if query.empty:
            return []
        params: dict[str, object] = {"query": query.websearch(), "limit": limit}
        where = scope_conditions(scope, params)
        rows = await session.execute(
            text(
                f"SELECT a.id, ts_rank(s.document, q, {_NORMALISATION}) AS score "  # noqa: S608 (no input in it)
                f"FROM kb_search AS s JOIN kb_articles AS a ON a.id = s.article_id, "
                f"websearch_to_tsquery('{_CONFIG}', :query) AS q "
                f"WHERE s.document @@ q AND {where} ORDER BY score DESC, a.id LIMIT :limit"
            ),
            params,
        )
        return [Match(article_id=row[0], relevance=float(row[1])) for row in rows]

    async def lock_vocabulary(self, session: AsyncSession, language: str) -> None:
        """Take a transaction-scoped advisory lock for the language (row locks would deadlock two editors)."""
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:language))"),
            {"space": _VOCABULARY_LOCK, "language": language},
        )

    async def similar_terms(
        self, session: AsyncSession, words: Sequence[str], language: str | None
    ) -> dict[str, dict[str, int]]:
        """Return vocabulary words with trigrams in common (pg_trgm's `%`, served by the trigram index)."""
        schema = (
            await session.execute(
                text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
            )
        ).scalar_one()
        result: dict[str, dict[str, int]] = {}
        for word in words:
            params: dict[str, object] = {"word": word}
            language_sql = ""
            if language is not None:
                params["language"] = language
                language_sql = "AND language = :language"
            rows = await session.execute(
                text(
                    f"SELECT term, MAX(documents) FROM kb_terms "  # noqa: S608 (schema is pg_catalog's own name)
                    f'WHERE term OPERATOR("{schema}".%) :word {language_sql} '
                    f'GROUP BY term ORDER BY MAX("{schema}".similarity(term, :word)) DESC LIMIT 20'
                ),
                params,
            )
            result[word] = {row[0]: int(row[1]) for row in rows}
        return result
