"""Declared API routes: each says its roles, body, query and response, and the router does the rest.

Declaring rather than hand-coding each view keeps three things true at once: every route checks its roles and
CSRF, every body is validated with errors that name the field, and the OpenAPI document and the authorization
matrix tests are generated from the same table the server runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from contact_center.errors import InvalidInput
from contact_center.models import Role
from contact_center.web.auth import authorize, check_csrf

__all__ = ["ApiRouter", "Endpoint", "parse_model"]

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[Role] | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int


class ApiRouter:
    """Collects endpoints under one tag; `add_to` registers them on an application."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: Collection[Role] | None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint; `roles=None` makes it public."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    roles=frozenset(roles) if roles is not None else None,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        """Register every endpoint's checked handler on the application."""
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _checked(endpoint))


def parse_model(model: type[BaseModel], data: Any) -> Any:
    """Validate data into a model, turning pydantic's errors into one naming the fields."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        first = fields[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", fields=fields) from None
    _check_storable(parsed, "")
    return parsed


# The store's integer columns are 32-bit on PostgreSQL and its text cannot hold NUL: refuse both here, naming the
# field, rather than let the database fail the request with a 500.
_STORABLE_INTEGERS = range(-(2**31), 2**31)


def _check_storable(value: Any, where: str) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _check_storable(getattr(value, name), f"{where}.{name}" if where else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, where)
            _check_storable(item, f"{where}.{key}")
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            _check_storable(item, f"{where}.{index}")
    elif isinstance(value, int) and not isinstance(value, bool) and value not in _STORABLE_INTEGERS:
        raise InvalidInput(f"{where or 'body'}: number out of range", field=where or "body")
    elif isinstance(value, str) and "\x00" in value:
        raise InvalidInput(f"{where or 'body'}: text may not contain NUL characters", field=where or "body")


def _checked(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    adapter = TypeAdapter(endpoint.response) if endpoint.response is not None else None

    async def handle(request: web.Request) -> web.StreamResponse:
        signed_in = await authorize(request, endpoint.roles)
        if signed_in is not None and endpoint.roles is not None:
            check_csrf(request, signed_in)
        kwargs: dict[str, Any] = {}
        if endpoint.query is not None:
            kwargs["query"] = parse_model(endpoint.query, dict(request.query))
        if endpoint.body is not None:
            kwargs["body"] = parse_model(endpoint.body, await _json_body(request))
        result = await endpoint.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if adapter is None:
            return web.json_response(result, status=endpoint.status)
        # Validate first: handlers may return table rows, which the response model reads by attribute.
        validated = adapter.validate_python(result, from_attributes=True)
        # Pydantic writes the JSON itself, in one pass, instead of building plain data for json.dumps to walk.
        return web.Response(body=adapter.dump_json(validated), status=endpoint.status, content_type="application/json")

    handle.__name__ = endpoint.handler.__name__
    return handle


async def _json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise InvalidInput("send the body as JSON with Content-Type: application/json", field="body")
    raw = await request.read()
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed JSON: {exc}", field="body") from None
