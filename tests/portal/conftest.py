"""Customers and portal clients signed in the way a customer does it: through the emailed link."""

from __future__ import annotations

import re

import pytest
from sqlmodel import col, select

from contact_center.models import IdentityKind, OutboxChannel, OutboxMessage
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"/portal/signin/[A-Za-z0-9_\-]+")


@pytest.fixture
async def customers(database, clock) -> dict[str, int]:
    """Ann (email and phone) and Carl (email)."""
    async with database.transaction() as session:
        ann = await do_create_customer(session, CustomerFields(name="Ann Lee"), clock.now())
        await do_add_identity(session, ann, IdentityKind.EMAIL, "ann@example.org", clock.now())
        await do_add_identity(session, ann, IdentityKind.PHONE, "+14155550100", clock.now())
        carl = await do_create_customer(session, CustomerFields(name="Carl Diaz"), clock.now())
        await do_add_identity(session, carl, IdentityKind.EMAIL, "carl@example.org", clock.now())
    return {"ann": ann.id or 0, "carl": carl.id or 0}


class Portal:
    """A customer's browser: a cookie jar and the CSRF token of the page it last read."""

    def __init__(self, client, database) -> None:
        self.client = client
        self.database = database
        self.csrf = ""

    async def page(self, path: str, status: int = 200, **kwargs) -> str:
        response = await self.client.get(path, **kwargs)
        text = await response.text()
        assert response.status == status, (response.status, text[:500])
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return text

    async def post(self, path: str, data: dict | None = None, *, status: int = 303, csrf: bool = True, **kwargs):
        form = {**(data or {}), **({"csrf_token": self.csrf} if csrf else {})}
        response = await self.client.post(path, data=form, allow_redirects=False, **kwargs)
        assert response.status == status, (response.status, (await response.text())[:500])
        return response

    async def ask_for_link(self, address: str) -> str:
        await self.page("/portal")
        await self.post("/portal/signin", {"email": address}, status=200)
        async with self.database.transaction() as session:
            message = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.channel == OutboxChannel.EMAIL, OutboxMessage.to_address == address)
                    .order_by(col(OutboxMessage.id).desc())
                )
            ).first()
        assert message is not None, "no sign-in email in the outbox"
        found = LINK.search(message.body)
        assert found, message.body
        return found.group()

    async def sign_in(self, address: str) -> None:
        link = await self.ask_for_link(address)
        await self.page(link)  # follows the redirect to "My cases"


@pytest.fixture
def portal(app_client, database, customers):
    async def make(address: str | None = None) -> Portal:
        browser = Portal(await app_client(), database)
        if address:
            await browser.sign_in(address)
        return browser

    return make
