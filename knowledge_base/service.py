"""Every change to an article: each saves a version, keeps the search index and the vocabulary current.

Views and the CLI parse and authorise, then call a `do_*` function here in their transaction; nothing else writes
articles, so the index never drifts from the articles it describes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from knowledge_base.errors import ArticleInUse, ArticleNotFound, InvalidArticle
from knowledge_base.index import IndexedDocument
from knowledge_base.models import (
    LANGUAGES,
    Article,
    ArticleFeedback,
    ArticleStatus,
    ArticleVersion,
    KbTerm,
    Visibility,
)
from knowledge_base.rendering import plain_text
from knowledge_base.search import index_for
from knowledge_base.text import index_text, vocabulary_words

__all__ = [
    "ArticleChanges",
    "ArticleDraft",
    "Author",
    "do_change_article_status",
    "do_create_article",
    "do_delete_draft",
    "do_record_feedback",
    "do_record_view",
    "do_update_article",
    "get_article",
    "get_public_article",
    "slugify",
    "versions",
]

_SLUG_JUNK = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class Author:
    """Who saved a version (a staff user; the id is theirs in the case store)."""

    name: str
    id: int | None = None


@dataclass
class ArticleDraft:
    title: str
    body: str
    language: str = "en"
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    visibility: Visibility = Visibility.PUBLIC
    status: ArticleStatus = ArticleStatus.DRAFT
    slug: str | None = None


@dataclass
class ArticleChanges:
    """Fields to change; None leaves a field as it is."""

    title: str | None = None
    body: str | None = None
    language: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    visibility: Visibility | None = None


def slugify(title: str) -> str:
    """Return a URL-friendly name for a title (letters of any script kept, the rest made dashes)."""
    slug = _SLUG_JUNK.sub("-", unicodedata.normalize("NFKC", title).lower()).strip("-_")
    return slug[:80].strip("-") or "article"


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = [" ".join(tag.split()).lower() for tag in tags]
    return list(dict.fromkeys(tag[:40] for tag in cleaned if tag))[:20]


def _check(title: str, body: str, language: str) -> None:
    if not title.strip():
        raise InvalidArticle("an article needs a title", field="title")
    if not body.strip():
        raise InvalidArticle("an article needs a body", field="body")
    if language not in LANGUAGES:
        raise InvalidArticle(f"language must be one of {', '.join(LANGUAGES)}", field="language")


_MAX_ID = 2**31


async def get_article(session: AsyncSession, ref: int | str, *, for_update: bool = False) -> Article:
    """Return an article by id or slug, or raise ArticleNotFound."""
    query = select(Article)
    # Ids are 32-bit on PostgreSQL and its text cannot hold NUL: such refs name no article (not a database error).
    if isinstance(ref, int) or (ref.isascii() and ref.isdigit()):
        if int(ref) >= _MAX_ID:
            raise ArticleNotFound(f"article {ref} does not exist")
        query = query.where(Article.id == int(ref))
    elif "\x00" in ref:
        raise ArticleNotFound("no such article")
    else:
        query = query.where(Article.slug == ref)
    article = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if article is None:
        raise ArticleNotFound(f"article {ref} does not exist")
    return article


async def get_public_article(session: AsyncSession, ref: int | str) -> Article:
    """Return a published public article, or raise ArticleNotFound: for customers, nothing else exists."""
    article = await get_article(session, ref)
    if article.status is not ArticleStatus.PUBLISHED or article.visibility is not Visibility.PUBLIC:
        raise ArticleNotFound(f"article {ref} does not exist")
    return article


async def _unique_slug(session: AsyncSession, wanted: str, article_id: int | None = None) -> str:
    base = slugify(wanted)
    if base.isdigit():
        base = f"article-{base}"  # a numeric slug would read as an id
    slug, n = base, 1
    while True:
        query = select(Article.id).where(Article.slug == slug)
        existing = (await session.scalars(query)).first()
        if existing is None or existing == article_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


async def _save_version(
    session: AsyncSession, article: Article, author: Author, now: datetime, note: str | None
) -> None:
    assert article.id is not None
    session.add(
        ArticleVersion(
            article_id=article.id,
            version=article.version,
            title=article.title,
            body=article.body,
            category=article.category,
            tags=list(article.tags),
            status=article.status,
            visibility=article.visibility,
            author_id=author.id,
            author_name=author.name,
            note=note,
            created_at=now,
        )
    )
    await session.flush()


async def _reindex(session: AsyncSession, article: Article, languages: set[str]) -> None:
    assert article.id is not None
    document = IndexedDocument(
        article_id=article.id,
        title=index_text(article.title),
        tags=index_text(" ".join(article.tags)),
        body=index_text(plain_text(article.body)),
    )
    await index_for(session).store(session, document)
    for language in languages:
        await _refresh_terms(session, language)


async def _refresh_terms(session: AsyncSession, language: str) -> None:
    """Rebuild one language's vocabulary from its public, published articles (a few hundred: cheap)."""
    # Two rebuilds of one language take turns, so the second never inserts terms the first just wrote.
    await index_for(session).lock_vocabulary(session, language)
    rows = await session.execute(
        select(Article.title, Article.tags, Article.body).where(
            Article.language == language,
            Article.status == ArticleStatus.PUBLISHED,
            Article.visibility == Visibility.PUBLIC,
        )
    )
    counts: Counter[str] = Counter()
    for title, tags, body in rows:
        counts.update(vocabulary_words(f"{title} {' '.join(tags)} {plain_text(body)}"))
    await session.execute(delete(KbTerm).where(col(KbTerm.language) == language))
    if counts:
        values = [{"term": term[:64], "language": language, "documents": n} for term, n in counts.items()]
        await session.execute(insert(KbTerm), values)


async def do_create_article(session: AsyncSession, draft: ArticleDraft, author: Author, now: datetime) -> Article:
    """Write a new article (a draft unless told otherwise) and its first version."""
    _check(draft.title, draft.body, draft.language)
    article = Article(
        slug=await _unique_slug(session, draft.slug or draft.title),
        title=draft.title.strip()[:200],
        body=draft.body,
        category=(draft.category or "").strip() or None,
        tags=_clean_tags(draft.tags),
        language=draft.language,
        status=draft.status,
        visibility=draft.visibility,
        created_at=now,
        updated_at=now,
        published_at=now if draft.status is ArticleStatus.PUBLISHED else None,
    )
    session.add(article)
    await session.flush()
    await _save_version(session, article, author, now, "created")
    await _reindex(session, article, {article.language})
    return article


async def do_update_article(
    session: AsyncSession, article: Article, changes: ArticleChanges, author: Author, now: datetime, note: str | None
) -> Article:
    """Edit an article: a new version records who changed it and when."""
    old_language = article.language
    title = changes.title if changes.title is not None else article.title
    body = changes.body if changes.body is not None else article.body
    _check(title, body, changes.language or article.language)
    changed = False
    for name, value in (
        ("title", title.strip()[:200]),
        ("body", body),
        ("language", changes.language),
        ("category", None if changes.category is None else (changes.category.strip() or None)),
        ("tags", None if changes.tags is None else _clean_tags(changes.tags)),
        ("visibility", changes.visibility),
    ):
        if value is not None and getattr(article, name) != value:
            setattr(article, name, value)
            changed = True
    if changes.category == "" and article.category is not None:
        article.category, changed = None, True
    if not changed:
        return article
    article.version += 1
    article.updated_at = now
    await _save_version(session, article, author, now, note)
    await _reindex(session, article, {old_language, article.language})
    return article


async def do_change_article_status(
    session: AsyncSession, article: Article, status: ArticleStatus, author: Author, now: datetime
) -> Article:
    """Publish, archive or return an article to draft; the version history records it."""
    if article.status is status:
        return article
    article.status = status
    if status is ArticleStatus.PUBLISHED:
        article.published_at = now
    article.version += 1
    article.updated_at = now
    await _save_version(session, article, author, now, status.value)
    await _reindex(session, article, {article.language})
    return article


async def do_delete_draft(session: AsyncSession, article: Article) -> None:
    """Delete an article that was never published, with its versions; a published one can only be archived."""
    if article.published_at is not None or article.status is not ArticleStatus.DRAFT:
        raise ArticleInUse("only a draft that was never published can be deleted; archive this article instead")
    assert article.id is not None
    await index_for(session).remove(session, article.id)
    await session.execute(delete(ArticleVersion).where(col(ArticleVersion.article_id) == article.id))
    await session.execute(delete(ArticleFeedback).where(col(ArticleFeedback.article_id) == article.id))
    await session.delete(article)
    await session.flush()


async def do_record_feedback(
    session: AsyncSession, article: Article, *, helpful: bool, now: datetime, comment: str | None = None
) -> ArticleFeedback:
    """Record a "was this helpful?" answer and count it on the article in one statement (no lost updates)."""
    assert article.id is not None
    feedback = ArticleFeedback(
        article_id=article.id, helpful=helpful, comment=(comment or "").strip()[:2000] or None, created_at=now
    )
    session.add(feedback)
    counter = col(Article.helpful_yes) if helpful else col(Article.helpful_no)
    await session.execute(update(Article).where(col(Article.id) == article.id).values({counter: counter + 1}))
    await session.flush()
    await session.refresh(article)
    return feedback


async def do_record_view(session: AsyncSession, article_id: int) -> None:
    """Count one reading of an article."""
    await session.execute(update(Article).where(col(Article.id) == article_id).values(views=col(Article.views) + 1))


async def versions(session: AsyncSession, article: Article) -> list[ArticleVersion]:
    """Return an article's versions, newest first."""
    rows = await session.scalars(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article.id)
        .order_by(col(ArticleVersion.version).desc())
    )
    return list(rows.all())
