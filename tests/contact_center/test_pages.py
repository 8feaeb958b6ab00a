"""Staff pages: the sign-in form, CSRF on every form post, and working a case from its page."""

from __future__ import annotations

import re

from sqlmodel import select

from contact_center.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.field_service.visit_day import seed_day

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client, username="bob@example.test", password=PASSWORD, next_page="/"):
    page = await client.get("/login")
    token = CSRF.search(await page.text()).group(1)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": next_page},
        allow_redirects=False,
    )


async def test_pages_send_strangers_to_sign_in_and_back(app_client, users):
    client = await app_client()
    response = await client.get("/cases", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/cases"
    signed = await sign_in(client, next_page="/cases")
    assert signed.status == 303
    assert signed.headers["Location"] == "/cases"
    assert "Cases" in await (await client.get("/cases")).text()


async def test_the_sign_in_form_needs_its_csrf_token_and_never_redirects_off_site(app_client, users):
    client = await app_client()
    await client.get("/login")
    forged = await client.post("/login", data={"csrf_token": "x", "username": "bob@example.test", "password": PASSWORD})
    assert forged.status == 403
    assert "text/html" in forged.headers["Content-Type"]
    offsite = await sign_in(client, next_page="//evil.example/")
    assert offsite.headers["Location"] == "/"
    wrong = await sign_in(await app_client(), password="not the password")
    assert wrong.status == 401
    assert "Wrong username or password" in await wrong.text()


async def test_a_case_is_worked_from_its_page_with_csrf_checked_forms(app_client, users, login):
    bob_api = await login("bob")
    received = await bob_api.post(
        "/api/v1/contacts",
        {
            "channel": "email",
            "external_id": "<p1@x>",
            "address": "ann@example.com",
            "subject": "<b>Bold</b> request",
            "body": "Please help <script>alert(1)</script>",
        },
        expect=201,
    )
    number = received["case"]["number"]
    client = await app_client()
    await sign_in(client)
    page = await (await client.get(f"/cases/{number}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt; request" in page
    token = CSRF.search(page).group(1)

    refused = await client.post(f"/cases/{number}/status", data={"status": "open"}, allow_redirects=False)
    assert refused.status == 403
    moved = await client.post(
        f"/cases/{number}/status", data={"status": "open", "csrf_token": token}, allow_redirects=False
    )
    assert moved.status == 303
    await client.post(f"/cases/{number}/notes", data={"body": "Called the customer", "csrf_token": token})
    page = await (await client.get(f"/cases/{number}")).text()
    assert '<dd id="case-status">open</dd>' in page
    assert "Called the customer" in page
    conflict = await client.post(f"/cases/{number}/status", data={"status": "new", "csrf_token": token})
    assert conflict.status == 409
    assert "cannot become new" in await conflict.text()
    missing = await client.get("/cases/CS-999999")
    assert missing.status == 404


async def test_the_customer_is_answered_from_the_case_page_threaded_under_their_mail(
    app_client, users, login, database
):
    bob_api = await login("bob")
    received = await bob_api.post(
        "/api/v1/contacts",
        {"channel": "email", "external_id": "<q1@x>", "address": "ann@example.com", "subject": "Invoice", "body": "?"},
        expect=201,
    )
    number = received["case"]["number"]
    client = await app_client()
    await sign_in(client)
    page = await (await client.get(f"/cases/{number}")).text()
    # Ann wrote from an address only: the page offers email, not a text message.
    assert '<option value="email">Email</option>' in page
    assert 'value="sms"' not in page
    token = CSRF.search(page).group(1)
    sent = await client.post(
        f"/cases/{number}/replies",
        data={"channel": "email", "body": "Your invoice is corrected.", "csrf_token": token},
        allow_redirects=False,
    )
    assert sent.status == 303
    page = await (await client.get(f"/cases/{number}")).text()
    assert "message out" in page
    assert "Your invoice is corrected." in page
    async with database.transaction() as session:
        (mail,) = (await session.scalars(select(OutboxMessage))).all()
    assert (mail.to_address, mail.subject) == ("ann@example.com", f"Re: Invoice [{number}]")
    unknown = await client.post(f"/cases/{number}/replies", data={"channel": "fax", "body": "x", "csrf_token": token})
    assert unknown.status == 400
    empty = await client.post(f"/cases/{number}/replies", data={"channel": "email", "body": " ", "csrf_token": token})
    assert empty.status == 400


async def test_signing_out_from_the_page(app_client, users):
    client = await app_client()
    await sign_in(client)
    home = await (await client.get("/")).text()
    token = CSRF.search(home).group(1)
    out = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/", allow_redirects=False)).status == 302


HEADER = re.compile(r"<header[^>]*>(.*?)</header>", re.S)
HREF = re.compile(r'href="([^"]+)"')


async def test_every_role_lands_on_a_page_it_may_use_and_sees_only_links_it_may_follow(
    app_client, users, database, clock
):
    async with database.transaction() as session:
        await seed_day(session, clock.now(), users["tess"])
    landings = {}
    for name in ("alice", "sam", "bob", "tess"):
        client = await app_client()
        await sign_in(client, username=f"{name}@example.test")
        home = await client.get("/")
        assert home.status == 200, name
        landings[name] = home.url.path
        links = HREF.findall(HEADER.search(await home.text()).group(1))
        assert links, name
        for link in links:
            assert (await client.get(link)).status == 200, (name, link)
    assert landings == {"alice": "/", "sam": "/", "bob": "/", "tess": "/tech"}


LINKED = re.compile(r'<link rel="(?:icon|stylesheet)" href="([^"]+)"')


async def test_the_pages_icon_and_stylesheets_are_served(app_client, users, database, clock):
    async with database.transaction() as session:
        await seed_day(session, clock.now(), users["tess"])
    anonymous, tess = await app_client(), await app_client()
    await sign_in(tess, username="tess@example.test")
    for client, path in ((anonymous, "/login"), (anonymous, "/portal"), (anonymous, "/chat"), (tess, "/tech")):
        linked = LINKED.findall(await (await client.get(path)).text())
        assert "/static/favicon.svg" in linked, path
        for href in linked:
            assert (await client.get(href)).status == 200, (path, href)


async def test_the_case_list_finds_by_words_number_and_assignee_a_page_at_a_time(app_client, users, login, database):
    bob_api = await login("bob")
    customer = await bob_api.post(
        "/api/v1/customers", {"name": "Zoë 100%_Reliable", "identities": [{"kind": "email", "address": "z@x.org"}]}
    )
    numbers = []
    for n in range(55):
        subject = "Router keeps rebooting" if n % 11 == 0 else f"Invoice question {n}"
        case = await bob_api.post("/api/v1/cases", {"customer_id": customer["id"], "subject": subject}, expect=201)
        numbers.append(case["number"])
    client = await app_client()
    await sign_in(client)
    first = await (await client.get("/cases")).text()
    assert numbers[-1] in first
    assert numbers[4] not in first  # the 50 newest on the first page
    assert 'href="/cases?page=2" rel="next"' in first
    second = await (await client.get("/cases?page=2")).text()
    assert numbers[4] in second
    assert numbers[5] not in second
    assert 'rel="next"' not in second
    router = await (await client.get("/cases?q=ROUTER")).text()
    assert router.count("Router keeps rebooting") == 5
    assert "page 1" not in router  # one page: no pager
    by_number = await (await client.get(f"/cases?q={numbers[7].lower()}")).text()
    assert "Invoice question 7<" in by_number
    assert "Invoice question 8<" not in by_number
    literal = await (await client.get("/cases?q=100%25_")).text()  # % and _ are letters here, not wildcards
    assert literal.count("Zoë 100%_Reliable") == 50
    nothing = await (await client.get("/cases?q=50%25")).text()
    assert "No cases match." in nothing
    bob_id = next(a["id"] for a in await bob_api.get("/api/v1/agents") if a["name"] == "Bob")
    await bob_api.post(f"/api/v1/cases/{numbers[3]}/assignee", {"agent_id": bob_id}, expect=200)
    mine = await (await client.get("/cases?mine=1")).text()
    assert "Invoice question 3<" in mine
    assert mine.count("/cases/CS-") == 1
    assert (await client.get("/cases?page=0")).status == 400
    assert (await client.get("/cases?page=x")).status == 400
