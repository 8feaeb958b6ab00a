"""The email channel's place in the app: the IMAP intake as a background task and the outbox's email transport.

Email has no webhooks; the API is `contact_center.web.api.email` and the staff page for unprocessable mail
(`pages`) is added here. `add_email_channel` also registers a cleanup context that runs one IMAP reader per
mailbox for the app's lifetime (when IMAP is configured and background workers are on). Its configuration
(EMAIL_RULES) is read before the app serves, so a bad rule stops start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from contact_center.channels.email import pages
from contact_center.channels.email.bounces import suppression_check
from contact_center.channels.email.config import load_email_rules
from contact_center.channels.email.mail_drop import MailDrop
from contact_center.channels.email.transport import EmailTransport, MailSender, stored_attachments
from contact_center.channels.email.worker import build_imap_readers
from contact_center.clock import SystemClock
from contact_center.leases import run_exclusively
from contact_center.web.keys import CLOCK, DATABASE, LEASE_HOLDER, ROUTER, SETTINGS
from email_response.smtp import SmtpSender

__all__ = ["add_email_channel", "email_transport"]

log = logging.getLogger(__name__)

_IMAP_TASK = web.AppKey("email_imap_task", asyncio.Future[list[None]])


def add_email_channel(app: web.Application) -> None:
    """Add the unprocessable-mail page; run the IMAP intake with the app when IMAP_HOST and IMAP_USERNAME are set."""
    app.router.add_routes(pages.routes)
    app.cleanup_ctx.append(_email_context)


def email_transport(app: web.Application) -> EmailTransport | None:
    """Return the outbox's email transport: SMTP, else a mail drop in OUTBOX_DROP_DIR, else None."""
    settings = app[SETTINGS]
    sender: MailSender
    if settings.smtp_host:
        sender = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            # Port 465 is SMTP over TLS (RFC 8314); 587 is submission with STARTTLS; others are plain relays.
            use_tls=settings.smtp_port == 465,
            starttls=settings.smtp_port == 587,
        )
    elif settings.outbox_drop_dir is not None:
        sender = MailDrop(settings.outbox_drop_dir / "mail")
    else:
        return None
    return EmailTransport(
        sender,
        app[CLOCK],
        smtp_from=settings.smtp_from,
        suppressed=suppression_check(app[DATABASE]),
        attachments=stored_attachments(app[DATABASE]),
    )


async def _email_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    load_email_rules(settings)  # a bad EMAIL_RULES stops start-up here, not later in a background task
    if settings.background_workers and settings.imap_host and settings.imap_username:
        readers = build_imap_readers(app[DATABASE], settings, app[ROUTER], app[CLOCK])
        # One reader per mailbox across all server processes (and email workers): each under a lease of its own.
        app[_IMAP_TASK] = asyncio.gather(
            *(
                asyncio.create_task(
                    run_exclusively(
                        f"imap:{reader.account.state_key}",
                        reader.run,
                        db=app[DATABASE],
                        holder=app[LEASE_HOLDER],
                        clock=SystemClock(),
                        period=float(settings.lease_seconds),
                    ),
                    name=f"email-imap-{reader.account.mailbox}",
                )
                for reader in readers
            )
        )
    elif settings.imap_host:
        log.info("IMAP_HOST is set but IMAP_USERNAME is not (or background workers are off): no mail is read")
    yield
    task = app.get(_IMAP_TASK)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
