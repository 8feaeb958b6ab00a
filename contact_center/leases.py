"""Leases: background work that must run once across server processes runs only where its lease is held.

A lease is a row of the `leases` table (name, holder, expires_at). Taking and renewing it is one atomic
`UPDATE leases SET holder = me, expires_at = now + period WHERE name = ? AND (expires_at < now OR holder = me)`;
the first taker inserts the row, and a second inserter loses on the primary key. A holder that dies stops
renewing, and another process takes the lease over once it has expired: within one lease period.

Why the case store and not Redis (`SET NX PX`): the lease must exist wherever the work does, and a deployment
on SQLite runs `contact-center email worker` beside the server without any Redis. The work guarded (the SLA
timer, the IMAP intake) writes to the case store anyway, so a holder that cannot reach the store could not do the
work either, and it gives the work up exactly when it cannot renew. Lease times are wall-clock time (processes
on one machine or NTP-synchronised machines); the period is many times any plausible clock skew.

The routing timers and the outbox sender need no lease: every routing timeout fires in one atomic Redis script,
and outbox messages are claimed row by row (`services.outbox.claim_due`), so those run in every process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.models import Lease

__all__ = ["LoopFactory", "Store", "acquire", "holder_of", "new_holder", "release", "run_exclusively"]

log = logging.getLogger(__name__)

LoopFactory = Callable[[], Coroutine[Any, Any, None]]
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class Store(Protocol):
    """What a lease needs of the case store: transactions (a `Database` is one)."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """Open one transaction: committed when the block ends, rolled back on an exception."""
        ...


def new_holder() -> str:
    """Return a name for this process's leases that no other process (or app in this process) shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def acquire(db: Store, name: str, holder: str, now: datetime, period: timedelta) -> bool:
    """Take or renew the lease `name` for `period`; return False while another holder's lease runs."""
    expires = now + period
    async with db.transaction() as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(Lease)
                .where(col(Lease.name) == name, (col(Lease.expires_at) < now) | (col(Lease.holder) == holder))
                .values(holder=holder, expires_at=expires)
            ),
        )
        if result.rowcount:
            return True
    try:
        async with db.transaction() as session:
            session.add(Lease(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # someone else holds it (or inserted it a moment ago)
    return True


async def release(db: Store, name: str, holder: str) -> None:
    """Give the lease up at once, so another process need not wait for it to expire."""
    async with db.transaction() as session:
        await session.execute(
            update(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder).values(expires_at=_NEVER)
        )


async def holder_of(db: Store, name: str, now: datetime) -> str | None:
    """Return who holds the lease `name` now, or None when nobody does."""
    async with db.transaction() as session:
        lease = await session.get(Lease, name)
    return lease.holder if lease is not None and lease.expires_at > now else None


async def run_exclusively(
    name: str,
    loop_factory: LoopFactory,
    *,
    db: Database,
    holder: str,
    clock: Clock,
    period: float = 15.0,
) -> None:
    """Run `loop_factory()` only while this process holds the lease `name`, until cancelled.

    The lease is renewed every third of `period`. When it is lost (another process took it after a renewal
    failed for too long) the work is cancelled and the lease is waited for again; when the work ends or
    fails it is started again after a pause. Cancelling this coroutine stops the work and releases the lease.
    """
    renew_every = period / 3
    lease_period = timedelta(seconds=period)
    while True:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives as the
            # acquire finishes, and this loop then never stops (a stuck shutdown; a test hung on it in CI).
            async with asyncio.timeout(period):
                held = await acquire(db, name, holder, clock.now(), lease_period)
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            log.warning("lease %s: cannot reach the store (%s); retrying", name, exc)
            held = False
        if not held:
            await asyncio.sleep(renew_every)
            continue
        log.info("lease %s: held by %s", name, holder)
        try:
            await _hold(name, loop_factory, db=db, holder=holder, clock=clock, period=period)
        except asyncio.CancelledError:
            try:
                await release(db, name, holder)
            except (OSError, SQLAlchemyError):
                log.warning("lease %s: not released (the store is unreachable); it expires by itself", name)
            raise
        await asyncio.sleep(renew_every)


async def _hold(
    name: str, loop_factory: LoopFactory, *, db: Database, holder: str, clock: Clock, period: float
) -> None:
    """Run the work while renewing the lease; return when the lease is lost or the work ended."""
    renew_every = period / 3
    # The monotonic clock says when our lease surely ran out, even if the store's clock cannot be read.
    held_until = time.monotonic() + period
    work = asyncio.create_task(loop_factory(), name=f"lease-{name}")
    try:
        while True:
            done, _ = await asyncio.wait({work}, timeout=renew_every)
            if done:
                if not work.cancelled() and work.exception() is not None:
                    log.error("lease %s: the work failed; restarting", name, exc_info=work.exception())
                return
            started = time.monotonic()
            try:
                # A store behind a cut connection may hang rather than fail: give up on it in time.
                async with asyncio.timeout(renew_every):
                    renewed = await acquire(db, name, holder, clock.now(), timedelta(seconds=period))
            except (OSError, SQLAlchemyError, TimeoutError) as exc:
                # Keep working while the lease we hold lasts (less a margin); the store may come back.
                if time.monotonic() + renew_every < held_until:
                    log.warning("lease %s: renewal failed (%s); still held", name, exc)
                    continue
                log.warning("lease %s: renewal failed until it ran out; stopping the work", name)
                return
            if not renewed:
                log.warning("lease %s: taken over by another process; stopping the work", name)
                return
            held_until = started + period
    finally:
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
