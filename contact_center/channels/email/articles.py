"""Knowledge-base articles offered in acknowledgements: the email channel's `Suggest`, backed by the case store."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.channels.email.intake import Suggest, Suggestion
from contact_center.settings import Settings
from knowledge_base.search import suggest_articles

__all__ = ["ACKNOWLEDGEMENT_ARTICLES", "article_suggester"]

#: How many articles an acknowledgement lists: enough to help, few enough to be read.
ACKNOWLEDGEMENT_ARTICLES = 3


def article_suggester(settings: Settings) -> Suggest:
    """Return a `Suggest` offering the public articles that best match a new email, linked on the public site."""
    base = (settings.public_base_url or "").rstrip("/")

    async def suggest(session: AsyncSession, subject: str, text: str, language: str) -> Sequence[Suggestion]:
        results = await suggest_articles(session, f"{subject}\n{text}", language, ACKNOWLEDGEMENT_ARTICLES)
        # Customers only follow absolute links; without PUBLIC_BASE_URL the path still names the article.
        return [Suggestion(r.article.title, f"{base}/kb/{r.article.slug}") for r in results]

    return suggest
