"""The staff knowledge-base pages: agents read, supervisors write, technicians and strangers are kept out."""

from __future__ import annotations


async def test_who_may_read_and_write_the_staff_pages(login, kb):
    anonymous, tess, bob, sam = [await login(name) for name in ("anonymous", "tess", "bob", "sam")]
    response = await anonymous.client.get("/staff/kb", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/staff/kb"
    assert (await tess.client.get("/staff/kb")).status == 403

    listing = await bob.get("/staff/kb?status=published")
    assert "Escalating a VIP complaint (internal)" in listing
    assert "New article" not in listing
    article = await bob.get(f"/staff/kb/{kb['refund-policy']}")
    assert "Refunds and returns" in article
    assert "Save a new version" not in article
    assert "v1" in article
    form = {"csrf_token": bob.csrf, "title": "Mine", "body": "x"}
    assert (await bob.client.post("/staff/kb/new", data=form)).status == 403

    created = await sam.client.post(
        "/staff/kb/new",
        data={"csrf_token": sam.csrf, "title": "Fax setup", "body": "Dial *9.", "tags": "fax, setup"},
        allow_redirects=False,
    )
    assert created.status == 303
    page = await sam.get(created.headers["Location"])
    assert "Fax setup" in page
    assert "draft" in page
    refused = await sam.client.post("/staff/kb/new", data={"csrf_token": sam.csrf, "title": "", "body": "x"})
    assert refused.status == 400
    assert "an article needs a title" in await refused.text()
    forged = await sam.client.post("/staff/kb/new", data={"title": "No token", "body": "x"})
    assert forged.status == 403
