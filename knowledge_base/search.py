"""Searching and suggesting articles: the adapter for the session's database, then the pure decisions.

`suggest_articles(session, text, language, limit)` is what the email acknowledgement, the agent desktop and the
portal call with a case's or an email's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from knowledge_base.fts5 import Fts5Index
from knowledge_base.index import Match, Scope, SearchIndex
from knowledge_base.models import Article, ArticleStatus, Visibility
from knowledge_base.query import Query, message_query, parse_query
from knowledge_base.ranking import Candidate, rank
from knowledge_base.rendering import plain_text
from knowledge_base.snippets import make_snippet
from knowledge_base.spelling import correct_terms
from knowledge_base.tsearch import TsearchIndex

__all__ = ["SearchResult", "SearchResults", "index_for", "search_articles", "suggest_articles"]

# Fetch more than asked from the database, so the final ranking has room to reorder.
_OVERFETCH = 3


@dataclass(frozen=True)
class SearchResult:
    article: Article
    score: float
    snippet: str  # HTML: escaped text with <mark> around query words


@dataclass(frozen=True)
class SearchResults:
    results: list[SearchResult]
    did_you_mean: str | None = None
    # True when a word was misspelt and these are the results for `did_you_mean` instead of the words as typed.
    corrected: bool = False


def index_for(session: AsyncSession) -> SearchIndex:
    """Return the search adapter for the database this session talks to."""
    bind = session.get_bind()
    return TsearchIndex() if bind.dialect.name == "postgresql" else Fts5Index()


async def _results(session: AsyncSession, query: Query, scope: Scope, limit: int) -> list[SearchResult]:
    index = index_for(session)
    matches: list[Match] = await index.match(session, query, scope, limit * _OVERFETCH)
    if not matches:
        return []
    rows = await session.scalars(select(Article).where(col(Article.id).in_([m.article_id for m in matches])))
    articles = {article.id: article for article in rows.all()}
    candidates = [
        Candidate(m.article_id, m.relevance, a.title, a.helpful_yes, a.helpful_no)
        for m in matches
        if (a := articles.get(m.article_id)) is not None
    ]
    terms = query.highlight_terms
    results = []
    for candidate, score in rank(candidates, terms)[:limit]:
        article = articles[candidate.article_id]
        snippet = make_snippet(plain_text(article.body), terms)
        results.append(SearchResult(article=article, score=score, snippet=snippet.html))
    return results


async def search_articles(session: AsyncSession, text: str, *, scope: Scope, limit: int = 10) -> SearchResults:
    """Search in web-search syntax; a word no article uses is corrected, and the corrected query is searched."""
    query = parse_query(text)
    if query.empty:
        return SearchResults(results=[])
    latin = [term for term in query.terms if term not in query.cjk_terms]
    corrected_latin = None
    if latin:
        candidates = await index_for(session).similar_terms(session, latin, scope.language)
        corrected_latin = correct_terms(latin, candidates)
    if corrected_latin is None:
        return SearchResults(results=await _results(session, query, scope, limit))
    if Visibility.INTERNAL in scope.visibilities:
        # The vocabulary holds public words only: a staff word ("vip") may be right. Offer, do not impose.
        results = await _results(session, query, scope, limit)
        if results:
            fixed = dict(zip(latin, corrected_latin, strict=True))
            offered = query.with_terms(tuple(dict.fromkeys(fixed.get(term, term) for term in query.terms)))
            return SearchResults(results=results, did_you_mean=_describe(offered))
    replacements = dict(zip(latin, corrected_latin, strict=True))
    corrected = query.with_terms(tuple(dict.fromkeys(replacements.get(term, term) for term in query.terms)))
    results = await _results(session, corrected, scope, limit)
    if not results:
        # The correction found nothing either: the words as typed are the reader's best bet.
        return SearchResults(results=await _results(session, query, scope, limit))
    return SearchResults(results=results, did_you_mean=_describe(corrected), corrected=True)


def _describe(query: Query) -> str:
    parts = [" ".join(query.terms)] + [f'"{" ".join(p)}"' for p in query.phrases] + [f"-{w}" for w in query.excluded]
    return " ".join(part for part in parts if part)


async def suggest_articles(
    session: AsyncSession,
    text: str,
    language: str | None = None,
    limit: int = 3,
    *,
    include_internal: bool = False,
    exclude: Sequence[int] = (),
) -> list[SearchResult]:
    """Return the published articles most relevant to a case's or an email's text, best first.

    Customers get public articles only; staff callers (the agent desktop) pass `include_internal=True`.
    """
    query = message_query(text)
    if query.empty:
        return []
    visibilities = (Visibility.PUBLIC, Visibility.INTERNAL) if include_internal else (Visibility.PUBLIC,)
    scope = Scope(statuses=(ArticleStatus.PUBLISHED,), visibilities=visibilities, language=language)
    excluded = set(exclude)
    results = await _results(session, query, scope, limit + len(excluded))
    return [result for result in results if result.article.id not in excluded][:limit]
