"""The visit reminder: tells customers the day before that a technician is coming.

Safe to run in several processes at once: each reminder is recorded under a unique key with its outbox message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import tzinfo

from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.services.field_notifications import queue_reminders

__all__ = ["run_field_reminders"]

log = logging.getLogger(__name__)


async def run_field_reminders(db: Database, clock: Clock, tz: tzinfo, interval: float = 300.0) -> None:
    """Queue the reminders that are due every ``interval`` seconds."""
    while True:
        try:
            async with db.transaction() as session:
                sent = await queue_reminders(session, clock.now(), tz=tz)
            if sent:
                log.info("field service: %d visit reminders queued", len(sent))
        except Exception:
            log.exception("field reminders failed; retrying")
        await asyncio.sleep(interval)
