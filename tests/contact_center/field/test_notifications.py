"""Customers hear about their visits through the outbox: confirmation, the day-before reminder, on the way."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, time, timedelta

import pytest
from sqlmodel import col, select

from contact_center.clock import ManualClock
from contact_center.db import Database
from contact_center.models import FieldNotice, FieldNoticeKind, OutboxChannel, OutboxMessage, SmsOptOut
from contact_center.services.field_notifications import MESSAGES, queue_on_the_way, queue_reminders
from contact_center.services.field_planning import plan_day
from contact_center.workers.field_reminders import run_field_reminders
from email_response.catalogue import TemplateCatalogue
from email_response.templates import render_reply
from field_service.models import Asset, WorkOrderRecord
from field_service.problem import JobType
from tests.contact_center.field.conftest import DAY, TZ, World, add_order, orders, window

pytestmark = pytest.mark.usefixtures("users")
DAY_PATH = f"/api/v1/schedule/{DAY.isoformat()}"


async def outbox(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def plan(database: Database, clock: ManualClock) -> None:
    await plan_day(database.transaction, DAY, TZ, clock.now(), seconds=0.3)


async def test_scheduling_confirms_the_window_by_sms_or_email_in_the_customer_s_language(
    database: Database, clock: ManualClock, world: World
) -> None:
    repair = await add_order(database, clock, world.ann_case, window=window(9, 12))
    install = await add_order(database, clock, world.wu_case, job_type=JobType.INSTALLATION, window=window(13, 15))
    await plan(database, clock)
    sms, email = await outbox(database)
    assert (sms.channel, sms.to_address, sms.case_id) == (OutboxChannel.SMS, "+31612345678", world.ann_case)
    assert sms.subject is None
    assert f"Hello Ann Archer,\n\nYour technician visit {repair} is booked for 2026-12-07" in sms.body
    assert "arriving between 09:00 and 12:00" in sms.body  # Amsterdam time
    assert "faulty equipment" in sms.body  # what to prepare for a repair
    assert (email.channel, email.to_address) == (OutboxChannel.EMAIL, "wu@example.com")
    assert email.subject == f"您的上门服务 {install} 已预约在 2026-12-07"
    assert "13:00 至 15:00" in email.body
    assert "电源插座" in email.body  # what to prepare for an installation
    # Re-planning the same appointments tells nobody anything new.
    await plan(database, clock)
    assert len(await outbox(database)) == 2


async def test_a_moved_appointment_is_confirmed_again(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    code = await add_order(database, clock, world.ann_case, window=window(9, 12))
    await plan(database, clock)
    sam = await login("sam")
    start, end = window(14, 16)
    moved = await sam.patch(
        f"/api/v1/work-orders/{code}",
        {"window_start": start.isoformat(), "window_end": end.isoformat()},
        expect=200,
    )
    # The day has a plan, so the change re-planned it at once.
    assert moved["planned_start"] >= start.isoformat().replace("+00:00", "Z")
    first, second = await outbox(database)
    assert "between 09:00 and 12:00" in first.body
    assert "between 14:00 and 16:00" in second.body
    # Back to the first window: that is a move too.
    start, end = window(9, 12)
    await sam.patch(
        f"/api/v1/work-orders/{code}", {"window_start": start.isoformat(), "window_end": end.isoformat()}, expect=200
    )
    assert len(await outbox(database)) == 3
    # To a window on the next day, which is planned too: the visit moves there.
    await plan_day(database.transaction, DAY + timedelta(days=1), TZ, clock.now(), seconds=0.3)
    start, end = window(9, 12, DAY + timedelta(days=1))
    moved = await sam.patch(
        f"/api/v1/work-orders/{code}", {"window_start": start.isoformat(), "window_end": end.isoformat()}, expect=200
    )
    assert moved["status"] == "scheduled"
    assert moved["planned_start"][:10] == "2026-12-08"
    assert "is booked for 2026-12-08, arriving between 09:00 and 12:00" in (await outbox(database))[-1].body


async def test_a_visit_without_a_window_is_announced_from_its_planned_start(
    database: Database, clock: ManualClock, world: World
) -> None:
    code = await add_order(database, clock, world.ann_case)
    await plan(database, clock)
    [sms] = await outbox(database)
    planned = (await orders(database))[code].planned_start
    assert planned is not None
    local = planned.astimezone(TZ).replace(minute=0)
    assert f"between {local:%H:%M} and {local + timedelta(hours=2):%H:%M}" in sms.body


async def test_reminders_go_out_the_day_before_once_each_even_from_two_workers(
    database: Database, clock: ManualClock, world: World
) -> None:
    await add_order(database, clock, world.ann_case, window=window(9, 12))
    await add_order(database, clock, world.wu_case, window=window(13, 15))
    await plan(database, clock)
    before = len(await outbox(database))
    early = datetime.combine(DAY - timedelta(days=1), time(8, 0), tzinfo=TZ)
    async with database.transaction() as session:
        assert await queue_reminders(session, early, tz=TZ) == []  # nobody is texted at 08:00
    clock.set(datetime.combine(DAY - timedelta(days=1), time(10, 0), tzinfo=TZ))

    async def remind() -> int:
        async with database.transaction() as session:
            return len(await queue_reminders(session, clock.now(), tz=TZ))

    assert sum(await asyncio.gather(remind(), remind())) == 2
    assert await remind() == 0
    reminders = (await outbox(database))[before:]
    assert [m.to_address for m in reminders] == ["+31612345678", "wu@example.com"]
    assert "tomorrow, 2026-12-07, arriving between 09:00 and 12:00" in reminders[0].body
    assert reminders[1].subject is not None
    assert "明天" in reminders[1].subject
    # The day of the visit is not "the day before": nothing more.
    async with database.transaction() as session:
        assert await queue_reminders(session, datetime.combine(DAY, time(10), tzinfo=TZ), tz=TZ) == []


async def test_the_reminder_worker_queues_due_reminders(database: Database, clock: ManualClock, world: World) -> None:
    await add_order(database, clock, world.ann_case, window=window(9, 12))
    await plan(database, clock)
    clock.set(datetime.combine(DAY - timedelta(days=1), time(11, 0), tzinfo=TZ))
    task = asyncio.create_task(run_field_reminders(database, clock, TZ, interval=0.05))
    try:
        for _ in range(100):
            async with database.transaction() as session:
                kinds = (await session.scalars(select(FieldNotice.kind))).all()
            if FieldNoticeKind.REMINDER in kinds:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a few more rounds send nothing more
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert sorted(kinds) == [FieldNoticeKind.CONFIRMATION, FieldNoticeKind.REMINDER]
    assert len(await outbox(database)) == 2


async def test_on_the_way_texts_the_eta_once(database: Database, clock: ManualClock, world: World) -> None:
    code = await add_order(database, clock, world.ann_case, window=window(9, 12))
    await plan(database, clock)
    eta = datetime.combine(DAY, time(9, 40), tzinfo=TZ)
    async with database.transaction() as session:
        order = (await session.scalars(select(WorkOrderRecord).where(WorkOrderRecord.code == code))).one()
        message = await queue_on_the_way(session, order, eta, clock.now(), tz=TZ)
        again = await queue_on_the_way(session, order, eta + timedelta(minutes=5), clock.now(), tz=TZ)
    assert message is not None
    assert again is not None
    assert again.id == message.id
    assert message.channel is OutboxChannel.SMS
    technician = "Ada" if order.technician == "ada" else "Ben"
    assert message.body == (
        f"Hello Ann Archer, {technician}, your technician for {code}, is on the way and should arrive at about 09:40."
    )


async def test_nobody_to_tell_means_no_message(database: Database, clock: ManualClock, world: World) -> None:
    async with database.transaction() as session:
        order = WorkOrderRecord(
            code="WO-LOOSE", job_type="repair", lat=52.0, lon=5.0, duration_minutes=30,
            created_at=clock.now(), updated_at=clock.now(),
        )  # fmt: skip
        session.add(order)
        await session.flush()
        assert await queue_on_the_way(session, order, clock.now(), clock.now()) is None
    await plan(database, clock)
    assert (await orders(database))["WO-LOOSE"].planned_start is not None
    assert await outbox(database) == []


async def test_a_job_on_an_asset_without_a_case_tells_the_asset_s_owner(
    database: Database, clock: ManualClock, world: World
) -> None:
    async with database.transaction() as session:
        asset = (await session.scalars(select(Asset).where(Asset.code == world.asset))).one()
        session.add(
            WorkOrderRecord(
                code="WO-PM", job_type=JobType.METER_READING, lat=asset.lat, lon=asset.lon, duration_minutes=15,
                asset_id=asset.id, window_start=window(10, 12)[0], window_end=window(10, 12)[1],
                created_at=clock.now(), updated_at=clock.now(),
            )
        )  # fmt: skip
    await plan(database, clock)
    [email] = await outbox(database)
    assert (email.to_address, email.case_id) == ("wu@example.com", None)
    assert "仪表" in email.body  # the meter must be reachable
    assert "工单号" not in email.body  # no case to quote


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("kind", list(FieldNoticeKind))
def test_every_message_is_shipped_and_says_what_to_prepare_for_every_job_type(
    kind: FieldNoticeKind, language: str
) -> None:
    entry = TemplateCatalogue.from_files(MESSAGES).choose(kind.value, language=language)
    assert entry is not None
    assert entry.key.language == language
    texts = set()
    for job_type in JobType:
        context = {"name": "N", "work_order": "WO-1", "job_type": job_type.value, "case_number": None}
        context.update(
            {"day": "2026-12-07", "window_from": "09:00", "window_to": "11:00", "eta": "09:40", "technician": None}
        )
        texts.add(render_reply(entry.template, context).text)
    # Confirmations and reminders differ per job type; "on the way" says the same to everyone.
    assert len(texts) == (1 if kind is FieldNoticeKind.ON_THE_WAY else len(JobType))


async def test_a_customer_who_answered_stop_is_emailed_instead(
    database: Database, clock: ManualClock, world: World
) -> None:
    async with database.transaction() as session:
        session.add(SmsOptOut(address="+31612345678", keyword="STOP", updated_at=clock.now()))
    await add_order(database, clock, world.ann_case, window=window(9, 12))
    await plan(database, clock)
    [email] = await outbox(database)
    assert (email.channel, email.to_address) == (OutboxChannel.EMAIL, "ann@example.com")
