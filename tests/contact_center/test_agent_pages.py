"""The agents page: a supervisor adds an agent, gives skills, and routing offers that agent work at once."""

from __future__ import annotations

import re

from tests.contact_center.test_pages import CSRF, sign_in


async def form_page(client, path: str, status: int = 200) -> tuple[str, str]:
    response = await client.get(path)
    text = await response.text()
    assert response.status == status, (path, response.status, text[:300])
    return text, CSRF.search(text).group(1)


async def post(client, path: str, token: str, fields: dict[str, str]):
    return await client.post(path, data={**fields, "csrf_token": token}, allow_redirects=False)


NEW_AGENT = {
    "name": "Nia Okoro",
    "email": "nia@example.test",
    "languages": "en, fr",
    "skill_billing": "7",
    "capacity_voice": "1",
    "capacity_chat": "2",
    "capacity_email": "4",
    "capacity_sms": "4",
    "capacity_web": "4",
    "voice_blocks_others": "on",
}


async def test_a_supervisor_adds_an_agent_who_is_then_offered_matching_work(app_client, users, login):
    sam = await login("sam")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    queue = await sam.post("/api/v1/queues", {"name": "billing", "required_skills": {"billing": 3}}, expect=201)
    text = {"channel": "sms", "external_id": "SM1", "address": "+14155550001", "body": "bill", "queue_id": queue["id"]}
    received = await sam.post("/api/v1/contacts", text, expect=201)
    statistics = f"/api/v1/queues/{queue['id']}/statistics"
    assert [w["contact_id"] for w in (await sam.get(statistics))["waiting"]] == [received["contact"]["id"]]

    client = await app_client()
    await sign_in(client, username="sam@example.test")
    page, token = await form_page(client, "/agents")
    assert "Bob" in page  # the personas who work as agents are listed
    added = await post(client, "/agents", token, NEW_AGENT)
    assert added.status == 303
    agent_id = int(added.headers["Location"].rsplit("/", 1)[1])
    page, token = await form_page(client, f"/agents/{agent_id}")
    assert 'name="skill_billing" min="1" max="10" value="7"' in page
    assert 'value="en, fr"' in page
    agent = await sam.get(f"/api/v1/agents/{agent_id}")
    assert agent["skills"] == {"billing": 7}
    assert agent["capacity"] == {"voice": 1, "chat": 2, "email": 4, "sms": 4, "web": 4}
    assert agent["languages"] == ["en", "fr"]

    # Routing knows Nia at once: the moment she is available, the waiting text rings for her (nobody else is on).
    await sam.post(f"/api/v1/agents/{agent_id}/activity", {"activity": "available"}, expect=200)
    [waiting] = (await sam.get(statistics))["waiting"]
    assert (waiting["contact_id"], waiting["status"]) == (received["contact"]["id"], "reserved")
    page, _ = await form_page(client, "/agents")
    assert re.search(rf'<tr data-agent="{agent_id}">.*?<td class="activity">busy</td>', page, re.S)


async def test_changes_are_saved_checked_and_disabling_takes_the_agent_out(app_client, users, login):
    sam = await login("sam")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    bob_id = next(a["id"] for a in await sam.get("/api/v1/agents") if a["name"] == "Bob")
    client = await app_client()
    await sign_in(client, username="sam@example.test")
    _, token = await form_page(client, f"/agents/{bob_id}")
    fields = {**NEW_AGENT, "name": "Bob B.", "skill_billing": "11"}
    del fields["email"]
    refused = await post(client, f"/agents/{bob_id}", token, fields)
    assert refused.status == 400
    text = await refused.text()
    assert "level of billing must be 1-10, not 11" in text
    assert 'value="Bob B."' in text  # what was typed comes back
    refused = await post(client, f"/agents/{bob_id}", token, {**fields, "skill_billing": "3", "capacity_chat": "x"})
    assert "chat capacity must be a whole number" in await refused.text()

    saved = await post(client, f"/agents/{bob_id}", token, {**fields, "skill_billing": "3"})  # "active" unticked
    assert (saved.status, saved.headers["Location"]) == (303, f"/agents/{bob_id}?saved=1")
    bob = await sam.get(f"/api/v1/agents/{bob_id}")
    assert (bob["name"], bob["active"], bob["skills"]) == ("Bob B.", False, {"billing": 3})
    page, _ = await form_page(client, "/agents")
    assert "Bob B.</a> (disabled)" in page
    # A disabled agent cannot be made available.
    refused = await (await login("bob")).post("/api/v1/me/activity", {"activity": "available"})
    assert refused["error"]


async def test_only_supervisors_manage_agents_and_a_missing_one_is_404(app_client, users):
    bob = await app_client()
    await sign_in(bob)
    assert (await bob.get("/agents")).status == 403
    sam = await app_client()
    await sign_in(sam, username="sam@example.test")
    assert (await sam.get("/agents/99999")).status == 404
    _, token = await form_page(sam, "/agents")
    duplicate = await post(sam, "/agents", token, {**NEW_AGENT, "email": "bob@example.test"})
    assert duplicate.status == 400
    assert "exists already" in await duplicate.text()
    bad = await post(sam, "/agents", token, {**NEW_AGENT, "email": "nia at example"})
    assert "is not an email address" in await bad.text()


async def test_a_team_is_added_and_offered_to_agents(app_client, users, login):
    sam = await app_client()
    await sign_in(sam, username="sam@example.test")
    _, token = await form_page(sam, "/agents")
    assert (await post(sam, "/agents/teams", token, {"team_name": "Night shift", "partner": "Callpro"})).status == 303
    page, _ = await form_page(sam, "/agents")
    assert 'Night shift <span class="muted">(Callpro)</span>' in page
    assert re.search(r'<option value="\d+">Night shift</option>', page)
    teams = await (await login("sam")).get("/api/v1/teams")
    assert [(t["name"], t["kind"], t["partner"]) for t in teams] == [("Night shift", "outsourced", "Callpro")]
    again = await post(sam, "/agents/teams", token, {"team_name": "Night shift"})
    assert (again.status, "team Night shift exists already" in await again.text()) == (400, True)

    # Into the team and out of it again, from the page and from the API.
    api = await login("sam")
    bob_id = next(a["id"] for a in await api.get("/api/v1/agents") if a["name"] == "Bob")
    fields = {**NEW_AGENT, "name": "Bob", "active": "on", "team_id": str(teams[0]["id"])}
    del fields["email"], fields["skill_billing"]
    assert (await post(sam, f"/agents/{bob_id}", token, fields)).status == 303
    assert (await api.get(f"/api/v1/agents/{bob_id}"))["team_id"] == teams[0]["id"]
    await api.patch(f"/api/v1/agents/{bob_id}", {"name": "Bob"}, expect=200)
    assert (await api.get(f"/api/v1/agents/{bob_id}"))["team_id"] == teams[0]["id"]  # not sent: left as it is
    assert (await post(sam, f"/agents/{bob_id}", token, {**fields, "team_id": ""})).status == 303
    assert (await api.get(f"/api/v1/agents/{bob_id}"))["team_id"] is None
    await api.patch(f"/api/v1/agents/{bob_id}", {"team_id": teams[0]["id"]}, expect=200)
    assert (await api.patch(f"/api/v1/agents/{bob_id}", {"team_id": None}, expect=200))["team_id"] is None
