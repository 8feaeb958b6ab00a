"""The abandoned-chat sweep: a waiting chat whose customer closed the page and stayed away leaves the queue."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from contact_center.channels.chat.service import ChatService

__all__ = ["GRACE", "run_abandon_sweep"]

log = logging.getLogger(__name__)

# Long enough for a reload or a train tunnel; a customer back within it finds the chat where it was.
GRACE = timedelta(seconds=60)


async def run_abandon_sweep(service: ChatService, interval: float = 5.0) -> None:
    """Close waiting chats whose customer has been gone longer than the grace period, forever."""
    while True:
        try:
            closed = await service.close_abandoned(GRACE)
            if closed:
                log.info("chat: %d waiting chats abandoned by customers who left", closed)
        except Exception:
            log.exception("abandoned-chat sweep failed; retrying")
        await asyncio.sleep(interval)
