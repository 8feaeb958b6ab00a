"""The OpenAPI document and the authorization matrix, both generated from the declared route table."""

from __future__ import annotations

import re

from contact_center.models import Role
from contact_center.web.app import api_endpoints
from tests.conftest import PERSONAS

ROLE_OF = {role: name for name, role in PERSONAS.items()}


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", "1", path)


async def test_the_document_describes_every_route_with_its_schemas(login):
    anonymous = await login("anonymous")
    document = await anonymous.get("/api/v1/openapi.json", expect=200)
    assert document["openapi"].startswith("3.1")
    declared = {(e.method.lower(), e.path) for e in api_endpoints()}
    described = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert described == declared
    for resource in (
        "/api/v1/customers",
        "/api/v1/cases",
        "/api/v1/cases/{case_ref}/timeline",
        "/api/v1/agents",
        "/api/v1/skills",
        "/api/v1/queues",
        "/api/v1/identities",
        "/api/v1/contacts",
    ):
        assert resource in document["paths"]
    create = document["paths"]["/api/v1/cases"]["post"]
    schema_name = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "subject" in document["components"]["schemas"][schema_name]["properties"]
    assert create["x-roles"] == ["admin", "agent", "supervisor"]
    listing = document["paths"]["/api/v1/cases"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "limit", "offset"}
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(document).replace("'", '"'))
    assert set(refs) <= set(document["components"]["schemas"])


async def test_every_route_enforces_its_roles(login):
    anonymous = await login("anonymous")
    signed_in = {role: await login(ROLE_OF[role]) for role in Role}
    checked = 0
    for endpoint in api_endpoints():
        if endpoint.roles is None:
            continue
        path = concrete(endpoint.path)
        response = await anonymous.client.request(endpoint.method, path, json={})
        assert response.status == 401, (endpoint.path, response.status)
        assert (await response.json())["error"]["code"] == "unauthenticated"
        for role in Role:
            # Signing out or changing a password ends the session: those get a session of their own.
            api = await login(ROLE_OF[role]) if endpoint.path.startswith("/api/v1/auth/") else signed_in[role]
            response = await api.client.request(endpoint.method, path, json={}, headers={"X-CSRF-Token": api.csrf})
            if role in endpoint.roles:
                assert response.status not in (401, 403), (endpoint.path, role, response.status)
                assert response.status < 500, (endpoint.path, role, await response.text())
            else:
                assert response.status == 403, (endpoint.path, role, response.status)
            checked += 1
    assert checked >= 4 * 40
