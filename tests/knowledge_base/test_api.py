"""The knowledge-base API: who may write, what anonymous readers see, feedback, suggestions, errors."""

from __future__ import annotations


async def test_supervisors_write_agents_read_customers_see_public_published_only(login, kb):
    sam, bob, anonymous = await login("sam"), await login("bob"), await login("anonymous")
    body = {
        "title": "Toner low warning",
        "body": "Replace the **toner** cartridge. <script>x</script>",
        "tags": ["Toner"],
    }
    await bob.post("/api/v1/kb/articles", body, expect=403)
    created = await sam.post("/api/v1/kb/articles", body, expect=201)
    assert created["status"] == "draft"
    assert created["slug"] == "toner-low-warning"
    assert created["tags"] == ["toner"]
    assert "<strong>toner</strong>" in created["html"]
    assert "<script>" not in created["html"]
    assert (await anonymous.get("/api/v1/kb/search?q=toner", expect=200))["results"] == []

    await sam.post(f"/api/v1/kb/articles/{created['id']}/status", {"status": "published"}, expect=200)
    found = await anonymous.get("/api/v1/kb/search?q=toner", expect=200)
    assert [hit["slug"] for hit in found["results"]] == ["toner-low-warning"]
    assert found["results"][0]["url"] == "/kb/toner-low-warning"
    assert "<mark>toner</mark>" in found["results"][0]["snippet"]

    edited = await sam.patch(
        "/api/v1/kb/articles/toner-low-warning", {"visibility": "internal", "note": "staff only now"}, expect=200
    )
    assert edited["version"] == 3
    assert (await anonymous.get("/api/v1/kb/search?q=toner", expect=200))["results"] == []
    assert [h["slug"] for h in (await bob.get("/api/v1/kb/search?q=toner", expect=200))["results"]] == [
        "toner-low-warning"
    ]
    history = await bob.get("/api/v1/kb/articles/toner-low-warning/versions", expect=200)
    assert [(v["version"], v["author_name"], v["note"]) for v in history] == [
        (3, "Sam", "staff only now"),
        (2, "Sam", "published"),
        (1, "Sam", "created"),
    ]
    await anonymous.get("/api/v1/kb/articles/toner-low-warning", expect=401)
    listed = await bob.get("/api/v1/kb/articles?status=published&language=zh&limit=100", expect=200)
    assert listed
    assert all(a["language"] == "zh" and a["status"] == "published" for a in listed)


async def test_feedback_only_on_public_published_articles(login, kb):
    anonymous = await login("anonymous")
    counts = await anonymous.post("/api/v1/kb/articles/refund-policy/feedback", {"helpful": True}, expect=200)
    assert counts == {"helpful_yes": 1, "helpful_no": 0}
    missing = await anonymous.post("/api/v1/kb/articles/escalation-internal/feedback", {"helpful": True}, expect=404)
    assert missing["error"]["code"] == "not_found"
    bad = await anonymous.post("/api/v1/kb/articles/refund-policy/feedback", {"helpful": "maybe"}, expect=400)
    assert bad["error"]["details"]["fields"][0]["field"] == "helpful"


async def test_suggest_and_search_errors(login, kb):
    anonymous = await login("anonymous")
    hits = await anonymous.get("/api/v1/kb/suggest?text=my+card+expired+and+the+payment+failed&language=en", expect=200)
    assert hits[0]["slug"] == "update-payment-card"
    assert len(hits) <= 3
    corrected = await anonymous.get("/api/v1/kb/search?q=refnd&language=en", expect=200)
    assert corrected["corrected"]
    assert corrected["did_you_mean"] == "refund"
    assert corrected["results"][0]["slug"] == "refund-policy"
    error = await anonymous.get("/api/v1/kb/search?q=x&language=fr", expect=400)
    assert error["error"]["details"]["fields"][0]["field"] == "language"
    await anonymous.get("/api/v1/kb/search", expect=400)
    sam = await login("sam")
    empty = await sam.post("/api/v1/kb/articles", {"title": "  ", "body": "x"}, expect=400)
    assert empty["error"]["details"]["field"] == "title"
    await sam.patch("/api/v1/kb/articles/no-such-article", {"title": "x"}, expect=404)


async def test_public_pages_browse_search_and_count(login, kb):
    anonymous = await login("anonymous")
    listing = await anonymous.get("/kb", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "帮助文章" in listing
    assert "重置密码" in listing
    assert "Reset your password" not in listing
    english = await anonymous.get("/kb?q=printr+ofline&language=en")
    assert "Showing results for" in english
    assert "Printer shows offline" in english
    assert "<mark>" in english
    page = await anonymous.get("/kb/printer-offline")
    assert "<strong>Devices and Printers</strong>" in page
    assert "Was this article helpful?" in page
    response = await anonymous.client.get("/kb/escalation-internal")
    assert response.status == 404
    response = await anonymous.client.post(
        "/kb/printer-offline/feedback", data={"helpful": "yes"}, allow_redirects=False
    )
    assert response.status == 303
    bob = await login("bob")
    article = await bob.get("/api/v1/kb/articles/printer-offline")
    assert (article["views"], article["helpful_yes"]) == (1, 1)


async def test_only_never_published_drafts_can_be_deleted(login, kb):
    sam, bob = await login("sam"), await login("bob")
    draft = await sam.post("/api/v1/kb/articles", {"title": "Scratch", "body": "Notes on scratches."}, expect=201)
    await bob.call("DELETE", f"/api/v1/kb/articles/{draft['id']}", expect=403)
    await sam.call("DELETE", f"/api/v1/kb/articles/{draft['id']}", expect=204)
    await sam.get(f"/api/v1/kb/articles/{draft['id']}", expect=404)
    refused = await sam.call("DELETE", "/api/v1/kb/articles/refund-policy", expect=409)
    assert "archive" in refused["error"]["message"]
    await sam.post("/api/v1/kb/articles/refund-policy/status", {"status": "draft"}, expect=200)
    await sam.call("DELETE", "/api/v1/kb/articles/refund-policy", expect=409)  # it was published once
