"""The preventive-maintenance runner: once in a while, create the work orders of plans that fall due.

Every server process may run it: creating a plan's work order locks the plan and the work order's code is unique
per plan and due date, so concurrent runs never create one twice.
"""

from __future__ import annotations

import asyncio
import logging

from contact_center.clock import Clock
from contact_center.db import Database
from field_service.maintenance_store import run_maintenance

__all__ = ["run_maintenance_planner"]

log = logging.getLogger(__name__)


async def run_maintenance_planner(db: Database, clock: Clock, interval: float = 3600.0) -> None:
    """Create due preventive work orders every ``interval`` seconds, surviving database hiccups."""
    while True:
        try:
            now = clock.now()
            async with db.transaction() as session:
                created = await run_maintenance(session, now.date(), now)
            if created:
                log.info("maintenance: %d work order(s) created", len(created))
        except Exception:
            log.exception("maintenance runner failed; retrying")
        await asyncio.sleep(interval)
