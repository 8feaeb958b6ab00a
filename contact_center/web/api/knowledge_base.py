"""The knowledge base over HTTP: articles for staff (read by agents, written by supervisors), search, suggestions
and feedback for everyone (customers see public, published articles only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.services.users import SignedIn
from contact_center.web.api.params import Out, Page, acting_user, now
from contact_center.web.auth import AGENTS, SUPERVISORS, current_user
from contact_center.web.keys import DATABASE
from contact_center.web.router import ApiRouter
from knowledge_base.errors import ArticleInUse, ArticleNotFound, KnowledgeBaseError
from knowledge_base.index import Scope
from knowledge_base.models import LANGUAGES, Article, ArticleStatus, Visibility
from knowledge_base.rendering import render_markdown
from knowledge_base.search import SearchResult, search_articles, suggest_articles
from knowledge_base.service import (
    ArticleChanges,
    ArticleDraft,
    Author,
    do_change_article_status,
    do_create_article,
    do_delete_draft,
    do_record_feedback,
    do_update_article,
    get_article,
    get_public_article,
    versions,
)

__all__ = ["ArticleOut", "kb_errors", "router", "visible_scope"]

router = ApiRouter("knowledge base")
Language = Field(default=None, pattern="^(" + "|".join(LANGUAGES) + ")$")


class ArticleOut(Out):
    id: int
    slug: str
    title: str
    body: str
    html: str
    category: str | None
    tags: list[str]
    language: str
    status: ArticleStatus
    visibility: Visibility
    version: int
    views: int
    helpful_yes: int
    helpful_no: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def from_article(cls, article: Article) -> ArticleOut:
        """Read an article row, adding its rendered, sanitised HTML."""
        return cls.model_validate({**article.model_dump(), "html": render_markdown(article.body)})


class VersionOut(Out):
    version: int
    title: str
    body: str
    category: str | None
    tags: list[str]
    status: ArticleStatus
    visibility: Visibility
    author_id: int | None
    author_name: str
    note: str | None
    created_at: datetime


class HitOut(BaseModel):
    id: int
    slug: str
    title: str
    language: str
    category: str | None
    snippet: str = Field(description="HTML: the text escaped, query words in <mark>")
    score: float
    url: str


class SearchOut(BaseModel):
    results: list[HitOut]
    did_you_mean: str | None
    corrected: bool


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=200_000)
    language: str = Field(default="en", pattern="^(" + "|".join(LANGUAGES) + ")$")
    category: str | None = Field(default=None, max_length=80)
    tags: list[str] = Field(default_factory=list, max_length=20)
    visibility: Visibility = Visibility.PUBLIC
    status: ArticleStatus = ArticleStatus.DRAFT
    slug: str | None = Field(default=None, max_length=120)


class ArticlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=200_000)
    language: str | None = Language
    category: str | None = Field(default=None, max_length=80)
    tags: list[str] | None = Field(default=None, max_length=20)
    visibility: Visibility | None = None
    note: str | None = Field(default=None, max_length=500, description="what changed, for the version history")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ArticleStatus


class ArticleQuery(Page):
    status: ArticleStatus | None = None
    language: str | None = Language
    category: str | None = Field(default=None, max_length=80)
    visibility: Visibility | None = None


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=500)
    language: str | None = Language
    category: str | None = Field(default=None, max_length=80)
    limit: int = Field(default=10, ge=1, le=50)


class SuggestQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    language: str | None = Language
    limit: int = Field(default=3, ge=1, le=10)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    helpful_yes: int
    helpful_no: int


@contextmanager
def kb_errors() -> Iterator[None]:
    """Turn the knowledge base's errors into the API's."""
    try:
        yield
    except ArticleNotFound as exc:
        raise NotFound(exc.message, resource="article") from None
    except ArticleInUse as exc:
        raise Conflict(exc.message) from None
    except KnowledgeBaseError as exc:
        raise InvalidInput(exc.message, field=exc.field or "body") from None


def visible_scope(signed_in: SignedIn | None, *, language: str | None, category: str | None = None) -> Scope:
    """Return what a searcher may see: staff also internal articles, everyone else public ones."""
    staff = signed_in is not None and signed_in.user.role in AGENTS
    visibilities = (Visibility.PUBLIC, Visibility.INTERNAL) if staff else (Visibility.PUBLIC,)
    return Scope(visibilities=visibilities, language=language, category=category)


def _hit(result: SearchResult) -> HitOut:
    article = result.article
    return HitOut(
        id=article.id or 0,
        slug=article.slug,
        title=article.title,
        language=article.language,
        category=article.category,
        snippet=result.snippet,
        score=round(result.score, 4),
        url=f"/kb/{article.slug}",
    )


def _author(signed_in: SignedIn) -> Author:
    return Author(signed_in.user.display_name, signed_in.user.id)


def _ref(request: web.Request) -> str:
    return request.match_info["article_ref"]


@router.route(
    "GET",
    "/api/v1/kb/articles",
    summary="List articles (any status), newest change first",
    roles=AGENTS,
    query=ArticleQuery,
    response=list[ArticleOut],
)
async def list_articles(request: web.Request, query: ArticleQuery) -> list[ArticleOut]:
    statement = select(Article)
    for column, value in (
        (Article.status, query.status),
        (Article.language, query.language),
        (Article.category, query.category),
        (Article.visibility, query.visibility),
    ):
        if value is not None:
            statement = statement.where(column == value)
    statement = statement.order_by(col(Article.updated_at).desc(), col(Article.id).desc())
    async with request.app[DATABASE].transaction() as session:
        rows = await session.scalars(statement.limit(query.limit).offset(query.offset))
        return [ArticleOut.from_article(article) for article in rows.all()]


@router.route(
    "POST",
    "/api/v1/kb/articles",
    summary="Write an article (a draft unless a status is given)",
    roles=SUPERVISORS,
    body=ArticleIn,
    response=ArticleOut,
    status=201,
)
async def create_article(request: web.Request, body: ArticleIn) -> ArticleOut:
    signed_in, _ = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            article = await do_create_article(
                session, ArticleDraft(**body.model_dump()), _author(signed_in), now(request)
            )
        return ArticleOut.from_article(article)


@router.route(
    "GET",
    "/api/v1/kb/articles/{article_ref}",
    summary="Read an article by id or slug",
    roles=AGENTS,
    response=ArticleOut,
)
async def read_article(request: web.Request) -> ArticleOut:
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            return ArticleOut.from_article(await get_article(session, _ref(request)))


@router.route(
    "PATCH",
    "/api/v1/kb/articles/{article_ref}",
    summary="Edit an article; a new version records the change",
    roles=SUPERVISORS,
    body=ArticlePatch,
    response=ArticleOut,
)
async def edit_article(request: web.Request, body: ArticlePatch) -> ArticleOut:
    signed_in, _ = await acting_user(request)
    fields = body.model_dump(exclude={"note"})
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            article = await get_article(session, _ref(request), for_update=True)
            article = await do_update_article(
                session, article, ArticleChanges(**fields), _author(signed_in), now(request), body.note
            )
        return ArticleOut.from_article(article)


@router.route(
    "DELETE",
    "/api/v1/kb/articles/{article_ref}",
    summary="Delete a draft that was never published (published articles are archived instead)",
    roles=SUPERVISORS,
    status=204,
)
async def delete_article(request: web.Request) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            article = await get_article(session, _ref(request), for_update=True)
            await do_delete_draft(session, article)
    return web.Response(status=204)


@router.route(
    "POST",
    "/api/v1/kb/articles/{article_ref}/status",
    summary="Publish, archive or return an article to draft",
    roles=SUPERVISORS,
    body=StatusIn,
    response=ArticleOut,
)
async def change_status(request: web.Request, body: StatusIn) -> ArticleOut:
    signed_in, _ = await acting_user(request)
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            article = await get_article(session, _ref(request), for_update=True)
            article = await do_change_article_status(session, article, body.status, _author(signed_in), now(request))
        return ArticleOut.from_article(article)


@router.route(
    "GET",
    "/api/v1/kb/articles/{article_ref}/versions",
    summary="An article's versions, newest first, with author and time",
    roles=AGENTS,
    response=list[VersionOut],
)
async def article_versions(request: web.Request) -> list[VersionOut]:
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            article = await get_article(session, _ref(request))
        return [VersionOut.model_validate(version) for version in await versions(session, article)]


@router.route(
    "GET",
    "/api/v1/kb/search",
    summary='Search published articles in web-search syntax (words, "phrases", -exclusions, or)',
    roles=None,
    query=SearchQuery,
    response=SearchOut,
)
async def search(request: web.Request, query: SearchQuery) -> SearchOut:
    scope = visible_scope(await current_user(request), language=query.language, category=query.category)
    async with request.app[DATABASE].transaction() as session:
        found = await search_articles(session, query.q, scope=scope, limit=query.limit)
    return SearchOut(
        results=[_hit(result) for result in found.results], did_you_mean=found.did_you_mean, corrected=found.corrected
    )


@router.route(
    "GET",
    "/api/v1/kb/suggest",
    summary="Articles that may answer a case's or an email's text",
    roles=None,
    query=SuggestQuery,
    response=list[HitOut],
)
async def suggest(request: web.Request, query: SuggestQuery) -> list[HitOut]:
    signed_in = await current_user(request)
    staff = signed_in is not None and signed_in.user.role in AGENTS
    async with request.app[DATABASE].transaction() as session:
        results = await suggest_articles(session, query.text, query.language, query.limit, include_internal=staff)
    return [_hit(result) for result in results]


@router.route(
    "POST",
    "/api/v1/kb/articles/{article_ref}/feedback",
    summary="Say whether a published public article helped",
    roles=None,
    body=FeedbackIn,
    response=FeedbackOut,
)
async def feedback(request: web.Request, body: FeedbackIn) -> FeedbackOut:
    async with request.app[DATABASE].transaction() as session:
        with kb_errors():
            article = await get_public_article(session, _ref(request))
            await do_record_feedback(session, article, helpful=body.helpful, now=now(request), comment=body.comment)
        return FeedbackOut(helpful_yes=article.helpful_yes, helpful_no=article.helpful_no)
