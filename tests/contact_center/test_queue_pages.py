"""The queues page, and a queue changed by API or page: contacts routed after the change follow it."""

from __future__ import annotations

from tests.contact_center.test_agent_pages import form_page, post
from tests.contact_center.test_pages import sign_in

QUEUE = {
    "name": "billing",
    "description": "Invoices and payments",
    "channel_sms": "on",
    "channel_email": "on",
    "skill_billing": "5",
    "service_level_percent": "90",
    "service_level_seconds": "30",
}


async def test_a_supervisor_defines_a_skill_and_a_queue_then_changes_what_it_requires(app_client, users, login):
    sam = await login("sam")
    client = await app_client()
    await sign_in(client, username="sam@example.test")
    page, token = await form_page(client, "/queues")
    assert "No queues yet" in page
    assert (await post(client, "/queues/skills", token, {"name": "billing", "description": "Money"})).status == 303
    assert [s["name"] for s in await sam.get("/api/v1/skills")] == ["billing"]
    added = await post(client, "/queues", token, QUEUE)
    assert added.status == 303
    queue_id = int(added.headers["Location"].rsplit("/", 1)[1])
    queue = await sam.get(f"/api/v1/queues/{queue_id}")
    assert (queue["channels"], queue["required_skills"]) == (["sms", "email"], {"billing": 5})
    assert (queue["service_level_target"], queue["service_level_seconds"]) == (0.9, 30)
    page, token = await form_page(client, "/queues")
    assert "billing ≥ 5" in page
    assert "90% in 30 s" in page

    # Bob has billing 4: not enough for this queue until a supervisor lowers what it requires.
    bob_id = next(a["id"] for a in await sam.get("/api/v1/agents") if a["name"] == "Bob")
    await sam.put(f"/api/v1/agents/{bob_id}/skills", {"skills": {"billing": 4}}, expect=200)
    bob = await login("bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    text = {"channel": "sms", "address": "+14155550001", "body": "bill", "queue_id": queue_id}
    await sam.post("/api/v1/contacts", {**text, "external_id": "SM1"}, expect=201)
    assert await bob.get("/api/v1/me/offers") == []
    _, token = await form_page(client, f"/queues/{queue_id}")
    saved = await post(client, f"/queues/{queue_id}", token, {**QUEUE, "skill_billing": "3"})
    assert (saved.status, saved.headers["Location"]) == (303, f"/queues/{queue_id}?saved=1")
    await sam.post("/api/v1/contacts", {**text, "external_id": "SM2", "address": "+14155550002"}, expect=201)
    [offer] = await bob.get("/api/v1/me/offers")  # the new text follows the new requirement; the first keeps its own
    assert offer["channel"] == "sms"


async def test_bad_queue_settings_are_refused_naming_the_field(app_client, users, login):
    sam = await login("sam")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    client = await app_client()
    await sign_in(client, username="sam@example.test")
    _, token = await form_page(client, "/queues")
    for fields, message in (
        ({**QUEUE, "name": "Billing Team"}, "lower-case letters"),
        ({**QUEUE, "skill_billing": "12"}, "required level of billing must be 1-10"),
        ({**QUEUE, "service_level_percent": "0"}, "service level percent must be 1-100"),
        ({k: v for k, v in QUEUE.items() if not k.startswith("channel_")}, "at least one channel"),
    ):
        refused = await post(client, "/queues", token, fields)
        text = await refused.text()
        assert refused.status == 400, fields
        assert message in text
        assert f'value="{fields["name"]}"' in text  # what was typed comes back
    assert (await post(client, "/queues", token, QUEUE)).status == 303
    duplicate = await post(client, "/queues", token, QUEUE)
    assert "queue billing exists already" in await duplicate.text()
    skill = await post(client, "/queues/skills", token, {"name": "billing"})
    assert (skill.status, "skill billing exists already" in await skill.text()) == (400, True)
    assert (await client.get("/queues/999999")).status == 404


async def test_the_api_changes_a_queue_and_checks_what_it_is_given(login):
    sam = await login("sam")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    queue = await sam.post("/api/v1/queues", {"name": "billing"}, expect=201)
    changed = await sam.patch(
        f"/api/v1/queues/{queue['id']}", {"required_skills": {"billing": 6}, "service_level_seconds": 60}, expect=200
    )
    assert (changed["required_skills"], changed["service_level_seconds"]) == ({"billing": 6}, 60)
    assert changed["service_level_target"] == 0.8  # what was not sent stays
    error = await sam.patch(f"/api/v1/queues/{queue['id']}", {"required_skills": {"plumbing": 2}}, expect=400)
    assert "unknown skill(s): plumbing" in error["error"]["message"]
    await sam.patch("/api/v1/queues/424242", {"service_level_seconds": 60}, expect=404)
    await (await login("bob")).patch(f"/api/v1/queues/{queue['id']}", {"service_level_seconds": 5}, expect=403)
