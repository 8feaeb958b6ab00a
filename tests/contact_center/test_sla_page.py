"""The SLA page: policies, calendars and the last 30 days; an admin's new policy sets the next cases' due dates."""

from __future__ import annotations

from datetime import timedelta

from tests.contact_center.test_agent_pages import form_page, post
from tests.contact_center.test_pages import sign_in
from tests.contact_center.test_sla import new_case, parse, setup_policy

URGENT = {
    "name": "Urgent",
    "priority": "urgent",
    "tier": "",
    "first_response_minutes": "15",
    "resolution_minutes": "240",
    "calendar_id": "",
}


async def test_an_admin_adds_a_policy_that_the_next_urgent_case_follows(app_client, users, login, clock):
    alice, bob = await login("alice"), await login("bob")
    await setup_policy(alice)
    page_client = await app_client()
    await sign_in(page_client, username="alice@example.test")
    page, token = await form_page(page_client, "/sla")
    assert "London" in page  # the calendar, and the policy that uses it
    assert "Standard" in page
    assert (await post(page_client, "/sla/policies", token, URGENT)).status == 303
    case = await new_case(bob, priority="urgent")
    assert parse(case["first_response_due_at"]) == clock.now() + timedelta(minutes=15)  # around the clock
    page, _ = await form_page(page_client, "/sla")
    assert "<td>Urgent</td><td>urgent</td><td>any</td>" in page


async def test_the_page_reports_targets_met_and_refuses_bad_policies(app_client, users, login, clock):
    alice, bob = await login("alice"), await login("bob")
    await setup_policy(alice)
    customer = await bob.post(
        "/api/v1/customers",
        {"name": "Ann", "identities": [{"kind": "email", "address": "ann@example.com"}]},
        expect=201,
    )
    case = await bob.post("/api/v1/cases", {"customer_id": customer["id"], "subject": "Broken"}, expect=201)
    await bob.post(f"/api/v1/cases/{case['id']}/replies", {"channel": "email", "body": "On it"}, expect=201)
    clock.advance(timedelta(minutes=1))
    admin = await app_client()
    await sign_in(admin, username="alice@example.test")
    page, token = await form_page(admin, "/sla")
    assert "first responses in time: 1 of 1, last 30 days" in page
    for fields, message in (
        ({**URGENT, "first_response_minutes": "0"}, "first response minutes must be 1-525600"),
        ({**URGENT, "priority": "critical"}, "priority must be one of low, normal, high, urgent"),
        ({**URGENT, "calendar_id": "4242"}, "calendar 4242 does not exist"),
        ({**URGENT, "name": "Standard"}, "SLA policy Standard exists already"),
    ):
        refused = await post(admin, "/sla/policies", token, fields)
        assert refused.status == 400, fields
        assert message in await refused.text()
    supervisor = await app_client()
    await sign_in(supervisor, username="sam@example.test")
    page, token = await form_page(supervisor, "/sla")
    assert "New policy" not in page  # supervisors read, admins add
    assert (await post(supervisor, "/sla/policies", token, URGENT)).status == 403
