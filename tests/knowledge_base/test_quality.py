"""Search quality on a labelled set of help-desk queries: precision@3 and MRR on each database.

precision@3 counts the relevant articles among the first three, divided by min(3, number relevant), so a query
with one right answer scores 1 when that answer is in the top three. MRR averages 1/rank of the article labelled
first. The figures are printed (run with -s) and quoted in the README.
"""

from __future__ import annotations

from contact_center.db import Database
from knowledge_base.index import Scope
from knowledge_base.search import search_articles
from tests.knowledge_base.articles import QUERIES

PRECISION_FLOOR = 0.9
MRR_FLOOR = 0.9


async def test_labelled_queries_rank_the_right_articles_first(database: Database, kb: dict[str, int]) -> None:
    assert len(QUERIES) >= 30
    slugs = {article_id: slug for slug, article_id in kb.items()}
    precisions, reciprocal_ranks, misses = [], [], []
    async with database.transaction() as session:
        for labelled in QUERIES:
            found = await search_articles(session, labelled.query, scope=Scope(language=labelled.language), limit=10)
            ranked = [slugs[result.article.id or 0] for result in found.results]
            top = ranked[:3]
            precisions.append(sum(1 for slug in top if slug in labelled.relevant) / min(3, len(labelled.relevant)))
            first = labelled.relevant[0]
            reciprocal_ranks.append(1 / (ranked.index(first) + 1) if first in ranked else 0.0)
            if not ranked or ranked[0] != first:
                misses.append((labelled.query, ranked[:3]))
    precision, mrr = sum(precisions) / len(precisions), sum(reciprocal_ranks) / len(reciprocal_ranks)
    backend = "sqlite" if database.is_sqlite else "postgresql"
    print(f"\n{backend}: precision@3 = {precision:.3f}, MRR = {mrr:.3f} over {len(QUERIES)} queries; misses {misses}")
    assert precision >= PRECISION_FLOOR, misses
    assert mrr >= MRR_FLOOR, misses
