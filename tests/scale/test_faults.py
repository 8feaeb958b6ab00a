"""Faults survived: a Redis restart, the case store away for a while, SMTP down, an IMAP connection cut mid-fetch.

After each: no contact lost, none duplicated, no email or text sent twice. (A worker killed with SIGKILL under
load is in `test_workers.py`: it needs whole server processes.)
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.smtp import SMTP
from redis.exceptions import RedisError
from sqlalchemy import func, text
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from contact_center.channels.email.config import email_intake
from contact_center.channels.email.intake import take_in_message
from contact_center.channels.email.transport import EmailTransport
from contact_center.channels.email.worker import build_imap_reader
from contact_center.channels.twilio.options import TwilioOptions
from contact_center.db import Database
from contact_center.dispatch import DEFAULT_QUEUE, task_id_for
from contact_center.models import Case, Channel, Contact, OutboxChannel, OutboxMessage, OutboxStatus
from contact_center.services.outbox import Outbound, do_enqueue, retry_delay
from contact_center.web.app import create_app
from contact_center.web.keys import DISPATCHER
from contact_center.workers.outbox import send_due
from email_response.smtp import SmtpSender
from tests.channels.email.conftest import Mailroom, dovecot, mailbox, mfs
from tests.contact_center.test_routing_scale_out import sign_in
from tests.scale.conftest import free_port

__all__ = ["dovecot", "mailbox"]

TOKEN = "fault-token"
BASE_URL = "https://cc.example.test"
HELP = "help@example.test"


async def eventually(check, *, seconds: float = 15.0, every: float = 0.1):
    """Return check()'s first truthy value, polling until `seconds` have passed."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(every)


async def contacts_by_external_id(database: Database, channel: Channel) -> dict[str, int]:
    """Return how many contacts (each on a case) the store has per external id of a channel."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(Contact.external_id, func.count())
            .join(Case, col(Case.id) == Contact.case_id)
            .where(Contact.channel == channel)
            .group_by(Contact.external_id)
        )
        return {str(external_id): int(count) for external_id, count in rows.all()}


async def test_after_a_redis_restart_every_waiting_contact_is_back_in_its_queue(
    aiohttp_client, settings, database, clock, users, private_redis
):
    settings = replace(settings, redis_url=private_redis.url, redis_prefix="fault:")
    client = await aiohttp_client(create_app(settings, database=database, clock=clock))
    dispatcher = client.app[DISPATCHER]
    sam = await sign_in(client, "sam")
    queue = await sam.post("/api/v1/queues", {"name": "billing"}, expect=201)
    waiting = []
    for number in range(3):
        received = await sam.post(
            "/api/v1/contacts",
            {"channel": "sms", "external_id": f"SM-{number}", "address": f"+1415555010{number}"}
            | {"queue_id": queue["id"]},
            expect=201,
        )
        waiting.append(received["contact"]["id"])
    # Queues without a row: the default one, and a mailbox's (as IMAP_MAILBOXES names it) that only routing knows.
    received = await sam.post(
        "/api/v1/contacts", {"channel": "sms", "external_id": "SM-9", "address": "+14155550109"}, expect=201
    )
    in_default = received["contact"]["id"]
    mail = mfs(f"""\
        From: Customer <returns@example.org>
        To: {HELP}
        Subject: Sending it back
        Message-ID: <return-1@example.org>

        How do I send the kettle back?
        """)
    taken = await take_in_message(
        database,
        mail,
        clock.now(),
        router=dispatcher,
        auto_reply=False,
        smtp_from=HELP,
        intake=email_intake(settings, queue="returns"),
    )
    in_returns = taken.contact_id
    queued = dict.fromkeys(waiting, "billing") | {in_default: DEFAULT_QUEUE, in_returns: "returns"}

    async def queues():
        found = {contact: await dispatcher.backend.get_task(task_id_for(contact)) for contact in queued}
        return {contact: view.task.queue for contact, view in found.items() if view is not None}

    assert await queues() == queued
    assert [await dispatcher.position(contact) for contact in waiting] == [1, 2, 3]

    private_redis.kill()  # without persistence: the routing state is gone with it
    private_redis.start()

    async def positions():
        try:
            found = [await dispatcher.position(contact) for contact in [*waiting, in_default, in_returns]]
        except (RedisError, OSError):
            return None
        return found if all(found) else None

    assert await eventually(positions) == [1, 2, 3, 1, 1]  # in the order they arrived, from the case store
    assert await queues() == queued  # each in the queue it waited in

    # The agent comes back (presence lived in Redis too) and is offered the oldest contact first, once.
    bob = await sign_in(client, "bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    offers = await bob.get("/api/v1/me/offers")
    assert offers
    assert {o["contact_id"] for o in offers} <= set(queued)
    [offer] = [o for o in offers if o["contact_id"] == waiting[0]]
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=409)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_texts_that_arrive_while_postgresql_is_away_are_kept_once_when_it_returns(
    aiohttp_client, settings, database, clock, proxy_to
):
    async with database.transaction() as session:
        search_path = (await session.execute(text("SHOW search_path"))).scalar_one()
    proxy = await proxy_to(5432)
    proxied = Database(
        f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/test",
        connect_args={"server_settings": {"search_path": search_path}},
    )
    settings = replace(settings, public_base_url=BASE_URL, twilio_auth_token=TOKEN)
    options = TwilioOptions(store_timeout=1.0)
    client = await aiohttp_client(create_app(settings, database=proxied, clock=clock, twilio_options=options))
    validator = RequestValidator(TOKEN)

    async def text_in(number: int) -> int:
        form = {"MessageSid": f"SM{number:032d}", "From": f"+1415555{number:04d}", "To": "+18005550100"}
        form["Body"] = f"Is order {number} on its way?"
        signature = validator.compute_signature(f"{BASE_URL}/twilio/sms", form)
        response = await client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
        return response.status

    try:
        assert await asyncio.gather(*(text_in(n) for n in range(4))) == [200] * 4
        proxy.refuse = True
        proxy.cut()  # PostgreSQL is gone: open connections drop, new ones are refused
        # Twilio still gets its answer in time; the texts wait in the backlog.
        assert await asyncio.gather(*(text_in(n) for n in range(4, 8))) == [200] * 4
        await asyncio.sleep(1.0)
        proxy.refuse = False

        async def all_kept():
            kept = await contacts_by_external_id(database, Channel.SMS)
            return kept if len(kept) == 8 else None

        kept = await eventually(all_kept, seconds=20)
        assert kept == {f"SM{n:032d}": 1 for n in range(8)}
        assert await text_in(5) == 200  # Twilio retrying a text it already delivered changes nothing
        assert await contacts_by_external_id(database, Channel.SMS) == kept
    finally:
        await client.close()
        # asyncpg can wait forever to close a pooled connection the cut left half-open: do not wait on it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proxied.dispose(), 3)


async def test_mail_waits_while_smtp_is_down_then_leaves_once(database, clock):
    port = free_port()
    room = Mailroom()
    async with database.transaction() as session:
        for number in range(4):
            outbound = Outbound(OutboxChannel.EMAIL, f"customer{number}@example.org", "We are on it.", "Re: help")
            await do_enqueue(session, outbound, clock.now())
    transports = {
        OutboxChannel.EMAIL: EmailTransport(
            SmtpSender("127.0.0.1", port, timeout=2), clock, smtp_from=f"Example Help <{HELP}>"
        )
    }

    assert await send_due(database, transports, clock) == 4  # SMTP is down: every attempt fails, for now
    async with database.transaction() as session:
        messages = list((await session.scalars(select(OutboxMessage))).all())
    assert {m.status for m in messages} == {OutboxStatus.PENDING}
    assert all(m.last_error for m in messages)

    server = await asyncio.get_running_loop().create_server(lambda: SMTP(room), "127.0.0.1", port)
    try:
        assert await send_due(database, transports, clock) == 0  # backing off, not hammering
        clock.advance(retry_delay(1) + timedelta(seconds=1))
        # Two senders (two server processes) race for the same messages: each leaves once.
        await asyncio.gather(send_due(database, transports, clock), send_due(database, transports, clock))
        clock.advance(timedelta(hours=2))
        assert await send_due(database, transports, clock) == 0
    finally:
        server.close()
        await server.wait_closed()
    recipients = sorted(address for envelope in room.delivered for address in envelope.rcpt_tos)
    assert recipients == [f"customer{number}@example.org" for number in range(4)]
    async with database.transaction() as session:
        statuses = (await session.scalars(select(OutboxMessage.status))).all()
    assert set(statuses) == {OutboxStatus.SENT}


def order_mail(number: int) -> bytes:
    return mfs(f"""\
        From: Customer {number} <customer{number}@example.org>
        To: {HELP}
        Subject: Order {number} has not arrived
        Message-ID: <order-{number}@example.org>

        It has been a week. {"Still nothing. " * 40}
        """)


def reader_through(proxy, database, settings, clock, dovecot, mailbox, **options):
    """Return an IMAP reader of the mailbox through the proxy, quick to give a silent connection up.

    The command time-out stays at its default (30 s), longer than the tests wait: only noticing a dead
    connection by its silence or its loss gets them through.
    """
    settings = replace(
        settings,
        imap_host="127.0.0.1",
        imap_port=proxy.port,
        imap_username=dovecot.user,
        imap_password=dovecot.password,
        smtp_from=HELP,
    )
    reader = build_imap_reader(database, settings, None, clock, mailbox=mailbox)
    reader.backoff_initial = 0.2
    reader.account = replace(reader.account, read_timeout=1.0)
    for name, value in options.items():
        setattr(reader, name, value)
    return reader


async def taken_in(database: Database, count: int) -> dict[str, int] | None:
    """Wait until `count` mails are in (as contacts); return how often each is, or None if they did not come."""

    async def all_in():
        kept = await contacts_by_external_id(database, Channel.EMAIL)
        return kept if len(kept) == count else None

    return await eventually(all_in, seconds=15)


async def assert_acknowledged_once(database: Database, count: int) -> None:
    async with database.transaction() as session:
        acknowledgements = (await session.scalars(select(OutboxMessage.to_address))).all()
    assert sorted(acknowledgements) == sorted(f"customer{number}@example.org" for number in range(count))


@pytest.mark.parametrize("fault", ["cut", "stall"])
async def test_an_imap_connection_lost_mid_fetch_loses_and_doubles_nothing(
    database, clock, settings, dovecot, mailbox, proxy_to, fault
):
    count = 12
    for number in range(count):
        await dovecot.append(mailbox, order_mail(number))
    proxy = await proxy_to(dovecot.port)
    reader = reader_through(proxy, database, settings, clock, dovecot, mailbox)
    # The greeting, login and select take well under 2 kB; the messages are ~700 bytes each. A cut connection
    # is reset; a stalled one just goes quiet, as when a NAT on the way forgot it.
    (proxy.cut_after if fault == "cut" else proxy.stall_after)(4000)
    task = asyncio.create_task(reader.run())
    try:
        kept = await taken_in(database, count)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert proxy.connections >= 2  # the fault was real: the reader had to connect again
    assert kept is not None
    assert set(kept.values()) == {1}
    await assert_acknowledged_once(database, count)


async def test_an_imap_connection_gone_silent_in_idle_is_replaced(
    database, clock, settings, dovecot, mailbox, proxy_to
):
    await dovecot.append(mailbox, order_mail(0))
    proxy = await proxy_to(dovecot.port)
    # IDLE for 25 minutes, but with a sign of life asked for every second.
    reader = reader_through(proxy, database, settings, clock, dovecot, mailbox, heartbeat=1.0)
    task = asyncio.create_task(reader.run())
    try:
        assert await taken_in(database, 1)

        async def idling():
            return proxy.upstream.endswith(b" IDLE\r\n")

        assert await eventually(idling)
        proxy.stall()  # the server's push of the next mail never arrives; nothing says the connection is gone
        await dovecot.append(mailbox, order_mail(1))
        kept = await taken_in(database, 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert proxy.connections == 2
    assert kept == {"<order-0@example.org>": 1, "<order-1@example.org>": 1}
    await assert_acknowledged_once(database, 2)
