"""Articles through the service on both databases: versions, the index kept current, scopes, feedback, suggestions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from contact_center.db import Database
from contact_center.migrate import upgrade
from knowledge_base.index import Scope
from knowledge_base.models import ArticleStatus, Visibility
from knowledge_base.search import search_articles, suggest_articles
from knowledge_base.service import (
    ArticleChanges,
    ArticleDraft,
    Author,
    do_change_article_status,
    do_create_article,
    do_record_feedback,
    do_record_view,
    do_update_article,
    get_article,
    versions,
)

SAM, ALICE = Author("Sam", 2), Author("Alice", 1)
STAFF = Scope(visibilities=(Visibility.PUBLIC, Visibility.INTERNAL))
PUBLIC = Scope()


async def titles(session, text, scope=PUBLIC):
    return [result.article.title for result in (await search_articles(session, text, scope=scope)).results]


async def test_every_edit_is_a_version_and_the_index_follows_it(database, clock):
    async with database.transaction() as session:
        article = await do_create_article(
            session, ArticleDraft(title="Scanner jams", body="Open the lid of the scanner."), SAM, clock.now()
        )
        assert await titles(session, "scanner") == []  # a draft is not searchable
        await do_change_article_status(session, article, ArticleStatus.PUBLISHED, SAM, clock.now())
        assert await titles(session, "scanner") == ["Scanner jams"]
    clock.advance(timedelta(minutes=5))
    async with database.transaction() as session:
        article = await get_article(session, article.slug, for_update=True)
        await do_update_article(
            session,
            article,
            ArticleChanges(title="Photocopier jams", body="Open the lid."),
            ALICE,
            clock.now(),
            "renamed",
        )
        assert await titles(session, "scanner") == []
        assert await titles(session, "photocopier") == ["Photocopier jams"]
        history = await versions(session, article)
    assert [(v.version, v.author_name, v.title, v.note) for v in history] == [
        (3, "Alice", "Photocopier jams", "renamed"),
        (2, "Sam", "Scanner jams", "published"),
        (1, "Sam", "Scanner jams", "created"),
    ]
    assert history[0].created_at == clock.now()
    async with database.transaction() as session:
        article = await get_article(session, article.id)
        await do_change_article_status(session, article, ArticleStatus.ARCHIVED, ALICE, clock.now())
        assert await titles(session, "photocopier") == []


async def test_internal_articles_are_for_staff_only(database, kb):
    async with database.transaction() as session:
        assert await titles(session, "vip escalation") == []
        assert (await titles(session, "vip escalation", STAFF))[0] == "Escalating a VIP complaint (internal)"
        public = await suggest_articles(session, "VIP customer complaint escalation", "en")
        staff = await suggest_articles(session, "VIP customer complaint escalation", "en", include_internal=True)
    assert all(result.article.visibility is Visibility.PUBLIC for result in public)
    assert staff[0].article.slug == "escalation-internal"


async def test_suggestions_for_an_email_in_english_and_in_chinese(database, kb):
    email = """Hello,

my printer shows offline since this morning and nothing prints. I restarted the printer twice.

> On Monday you wrote: about your invoice
--
Ann Lee"""
    async with database.transaction() as session:
        english = await suggest_articles(session, email, "en", 3)
        chinese = await suggest_articles(session, "您好,我的打印机一直显示脱机,无法打印。", "zh", 3)
        nothing = await suggest_articles(session, "thanks!", "en", 3)
    assert english[0].article.slug == "printer-offline"
    assert "<mark>" in english[0].snippet
    assert chinese[0].article.slug == "zh-printer-offline"
    assert all(result.article.language == "zh" for result in chinese)
    assert nothing == []


async def test_a_misspelt_query_is_corrected_and_says_so(database, kb):
    async with database.transaction() as session:
        found = await search_articles(session, "pasword resett", scope=Scope(language="en"))
        exact = await search_articles(session, "password", scope=Scope(language="en"))
    assert found.corrected
    assert found.did_you_mean == "password reset"
    assert found.results[0].article.slug == "reset-password"
    assert not exact.corrected
    assert exact.did_you_mean is None


async def test_staff_words_missing_from_the_public_vocabulary_are_searched_as_typed(database, kb, clock):
    async with database.transaction() as session:
        codename = ArticleDraft(
            title="Project Printre rollout",
            body="Printre is the new driver bundle; roll it out by team.",
            visibility=Visibility.INTERNAL,
            status=ArticleStatus.PUBLISHED,
        )
        await do_create_article(session, codename, SAM, clock.now())
        staff = await search_articles(session, "printre", scope=STAFF)
        public = await search_articles(session, "printre", scope=PUBLIC)
    assert not staff.corrected
    assert staff.did_you_mean == "printer"
    assert staff.results[0].article.title == "Project Printre rollout"
    assert public.corrected
    assert public.results[0].article.slug == "printer-offline"


async def test_web_search_syntax_phrases_and_exclusions(database, kb):
    async with database.transaction() as session:
        assert await titles(session, "printer -offline") == ["Clear a paper jam"]
        phrase = await titles(session, '"factory reset"')
        assert phrase == ["Restart or reset your WiFi router"]
        # Both articles contain the phrase 重置密码; the one titled so comes first.
        assert await titles(session, '"重置密码"', Scope(language="zh")) == ["重置密码", "账户被锁定"]
        assert await titles(session, '"密码重置"', Scope(language="zh")) == []


async def test_feedback_and_views_are_counted(database, kb, clock):
    async with database.transaction() as session:
        article = await get_article(session, "refund-policy")
        await do_record_feedback(session, article, helpful=True, now=clock.now())
        await do_record_feedback(session, article, helpful=False, now=clock.now(), comment="  too short  ")

    async def view() -> None:
        async with database.transaction() as session:
            await do_record_view(session, kb["refund-policy"])

    await asyncio.gather(*(view() for _ in range(5)))
    async with database.transaction() as session:
        article = await get_article(session, "refund-policy")
    assert (article.helpful_yes, article.helpful_no, article.views) == (1, 1, 5)


async def test_the_migrated_store_searches_too(tmp_path, clock):
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    try:
        async with database.transaction() as session:
            draft = ArticleDraft(title="Reset your password", body="Use the link.", status=ArticleStatus.PUBLISHED)
            await do_create_article(session, draft, SAM, clock.now())
            assert await titles(session, "passwords") == ["Reset your password"]
    finally:
        await database.dispose()


async def test_concurrent_edits_in_one_language_keep_the_vocabulary_whole(database, kb, clock):
    async def edit(slug: str, word: str) -> None:
        async with database.transaction() as session:
            article = await get_article(session, slug, for_update=True)
            changes = ArticleChanges(body=f"{article.body}\n\nSee also {word}.")
            await do_update_article(session, article, changes, SAM, clock.now(), None)

    await asyncio.gather(*(edit(slug, word) for slug, word in [("track-order", "zebra"), ("refund-policy", "yak")]))
    async with database.transaction() as session:
        found = await search_articles(session, "zebras yak", scope=Scope(language="en"))
        corrected = await search_articles(session, "zebar", scope=Scope(language="en"))
    assert {result.article.slug for result in found.results} == {"track-order", "refund-policy"}
    assert corrected.did_you_mean == "zebra"
