"""Signing in to the portal: one-time links (single use, ten minutes, rate-limited, hashed) and SMS codes."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlmodel import col, select

from contact_center.actors import SYSTEM
from contact_center.channels.email.web import email_transport
from contact_center.channels.twilio.web import sms_transport
from contact_center.models import Channel, OutboxChannel, OutboxMessage, PortalLink
from contact_center.services.cases import NewCase, do_create_case


async def test_a_link_signs_in_once_within_ten_minutes(portal, database, clock):
    ann = await portal()
    link = await ann.ask_for_link("ann@example.org")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes from `secrets`: 256 bits
    async with database.transaction() as session:
        stored = (await session.scalars(select(PortalLink))).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    assert "My cases" in await ann.page(link)

    again = await portal()
    page = await again.page(link, status=410)
    assert "used already" in page
    assert "My cases" not in page

    late = await portal()
    second = await late.ask_for_link("ann@example.org")
    clock.advance(timedelta(minutes=10, seconds=1))
    assert "has expired" in await late.page(second, status=410)
    assert "not valid" in await late.page("/portal/signin/not-a-real-token", status=404)


async def test_unknown_addresses_get_the_same_answer_and_no_mail(portal, database):
    stranger = await portal()
    await stranger.page("/portal")
    known = await (await stranger.post("/portal/signin", {"email": "ann@example.org"}, status=200)).text()
    unknown = await (await stranger.post("/portal/signin", {"email": "eve@example.org"}, status=200)).text()
    assert re.sub(r'value="[^"]+"', "", known) == re.sub(r'value="[^"]+"', "", unknown)
    async with database.transaction() as session:
        recipients = list((await session.scalars(select(OutboxMessage.to_address))).all())
    assert recipients == ["ann@example.org"]


async def test_asking_for_links_is_rate_limited_per_address(portal, clock):
    browser = await portal()
    for _ in range(3):
        await browser.ask_for_link("ann@example.org")
    await browser.post("/portal/signin", {"email": "ann@example.org"}, status=429)
    clock.advance(timedelta(minutes=16))
    await browser.ask_for_link("ann@example.org")


async def test_the_sign_in_form_needs_its_csrf_token(portal):
    browser = await portal()
    await browser.page("/portal")
    await browser.post("/portal/signin", {"email": "ann@example.org"}, status=403, csrf=False)


async def test_case_number_and_texted_code(portal, database, clock, customers):
    async with database.transaction() as session:
        case = await do_create_case(
            session, NewCase(customer_id=customers["ann"], subject="Router", channel=Channel.SMS), SYSTEM, clock.now()
        )
    browser = await portal()
    await browser.page("/portal")
    await browser.post("/portal/code", {"case": case.number}, status=200)
    async with database.transaction() as session:
        sms = (await session.scalars(select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.SMS))).one()
    assert sms.to_address == "+14155550100"
    code = re.search(r": (\d{6}) ", sms.body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    await browser.post("/portal/code/verify", {"case": case.number, "code": wrong}, status=400)
    await browser.post("/portal/code/verify", {"case": case.number, "code": code})
    assert case.number in await browser.page("/portal")
    # Used codes do not work twice.
    other = await portal()
    await other.page("/portal")
    await other.post("/portal/code/verify", {"case": case.number, "code": code}, status=400)


async def test_guessing_codes_stops_after_five_tries(portal, database, clock, customers):
    async with database.transaction() as session:
        case = await do_create_case(
            session, NewCase(customer_id=customers["ann"], subject="Router", channel=Channel.SMS), SYSTEM, clock.now()
        )
    browser = await portal()
    await browser.page("/portal")
    await browser.post("/portal/code", {"case": case.number}, status=200)
    async with database.transaction() as session:
        sms = (await session.scalars(select(OutboxMessage).order_by(col(OutboxMessage.id).desc()))).first()
    code = re.search(r": (\d{6}) ", sms.body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        await browser.post("/portal/code/verify", {"case": case.number, "code": wrong}, status=400)
    await browser.post("/portal/code/verify", {"case": case.number, "code": code}, status=400)
    assert "Email me a sign-in link" in await browser.page("/portal")


async def test_the_interface_follows_accept_language_and_the_switcher(portal):
    browser = await portal()
    chinese = await browser.page("/portal", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-CN">' in chinese
    assert "发送登录链接到我的邮箱" in chinese
    english = await browser.page("/portal", headers={"Accept-Language": "fr-FR, en;q=0.5"})
    assert "Email me a sign-in link" in english
    response = await browser.client.get("/portal/lang/zh?next=/kb", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/kb"
    assert "帮助文章" in await browser.page("/kb", headers={"Accept-Language": "en"})
    evil = await browser.client.get("/portal/lang/en?next=//evil.example", allow_redirects=False)
    assert evil.headers["Location"] == "/portal"


async def test_without_a_provider_or_an_outbox_drop_messages_wait_in_the_outbox(app_client):
    app = (await app_client()).app
    assert email_transport(app) is None
    assert sms_transport(app) is None
