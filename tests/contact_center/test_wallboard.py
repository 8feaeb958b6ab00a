"""The wallboard's figures, staffing, what-if and daily report, with the real engine and store."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import aiohttp
import pytest

from tests.channels.chat.test_chat import open_chat, origin_of, receive_until


def queue_row(figures, name):
    return next(q for q in figures["queues"] if q["queue"] == name)


async def test_live_figures_follow_a_chat_through_the_queue(login, clock):
    sam, bob, anonymous = await login("sam"), await login("bob"), await login("anonymous")
    board = await sam.client.ws_connect("/wallboard/ws", headers={"Origin": origin_of(sam.client)})
    first = await receive_until(board, "figures")
    assert queue_row(first, "general")["waiting"] == 0
    # alice, sam and bob work as agents and none is signed in yet: the counts and the list agree.
    assert first["agents"]["by_activity"]["offline"] == 3
    assert sum(first["agents"]["by_activity"].values()) == len(first["agents"]["list"]) == 3

    chat = await open_chat(anonymous.client)
    await receive_until(chat, "queue")
    pushed = await receive_until(board, "figures")
    while queue_row(pushed, "general")["waiting"] != 1:
        pushed = await receive_until(board, "figures")
    clock.advance(timedelta(seconds=30))
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    offer = (await bob.get("/api/v1/me/offers"))[0]
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    pushed = await receive_until(board, "figures")
    while queue_row(pushed, "general")["answered"] != 1:
        pushed = await receive_until(board, "figures")
    general = queue_row(pushed, "general")
    assert (general["waiting"], general["offered"], general["service_level"]) == (0, 1, 0.0)  # 30 s > 20 s
    assert general["average_speed_of_answer"] == 30.0
    assert general["arrival_rate_per_hour"] == 1.0
    assert general["agents_needed"] >= 1
    assert (pushed["agents"]["by_activity"]["busy"], pushed["agents"]["by_activity"]["offline"]) == (1, 2)
    assert (await sam.get("/api/v1/wallboard", expect=200))["queues"] == pushed["queues"]


async def test_only_supervisors_open_the_wallboard_socket(login):
    bob = await login("bob")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await bob.client.ws_connect("/wallboard/ws", headers={"Origin": origin_of(bob.client)})
    assert refused.value.status == 403
    sam = await login("sam")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await sam.client.ws_connect("/wallboard/ws", headers={"Origin": "https://evil.example"})


async def test_the_what_if_predicts_service_level_from_erlang_c_and_the_simulator(login):
    sam = await login("sam")
    tight = await sam.get("/api/v1/wallboard/what-if?agents=3&arrival_rate_per_hour=40&aht=240", expect=200)
    roomy = await sam.get("/api/v1/wallboard/what-if?agents=6&arrival_rate_per_hour=40&aht=240", expect=200)
    assert tight["traffic_erlangs"] == pytest.approx(40 / 3600 * 240)
    assert tight["erlang_c_service_level"] < roomy["erlang_c_service_level"]
    assert tight["simulated"]["service_level"] < roomy["simulated"]["service_level"]
    # The simulator agrees with Erlang C within a few points on a long run of its assumptions.
    assert roomy["simulated"]["service_level"] == pytest.approx(roomy["erlang_c_service_level"], abs=0.08)
    bad = await sam.get("/api/v1/wallboard/what-if?agents=0&arrival_rate_per_hour=40&aht=240", expect=400)
    assert bad["error"]["details"]["fields"][0]["field"] == "agents"
    await (await login("bob")).get("/api/v1/wallboard/what-if?agents=3&arrival_rate_per_hour=40&aht=240", expect=403)


async def test_the_daily_report_exports_csv_a_spreadsheet_cannot_run(login, clock):
    sam = await login("sam")
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    await sam.patch(f"/api/v1/agents/{agents['Bob']}", {"name": '=HYPERLINK("http://evil")'}, expect=200)
    bob, anonymous = await login("bob"), await login("anonymous")
    chat = await open_chat(anonymous.client)
    await receive_until(chat, "queue")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    offer = (await bob.get("/api/v1/me/offers"))[0]
    accepted = await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    clock.advance(timedelta(minutes=3))
    await bob.post(f"/api/v1/contacts/{accepted['contact_id']}/wrap-up", {"code": "resolved"}, expect=200)
    abandoning = await open_chat(anonymous.client)
    await receive_until(abandoning, "started")
    await abandoning.send_json({"type": "close"})
    await receive_until(abandoning, "status", status="closed")

    by_queue = await sam.get("/api/v1/reports/daily?by=queue", expect=200)
    assert [(r["queue"], r["offered"], r["answered"], r["abandoned"]) for r in by_queue["rows"]] == [
        ("general", 2, 1, 1)
    ]
    assert by_queue["rows"][0]["average_handle_time"] == 180.0
    response = await sam.client.get("/api/v1/reports/daily?by=agent&format=csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:3] == ["agent", "handled", "completed"]
    assert rows[1][:3] == ['\'=HYPERLINK("http://evil")', "1", "1"]
    assert rows[1][-1] == "resolved:1"
    await sam.get("/api/v1/reports/daily?date=2999-01-01", expect=400)
    await sam.get("/api/v1/reports/daily?by=team", expect=400)


async def test_history_counts_per_interval(login):
    sam, anonymous = await login("sam"), await login("anonymous")
    chat = await open_chat(anonymous.client)
    await receive_until(chat, "started")
    await chat.send_json({"type": "close"})
    await receive_until(chat, "status", status="closed")
    history = await sam.get("/api/v1/wallboard/history?hours=2&minutes=30", expect=200)
    assert len(history["t"]) == 4
    assert sum(history["abandoned"]) == 1
    assert history["offered"][-1] == 1


async def test_staffing_counts_the_agents_with_each_queues_skills(login):
    sam, bob, alice = await login("sam"), await login("bob"), await login("alice")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    await sam.post("/api/v1/queues", {"name": "billing", "required_skills": {"billing": 3}}, expect=201)
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    await sam.put(f"/api/v1/agents/{agents['Bob']}/skills", {"skills": {"billing": 8}}, expect=200)
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    await alice.post("/api/v1/me/activity", {"activity": "away"}, expect=200)
    await sam.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    figures = await sam.get("/api/v1/wallboard", expect=200)
    assert queue_row(figures, "billing")["agents_staffed"] == 1  # Bob; Sam lacks the skill, Alice is away
    assert queue_row(figures, "general")["agents_staffed"] == 2
    assert {a["name"]: a["activity"] for a in figures["agents"]["list"]} == {
        "Alice": "away",
        "Bob": "available",
        "Sam": "available",
    }


async def test_past_the_listed_agents_the_counts_still_cover_the_whole_floor(login, monkeypatch):
    from contact_center.web.api import wallboard

    monkeypatch.setattr(wallboard, "_MAX_LISTED", 2)
    figures = await (await login("sam")).get("/api/v1/wallboard", expect=200)
    assert len(figures["agents"]["list"]) == 2
    assert figures["agents"]["by_activity"]["offline"] == 3  # alice, sam and bob: none signed in
