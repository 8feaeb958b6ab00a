"""The SLA timer: records warnings and breaches as due times pass."""

from __future__ import annotations

import asyncio
import logging

from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.services.sla import check_sla

__all__ = ["run_sla_timer"]

log = logging.getLogger(__name__)


async def run_sla_timer(db: Database, clock: Clock, interval: float = 30.0) -> None:
    """Check SLA due times every `interval` seconds."""
    while True:
        try:
            async with db.transaction() as session:
                written = await check_sla(session, clock.now())
            for case_id, what in written:
                log.info("case %s: %s", case_id, what)
        except Exception:
            log.exception("SLA timer failed; retrying")
        await asyncio.sleep(interval)
