"""The fixture articles loaded into the test's store through the service."""

from __future__ import annotations

import pytest

from contact_center.clock import ManualClock
from contact_center.db import Database
from knowledge_base.models import ArticleStatus, Visibility
from knowledge_base.service import ArticleDraft, Author, do_create_article
from tests.knowledge_base.articles import ARTICLES

EDITOR = Author("Sam", 1)


@pytest.fixture
async def kb(database: Database, clock: ManualClock) -> dict[str, int]:
    """Publish every fixture article; return their ids by slug."""
    ids = {}
    async with database.transaction() as session:
        for fixture in ARTICLES:
            draft = ArticleDraft(
                title=fixture.title,
                body=fixture.body,
                language=fixture.language,
                category=fixture.category,
                tags=list(fixture.tags),
                visibility=Visibility.INTERNAL if fixture.internal else Visibility.PUBLIC,
                status=ArticleStatus.PUBLISHED,
                slug=fixture.slug,
            )
            article = await do_create_article(session, draft, EDITOR, clock.now())
            ids[fixture.slug] = article.id or 0
    return ids
