"""The users page: an admin gives a new agent a sign-in, resets a password, disables a user."""

from __future__ import annotations

from tests.contact_center.test_agent_pages import NEW_AGENT, form_page, post
from tests.contact_center.test_pages import sign_in


async def test_an_agent_added_on_the_page_signs_in_with_the_user_an_admin_gives(app_client, users, login):
    await (await login("sam")).post("/api/v1/skills", {"name": "billing"}, expect=201)
    sam_page, alice_page = await app_client(), await app_client()
    await sign_in(sam_page, username="sam@example.test")
    await sign_in(alice_page, username="alice@example.test")
    _, token = await form_page(sam_page, "/agents")
    added = await post(sam_page, "/agents", token, NEW_AGENT)
    agent_id = int(added.headers["Location"].rsplit("/", 1)[1])

    page, token = await form_page(alice_page, "/users")
    assert f'<option value="{agent_id}">Nia Okoro (nia@example.test)</option>' in page
    account = {
        "username": "Nia@Example.test",
        "display_name": "Nia",
        "role": "agent",
        "agent_id": str(agent_id),
        "password": "first password 1",
        "password_again": "first password 1",
    }
    mismatch = await post(alice_page, "/users", token, {**account, "password_again": "other password"})
    assert mismatch.status == 400
    text = await mismatch.text()
    assert "the two passwords differ" in text
    assert "first password 1" not in text  # a password is never echoed back
    assert 'value="Nia@Example.test"' in text
    short = await post(alice_page, "/users", token, {**account, "password": "short", "password_again": "short"})
    assert "at least 10 characters" in await short.text()
    assert (await post(alice_page, "/users", token, account)).status == 303

    nia = await app_client()
    assert (await sign_in(nia, username="nia@example.test", password="first password 1")).status == 303
    desktop = await nia.get("/desktop")
    assert desktop.status == 200
    assert "Nia" in await desktop.text()


async def test_an_admin_resets_a_password_and_disables_a_user_and_never_themselves(app_client, users, login):
    alice_page = await app_client()
    await sign_in(alice_page, username="alice@example.test")
    bob = await app_client()
    await sign_in(bob)
    assert (await bob.get("/cases")).status == 200
    page, token = await form_page(alice_page, "/users")
    bob_id, alice_id = users["bob"], users["alice"]
    sam_api = await login("sam")
    bob_agent = next(a["id"] for a in await sam_api.get("/api/v1/agents") if a["name"] == "Bob")
    bob_fields = {"display_name": "Bob", "role": "agent", "agent_id": str(bob_agent), "active": "on"}
    new = {"password": "a fresh password", "password_again": "a fresh password"}
    assert (await post(alice_page, f"/users/{bob_id}", token, {**bob_fields, **new})).status == 303
    assert (await bob.get("/cases", allow_redirects=False)).status == 302  # the reset ended Bob's session
    assert (await sign_in(bob, password="a fresh password")).status == 303
    assert (await bob.get("/cases")).status == 200

    await sam_api.post(f"/api/v1/agents/{bob_agent}/activity", {"activity": "available"}, expect=200)

    def routing_state(figures):
        return next(a["activity"] for a in figures["agents"]["list"] if a["id"] == bob_agent)

    assert routing_state(await sam_api.get("/api/v1/wallboard")) == "available"
    disabled = {k: v for k, v in bob_fields.items() if k != "active"}
    assert (await post(alice_page, f"/users/{bob_id}", token, disabled)).status == 303
    assert routing_state(await sam_api.get("/api/v1/wallboard")) == "offline"  # Bob's agent left routing
    assert (await bob.get("/cases", allow_redirects=False)).status == 302
    assert (await sign_in(await app_client(), password="a fresh password")).status == 401
    page, _ = await form_page(alice_page, "/users")
    assert "bob@example.test (disabled)" in page

    myself = await post(
        alice_page, f"/users/{alice_id}", token, {"display_name": "Alice", "role": "supervisor", "active": "on"}
    )
    assert myself.status == 400
    assert "cannot disable yourself or give up your own admin role" in await myself.text()
    assert (await post(alice_page, "/users/999999", token, bob_fields)).status == 404
    sam = await app_client()
    await sign_in(sam, username="sam@example.test")
    assert (await sam.get("/users")).status == 403
