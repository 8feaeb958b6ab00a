"""A live server on a free port and Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import socket
from asyncio import Runner
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from contact_center.clock import ManualClock
from contact_center.db import Database
from contact_center.settings import Settings
from contact_center.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# Flags that keep chromium from reaching out to the network at start (refused here, and slow).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def live_server(settings: Settings, database: Database, clock: ManualClock) -> AsyncIterator[str]:
    """Serve the app on a real port, so a real browser can talk to it."""
    runner = web.AppRunner(create_app(settings, database=database, clock=clock))
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def _function_scoped_runner(_session_scoped_runner: Runner) -> Runner:
    """Run these tests and their fixtures on the session's event loop, where the shared chromium lives.

    Playwright's objects belong to the loop that started them, and starting its driver and chromium costs
    seconds a test on this machine. pytest-asyncio takes each async fixture's and test's loop from this fixture,
    so overriding it here (and in the modules that import it) puts the browser tests on one loop; every other
    test keeps a loop of its own. The fixtures still run per test: only the loop is shared.
    """
    return _session_scoped_runner


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _chromium() -> AsyncIterator[Any]:
    """Launch Debian's chromium headless once for the session (`make test` installs it; a missing one fails)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser(_chromium: Any) -> AsyncIterator[Any]:
    """The session's chromium; every context a test opens in it is closed after the test, so none leaks over."""
    try:
        yield _chromium
    finally:
        for context in list(_chromium.contexts):
            await context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Awaitable[Path]]:
    """Save a page's screenshot under test-output/screenshots (ignored by git) and return its path."""

    async def take(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take
