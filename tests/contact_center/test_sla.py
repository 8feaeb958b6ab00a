"""SLA clocks: policies by priority and tier, business hours, pauses while waiting on the customer, breaches."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from contact_center.models import SlaPolicy
from contact_center.services import sla as sla_service
from contact_center.services.sla import check_sla, load_policies
from contact_center.sla import PolicyTerms

WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def setup_policy(alice, **policy):
    calendar = await alice.post(
        "/api/v1/calendars",
        {"name": "London", "time_zone": "Europe/London", "hours": WEEKDAYS, "holidays": ["2026-12-25"]},
        expect=201,
    )
    return await alice.post(
        "/api/v1/sla/policies",
        {
            "name": "Standard",
            "first_response_minutes": 60,
            "resolution_minutes": 480,
            "calendar_id": calendar["id"],
            **policy,
        },
        expect=201,
    )


async def new_case(bob, **fields):
    customer = await bob.post("/api/v1/customers", {"name": "Tom", "value_score": 30}, expect=201)
    return await bob.post("/api/v1/cases", {"customer_id": customer["id"], "subject": "Broken", **fields}, expect=201)


async def test_the_clock_pauses_while_pending_and_resumes_across_a_weekend(login, clock):
    alice, bob = await login("alice"), await login("bob")
    await setup_policy(alice)
    clock.set(datetime(2026, 11, 27, 16, 30, tzinfo=UTC))  # Friday, half an hour before closing
    case = await new_case(bob)
    assert parse(case["first_response_due_at"]) == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    assert parse(case["resolution_due_at"]) == datetime(2026, 11, 30, 16, 30, tzinfo=UTC)

    clock.set(datetime(2026, 11, 27, 16, 45, tzinfo=UTC))
    paused = await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "pending"}, expect=200)
    assert paused["sla_paused"] is True
    assert paused["first_response_due_at"] is None
    assert paused["resolution_due_at"] is None

    # The customer answers on Monday at 10:00: 15 open minutes on Friday and 60 on Monday were paused.
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    resumed = await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "open"}, expect=200)
    assert resumed["sla_paused"] is False
    assert parse(resumed["first_response_due_at"]) == datetime(2026, 11, 30, 10, 45, tzinfo=UTC)
    assert parse(resumed["resolution_due_at"]) == datetime(2026, 12, 1, 9, 45, tzinfo=UTC)

    # Pausing again outside business hours adds nothing for the closed hours.
    clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "pending"}, expect=200)
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    again = await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "open"}, expect=200)
    assert parse(again["resolution_due_at"]) == datetime(2026, 12, 1, 10, 45, tzinfo=UTC)


async def test_the_most_specific_policy_applies_and_a_new_priority_retimes(login, clock):
    alice, bob = await login("alice"), await login("bob")
    await setup_policy(alice)
    await alice.post(
        "/api/v1/sla/policies",
        {"name": "Urgent", "priority": "urgent", "first_response_minutes": 15, "resolution_minutes": 120},
        expect=201,
    )
    case = await new_case(bob)
    assert parse(case["first_response_due_at"]) == clock.now() + timedelta(minutes=60)
    urgent = await bob.patch(f"/api/v1/cases/{case['id']}", {"priority": "urgent"}, expect=200)
    assert parse(urgent["first_response_due_at"]) == clock.now() + timedelta(minutes=15)  # 24/7: no calendar
    assert urgent["sla_policy_id"] != case["sla_policy_id"]


async def test_warnings_and_breaches_are_recorded_once_and_reported(login, clock, database):
    alice, bob = await login("alice"), await login("bob")
    await setup_policy(alice)
    late = await new_case(bob)
    on_time = await new_case(bob)
    clock.advance(timedelta(minutes=10))
    await bob.post(f"/api/v1/cases/{on_time['id']}/replies", {"channel": "email", "body": "Hello"}, expect=400)
    await bob.post(f"/api/v1/cases/{on_time['id']}/notes", {"body": "called back", "public": True}, expect=201)

    clock.advance(timedelta(minutes=40))  # 50 of 60 minutes gone: a warning for both
    async with database.transaction() as session:
        written = await check_sla(session, clock.now())
    assert sorted(written) == sorted(
        [(late["id"], "first_response_warning"), (on_time["id"], "first_response_warning")]
    )
    clock.advance(timedelta(minutes=11))
    async with database.transaction() as session:
        assert sorted(await check_sla(session, clock.now())) == sorted(
            [(late["id"], "first_response_breach"), (on_time["id"], "first_response_breach")]
        )
    async with database.transaction() as session:
        assert await check_sla(session, clock.now()) == []  # recorded once, whoever runs the timer again

    timeline = await bob.get(f"/api/v1/cases/{late['id']}/timeline")
    assert [e["kind"] for e in timeline].count("sla_breach") == 1
    assert (await bob.get(f"/api/v1/cases/{late['id']}"))["first_response_breached"] is True

    report = await alice.get("/api/v1/reports/sla", expect=200)
    assert report["cases"] == 2
    assert report["first_response"] == {"measured": 2, "met": 0, "share_met": 0.0}
    await bob.get("/api/v1/reports/sla", expect=403)


async def test_a_bad_calendar_is_refused_with_the_reason(login):
    alice = await login("alice")
    error = await alice.post("/api/v1/calendars", {"name": "x", "hours": {"mon": ["17:00-09:00"]}}, expect=400)
    assert "ends before it starts" in error["error"]["message"]
    error = await alice.post(
        "/api/v1/sla/policies", {"name": "p", "first_response_minutes": 0, "resolution_minutes": 10}, expect=400
    )
    assert error["error"]["details"]["fields"][0]["field"] == "first_response_minutes"


def minutes(policies: list[PolicyTerms]) -> list[int]:
    return [p.first_response_minutes for p in policies]


async def test_policies_are_read_once_per_process_and_its_own_changes_are_seen_at_once(database):
    async with database.transaction() as session:
        assert await load_policies(session) == []
        policy = SlaPolicy(name="Standard", first_response_minutes=60, resolution_minutes=480)
        session.add(policy)
        # Pending, not flushed yet: the cached (empty) list must not hide it.
        assert minutes(await load_policies(session)) == [60]
        policy.first_response_minutes = 30
        await session.flush()
        assert minutes(await load_policies(session)) == [30]
    async with database.transaction() as session:
        first = await load_policies(session)
        assert minutes(first) == [30]
    async with database.transaction() as session:
        # The next contact uses the same copy: no read.
        assert await load_policies(session) is first
        stored = await session.get(SlaPolicy, policy.id)
        assert stored is not None
        stored.first_response_minutes = 45
    async with database.transaction() as session:
        # This process changed a policy: it reads them again at once.
        assert minutes(await load_policies(session)) == [45]


async def test_a_policy_changed_by_another_process_is_seen_within_the_cache_lifetime(database, monkeypatch):
    async with database.transaction() as session:
        session.add(SlaPolicy(name="Standard", first_response_minutes=60, resolution_minutes=480))
    async with database.transaction() as session:
        assert minutes(await load_policies(session)) == [60]
    # Another process's change: plain SQL, which this process's sessions never see.
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE sla_policies SET first_response_minutes = 15"))
    async with database.transaction() as session:
        assert minutes(await load_policies(session)) == [60]
    started = time.monotonic()
    monkeypatch.setattr(sla_service._POLICIES, "clock", lambda: started + sla_service._POLICIES.ttl + 1)
    async with database.transaction() as session:
        assert minutes(await load_policies(session)) == [15]
