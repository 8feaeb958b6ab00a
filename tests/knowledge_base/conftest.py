"""The fixture articles loaded into the test's store through the service."""

from __future__ import annotations

import pytest

from contact_center.clock import ManualClock
from contact_center.db import Database
from tests.knowledge_base.articles import publish_fixtures


@pytest.fixture
async def kb(database: Database, clock: ManualClock) -> dict[str, int]:
    """Publish every fixture article; return their ids by slug."""
    async with database.transaction() as session:
        return await publish_fixtures(session, clock.now())
