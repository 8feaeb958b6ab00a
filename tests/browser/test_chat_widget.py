"""The chat widget embedded on another site with one script tag: it talks to us across origins, by keyboard."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web

from contact_center.web.app import create_app

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def sites(settings, database, clock) -> AsyncIterator[tuple[str, str]]:
    """Our server, which allows the shop's origin, and a shop's page embedding the widget."""
    shop_port, our_port = free_port(), free_port()
    shop_origin, our_origin = f"http://localhost:{shop_port}", f"http://127.0.0.1:{our_port}"
    ours = web.AppRunner(
        create_app(replace(settings, chat_allowed_origins=(shop_origin,)), database=database, clock=clock)
    )
    page = f"""<!doctype html><html><head><title>Shop</title></head><body><h1>Acme Shop</h1>
<script src="{our_origin}/static/chat-widget.js" data-lang="zh" async></script></body></html>"""

    async def shop_page(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    shop_app = web.Application()
    shop_app.router.add_get("/", shop_page)
    shop = web.AppRunner(shop_app)
    for runner, port in ((ours, our_port), (shop, shop_port)):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1" if runner is ours else "localhost", port).start()
    try:
        yield shop_origin, our_origin
    finally:
        await shop.cleanup()
        await ours.cleanup()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_widget_chats_from_another_site_in_chinese(browser, sites, screenshot):
    shop_origin, _ = sites
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(shop_origin)
    launcher = page.get_by_role("button", name="在线客服")
    await launcher.focus()
    await page.keyboard.press("Enter")
    await page.get_by_label("您的姓名（可选）").wait_for()  # noqa: RUF001 (Chinese punctuation)
    await page.keyboard.type("李雷")
    await page.get_by_label("请问有什么可以帮您？").fill("我的订单还没到")  # noqa: RUF001
    await page.get_by_role("button", name="开始对话").click()
    await page.get_by_text("您在队列中排第 1 位。").wait_for()
    await page.locator(".ccw-customer").get_by_text("我的订单还没到").wait_for()
    await screenshot(page, "chat-widget-embedded")
    await page.keyboard.press("Escape")
    assert await page.get_by_role("button", name="在线客服").get_attribute("aria-expanded") == "false"

    # A reload resumes the same chat from the store.
    await page.reload()
    await page.get_by_role("button", name="在线客服").click()
    await page.locator(".ccw-customer").get_by_text("我的订单还没到").wait_for()
    assert await page.locator(".ccw-msg").count() == 1
    await context.close()
