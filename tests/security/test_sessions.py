"""Sessions: a planted id is never the one signed in (fixation), and signing out or changing the password ends
the session on the server, so a copied cookie stops working too."""

from __future__ import annotations

from contact_center.portal.web import PORTAL_COOKIE
from contact_center.web.auth import COOKIE
from tests.conftest import PASSWORD

PLANTED = "planted-by-an-attacker-0123456789abcdef"


def _cookie(client, name: str = COOKIE) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[name].value


async def _form_login(client, username: str, password: str):
    page = await client.get("/login")
    csrf = page.cookies["cc_login_csrf"].value
    form = {"username": username, "password": password, "csrf_token": csrf}
    return await client.post("/login", data=form, allow_redirects=False)


async def test_signing_in_on_the_page_never_keeps_a_planted_session_id(app_client, users):
    client = await app_client()
    client.session.cookie_jar.update_cookies({COOKIE: PLANTED})
    response = await _form_login(client, "bob@example.test", PASSWORD)
    assert response.status == 303
    fresh = response.cookies[COOKIE].value
    assert fresh != PLANTED
    assert (await client.get("/api/v1/auth/me", cookies={COOKIE: PLANTED})).status == 401
    assert (await client.get("/api/v1/auth/me", cookies={COOKIE: fresh})).status == 200


async def test_a_portal_sign_in_never_keeps_a_planted_session_id(portal):
    browser = await portal()
    browser.client.session.cookie_jar.update_cookies({PORTAL_COOKIE: PLANTED})
    link = await browser.ask_for_link("ann@example.org")
    response = await browser.client.get(link, allow_redirects=False)
    assert response.status == 303
    cookie = response.cookies[PORTAL_COOKIE]
    assert cookie.value != PLANTED
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


async def test_signing_out_ends_the_session_on_the_server(login, app_client, portal):
    bob = await login("bob")
    copied = _cookie(bob.client)
    await bob.post("/api/v1/auth/logout", expect=200)
    thief = await app_client()
    assert (await thief.get("/api/v1/auth/me", cookies={COOKIE: copied})).status == 401

    sam = await login("sam")
    copied = _cookie(sam.client)
    response = await sam.client.post("/logout", data={"csrf_token": sam.csrf}, allow_redirects=False)
    assert response.status == 303
    assert (await thief.get("/api/v1/auth/me", cookies={COOKIE: copied})).status == 401

    ann = await portal("ann@example.org")
    copied = _cookie(ann.client, PORTAL_COOKIE)
    await ann.page("/portal")
    await ann.post("/portal/signout")
    response = await thief.get("/portal/new", cookies={PORTAL_COOKIE: copied}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/portal"


async def test_a_password_change_ends_the_users_other_sessions_everywhere(login, app_client):
    laptop, phone, other = await login("bob"), await login("bob"), await login("sam")
    copied = _cookie(phone.client)
    await laptop.post(
        "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "a much longer secret"}, expect=200
    )
    thief = await app_client()
    assert (await thief.get("/api/v1/auth/me", cookies={COOKIE: copied})).status == 401
    await phone.get("/api/v1/auth/me", expect=401)
    await other.get("/api/v1/auth/me", expect=200)  # only Bob's sessions end
    assert (await _form_login(thief, "bob@example.test", PASSWORD)).status == 401
    assert (await _form_login(thief, "bob@example.test", "a much longer secret")).status == 303
