"""The outbox sender: claims due messages and hands each to its channel's transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from contact_center.channels.base import Transport, TransportError
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.models import OutboxChannel
from contact_center.services.outbox import claim_due, mark_failed, mark_sent

__all__ = ["run_outbox_sender", "send_due"]

log = logging.getLogger(__name__)


async def send_due(db: Database, transports: Mapping[OutboxChannel, Transport], clock: Clock) -> int:
    """Send every message that is due now; return how many were attempted."""
    if not transports:
        return 0
    async with db.transaction() as session:
        claimed = [(m.id or 0, m) for m in await claim_due(session, clock.now(), channels=list(transports))]
    for message_id, message in claimed:
        try:
            provider_id = await transports[message.channel].send(message)
        except TransportError as exc:
            log.warning("outbox %s: %s (permanent=%s)", message_id, exc, exc.permanent)
            async with db.transaction() as session:
                await mark_failed(session, message_id, str(exc), permanent=exc.permanent, now=clock.now())
            continue
        async with db.transaction() as session:
            await mark_sent(session, message_id, provider_id, clock.now())
    return len(claimed)


async def run_outbox_sender(
    db: Database, transports: Mapping[OutboxChannel, Transport], clock: Clock, interval: float = 1.0
) -> None:
    """Send due messages forever, surviving database hiccups."""
    while True:
        try:
            sent = await send_due(db, transports, clock)
        except Exception:
            log.exception("outbox sender failed; retrying")
            sent = 0
        if not sent:
            await asyncio.sleep(interval)
