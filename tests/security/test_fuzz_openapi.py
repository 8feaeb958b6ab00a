"""Fuzzing the API from its own OpenAPI document: any body, query or path an admin sends gets a 2xx, 3xx or a JSON
4xx with a message — never a 5xx.

Hypothesis generates the requests from the published schemas (`tests/security/schemas.py`); they are then sent to
the running app. Requests go as the admin, who passes every role check, so the fuzz reaches every handler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact_center.models import Role
from contact_center.services.users import do_create_user
from tests.conftest import PASSWORD, Api
from tests.security.schemas import HOSTILE_TEXT, from_schema

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))  # per operation; CI keeps the default
# Short enough that aiohttp's HTTP parser (8 KiB request line) never refuses the request before the app sees it.
PATH_VALUES = st.one_of(
    st.integers(min_value=-5, max_value=2**64).map(str), st.just("CS-000001"), HOSTILE_TEXT, st.text(max_size=12)
).map(lambda value: value[:600])


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _operation_calls(path: str, method: str, operation: dict[str, Any], components: dict[str, Any]) -> list[Call]:
    """Draw `EXAMPLES` requests for one operation (collected here, sent later: hypothesis runs synchronously)."""
    calls: list[Call] = []
    parameters = operation.get("parameters", [])
    body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")

    @settings(
        max_examples=EXAMPLES, database=None, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
    )
    @given(data=st.data())
    def draw(data: st.DataObject) -> None:
        concrete = path
        query: dict[str, str] = {}
        for parameter in parameters:
            if parameter["in"] == "path":
                value = data.draw(PATH_VALUES) or "x"
                concrete = concrete.replace("{" + parameter["name"] + "}", quote(value, safe=""))
            elif parameter["required"] or data.draw(st.booleans()):
                value = data.draw(from_schema(parameter.get("schema", {}), components))
                query[parameter["name"]] = _query_value(value)
        body = data.draw(from_schema(body_schema, components)) if body_schema is not None else None
        calls.append(Call(method.upper(), concrete, query, body))

    draw()
    return calls


async def _admin(login, database, clock, fresh: list[int]) -> Api:
    """Sign in as an admin; if the fuzz disabled or re-passworded the last one, make another."""
    fresh[0] += 1
    name = f"fuzz{fresh[0]}@example.test"
    async with database.transaction() as session:
        await do_create_user(session, username=name, password=PASSWORD, role=Role.ADMIN, now=clock.now())
    api = await login("anonymous")
    response = await api.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return Api(api.client, (await response.json())["csrf_token"])


async def test_no_generated_request_gets_a_server_error_and_every_4xx_is_a_json_message(login, database, clock):
    fresh = [0]
    alice = await _admin(login, database, clock, fresh)
    document = await alice.get("/api/v1/openapi.json")
    components = document["components"]["schemas"]
    problems: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for call in _operation_calls(path, method, operation, components):
                response = await alice.client.request(
                    call.method,
                    call.path,
                    params=call.query,
                    json=call.body,
                    headers={"X-CSRF-Token": alice.csrf or ""},
                )
                seen = f"{call.method} {call.path} {call.query} {str(call.body)[:200]} -> {response.status}"
                if response.status >= 500:
                    problems.append(seen)
                elif response.status >= 400:
                    if response.content_type != "application/json":
                        problems.append(f"{seen}: not JSON but {response.content_type}")
                    else:
                        message = (await response.json()).get("error", {}).get("message")
                        if not isinstance(message, str) or not message:
                            problems.append(f"{seen}: no error message")
                if response.status == 401:
                    alice = await _admin(login, database, clock, fresh)
    assert not problems, "\n".join(problems[:40])


async def test_bodies_that_are_not_json_are_refused_with_a_message(login):
    alice = await login("alice")
    for data, content_type in ((b"{", "application/json"), (b"\xff\xfe", "application/json"), (b"a=1", "text/plain")):
        response = await alice.client.post(
            "/api/v1/customers", data=data, headers={"X-CSRF-Token": alice.csrf or "", "Content-Type": content_type}
        )
        assert response.status == 400
        assert (await response.json())["error"]["message"]
