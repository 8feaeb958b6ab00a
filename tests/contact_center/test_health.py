"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from contact_center.db import Database
from contact_center.web.app import create_app


async def test_healthz_and_readyz_answer_when_the_store_is_reachable(login):
    anonymous = await login("anonymous")
    assert await anonymous.get("/healthz", expect=200) == {"status": "ok"}
    ready = await anonymous.get("/readyz", expect=200)
    assert ready == {"status": "ready", "checks": {"database": "ok"}}


async def test_readyz_is_503_when_the_database_is_unreachable(aiohttp_client, settings):
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    client = await aiohttp_client(create_app(settings, database=down))
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("unreachable")
    assert (await client.get("/healthz")).status == 200
    await down.dispose()


async def test_metrics_count_requests_by_route_and_cases_by_status(login):
    bob = await login("bob")
    await bob.post("/api/v1/contacts", {"channel": "sms", "external_id": "SM1", "address": "+14155550100"}, expect=201)
    await bob.get("/api/v1/cases/1", expect=200)
    await bob.get("/api/v1/cases/2", expect=404)
    response = await bob.client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    cases = {s.labels["status"]: s.value for s in families["cc_cases"].samples}
    assert cases == {"new": 1.0}
    requests = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["cc_http_requests"].samples
        if s.name == "cc_http_requests_total"
    }
    assert requests[("/api/v1/cases/{case_ref}", "200")] == 1
    assert requests[("/api/v1/cases/{case_ref}", "404")] == 1
    assert {s.labels["channel"] for s in families["cc_contacts"].samples} == {"sms"}
