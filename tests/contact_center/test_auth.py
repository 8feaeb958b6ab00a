"""Signing in: hashed passwords, cookie flags, fresh session ids, CSRF, roles, password changes and expiry."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from contact_center.models import User, WebSession
from tests.conftest import PASSWORD


async def test_passwords_are_stored_as_argon2_hashes(database, users):
    async with database.transaction() as session:
        user = await session.get(User, users["bob"])
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_sign_in_sets_an_httponly_samesite_cookie_and_stores_only_its_hash(app_client, users, database):
    client = await app_client()
    response = await client.post("/api/v1/auth/login", json={"username": "Bob@Example.test", "password": PASSWORD})
    assert response.status == 200
    cookie = response.cookies["cc_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    async with database.transaction() as session:
        stored = (await session.scalars(select(WebSession.id))).all()
    assert len(stored) == 1
    assert stored[0] != cookie.value
    assert len(stored[0]) == 64


async def test_wrong_credentials_are_401_without_saying_which_part_was_wrong(app_client, users):
    client = await app_client()
    for username, password in (("bob@example.test", "nope-nope-nope"), ("nobody@example.test", PASSWORD)):
        response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status == 401
        assert (await response.json())["error"]["message"] == "wrong username or password"


async def test_every_sign_in_gets_a_new_session_id_and_ends_the_one_it_replaces(app_client, users, database):
    client = await app_client()
    first = await client.post("/api/v1/auth/login", json={"username": "bob@example.test", "password": PASSWORD})
    old = first.cookies["cc_session"].value
    second = await client.post("/api/v1/auth/login", json={"username": "bob@example.test", "password": PASSWORD})
    assert second.cookies["cc_session"].value != old
    async with database.transaction() as session:
        assert len((await session.scalars(select(WebSession))).all()) == 1
    # A session id planted before sign-in (fixation) is never the one that gets signed in.
    replay = await client.get("/api/v1/auth/me", cookies={"cc_session": old})
    assert replay.status == 401


async def test_state_changes_need_the_csrf_token(login):
    bob = await login("bob")
    response = await bob.client.post("/api/v1/customers", json={"name": "X"})
    assert response.status == 403
    assert (await response.json())["error"]["details"]["reason"] == "csrf"
    response = await bob.client.post("/api/v1/customers", json={"name": "X"}, headers={"X-CSRF-Token": "forged"})
    assert response.status == 403
    await bob.post("/api/v1/customers", {"name": "X"}, expect=201)


async def test_anonymous_is_401_and_the_wrong_role_403(login):
    anonymous, bob, tess = await login("anonymous"), await login("bob"), await login("tess")
    assert (await anonymous.get("/api/v1/cases", expect=401))["error"]["code"] == "unauthenticated"
    assert (await bob.get("/api/v1/users", expect=403))["error"]["code"] == "forbidden"
    await tess.get("/api/v1/cases", expect=403)
    await tess.get("/api/v1/auth/me", expect=200)


async def test_changing_the_password_ends_every_session(login):
    bob_laptop, bob_phone = await login("bob"), await login("bob")
    error = await bob_laptop.post(
        "/api/v1/auth/password", {"current_password": "wrong-wrong", "new_password": "x" * 12}, expect=400
    )
    assert error["error"]["details"]["field"] == "current_password"
    await bob_laptop.post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "short"}, expect=400)
    await bob_laptop.post(
        "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "a new long secret"}, expect=200
    )
    await bob_phone.get("/api/v1/auth/me", expect=401)
    await bob_laptop.get("/api/v1/auth/me", expect=401)
    response = await bob_phone.client.post(
        "/api/v1/auth/login", json={"username": "bob@example.test", "password": "a new long secret"}
    )
    assert response.status == 200


async def test_sign_out_and_disabling_a_user_end_access(login, users):
    bob, alice = await login("bob"), await login("alice")
    await bob.post("/api/v1/auth/logout", expect=200)
    await bob.get("/api/v1/auth/me", expect=401)
    sam = await login("sam")
    await alice.patch(f"/api/v1/users/{users['sam']}", {"active": False}, expect=200)
    await sam.get("/api/v1/auth/me", expect=401)


async def test_sessions_expire(app_client, users, settings, clock):
    client = await app_client()
    await client.post("/api/v1/auth/login", json={"username": "bob@example.test", "password": PASSWORD})
    clock.advance(timedelta(hours=settings.session_hours, seconds=1))
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_admins_create_users_with_roles(login):
    alice = await login("alice")
    created = await alice.post(
        "/api/v1/users",
        {"username": "New@Example.test", "password": "long enough pw", "role": "supervisor"},
        expect=201,
    )
    assert created["username"] == "new@example.test"
    await alice.post(
        "/api/v1/users", {"username": "new@example.test", "password": "long enough pw", "role": "agent"}, expect=409
    )
    await alice.post(
        "/api/v1/users", {"username": "x@example.test", "password": "long enough pw", "role": "king"}, expect=400
    )
