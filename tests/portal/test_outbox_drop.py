"""Signing in to the portal where no mail server or Twilio is configured: the outbox drop, as the demo runs."""

from __future__ import annotations

import re
from dataclasses import replace
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlmodel import col, select

from contact_center.actors import SYSTEM
from contact_center.channels.email.web import email_transport
from contact_center.channels.twilio.service import do_set_opt_out
from contact_center.channels.twilio.web import sms_transport
from contact_center.models import Channel, OutboxChannel, OutboxMessage
from contact_center.services.cases import NewCase, do_create_case
from contact_center.settings import Settings
from contact_center.workers.outbox import send_due
from tests.portal.conftest import LINK


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, outbox_drop_dir=tmp_path / "outbox")


async def test_the_emailed_link_is_written_to_the_drop_and_signs_in(portal, database, clock, settings):
    ann = await portal()
    transport = email_transport(ann.client.app)
    assert transport is not None
    await ann.page("/portal")
    await ann.post("/portal/signin", {"email": "ann@example.org"}, status=200)
    assert await send_due(database, {OutboxChannel.EMAIL: transport}, clock) == 1
    assert await send_due(database, {OutboxChannel.EMAIL: transport}, clock) == 0  # sent once, not again
    (dropped,) = (settings.outbox_drop_dir / "mail").iterdir()
    mail = message_from_bytes(dropped.read_bytes(), policy=default)
    assert mail["To"] == "ann@example.org"
    link = LINK.search(mail.get_body(("plain",)).get_content()).group()
    assert "My cases" in await ann.page(link)


async def test_the_texted_code_is_written_to_the_drop_and_signs_in(portal, database, clock, customers, settings):
    async with database.transaction() as session:
        case = await do_create_case(
            session, NewCase(customer_id=customers["ann"], subject="Router", channel=Channel.SMS), SYSTEM, clock.now()
        )
    browser = await portal()
    transport = sms_transport(browser.client.app)
    assert transport is not None
    await browser.page("/portal")
    await browser.post("/portal/code", {"case": case.number}, status=200)
    assert await send_due(database, {OutboxChannel.SMS: transport}, clock) == 1
    (dropped,) = (settings.outbox_drop_dir / "sms").iterdir()
    text = dropped.read_text()
    assert text.startswith("To: +14155550100\n")
    code = re.search(r": (\d{6}) ", text).group(1)
    await browser.post("/portal/code/verify", {"case": case.number, "code": code})
    assert case.number in await browser.page("/portal")
    # The transport around the drop still keeps its rules: a number that replied STOP gets nothing.
    async with database.transaction() as session:
        await do_set_opt_out(session, "+14155550100", opted_out=True, keyword="STOP", message_sid=None, now=clock.now())
    other = await portal()
    await other.page("/portal")
    await other.post("/portal/code", {"case": case.number}, status=200)
    await send_due(database, {OutboxChannel.SMS: transport}, clock)
    assert len(list((settings.outbox_drop_dir / "sms").iterdir())) == 1
    async with database.transaction() as session:
        last = (await session.scalars(select(OutboxMessage).order_by(col(OutboxMessage.id).desc()))).first()
    assert last is not None
    assert "opted out" in (last.last_error or "")
