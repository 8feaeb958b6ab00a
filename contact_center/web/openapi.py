"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contact_center.web.router import Endpoint

__all__ = ["openapi_document"]

_PARAM = re.compile(r"{(\w+)}")


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def _schema_ref(annotation: Any, refs: Mapping[Any, Any]) -> dict[str, Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return dict(refs[(annotation, "serialization")])
    if get_origin(annotation) is list:
        return {"type": "array", "items": _schema_ref(get_args(annotation)[0], refs)}
    return {}


def openapi_document(endpoints: Iterable[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    """Describe every endpoint: parameters, bodies, responses, security and the error shape."""
    endpoints = list(endpoints)
    pairs: list[tuple[type[BaseModel], Any]] = []
    for endpoint in endpoints:
        if endpoint.body is not None:
            pairs.append((endpoint.body, "validation"))
        if endpoint.query is not None:
            pairs.append((endpoint.query, "validation"))
        pairs.extend((model, "serialization") for model in _models(endpoint.response))
    unique = list(dict.fromkeys(pairs))
    refs, definitions = models_json_schema(unique, ref_template="#/components/schemas/{model}")
    schemas = dict(definitions.get("$defs", {}))
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "operationId": endpoint.handler.__name__,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PARAM.findall(endpoint.path)
            ],
            "responses": {
                str(endpoint.status): {
                    "description": "success",
                    **(
                        {"content": {"application/json": {"schema": _schema_ref(endpoint.response, refs)}}}
                        if endpoint.response is not None
                        else {}
                    ),
                },
                "default": {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if endpoint.query is not None:
            properties = schemas.get(endpoint.query.__name__, {}).get("properties", {})
            for name, field in endpoint.query.model_fields.items():
                operation["parameters"].append(
                    {
                        "name": field.alias or name,
                        "in": "query",
                        "required": field.is_required(),
                        "schema": properties.get(field.alias or name, {}),
                        **({"description": field.description} if field.description else {}),
                    }
                )
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": dict(refs[(endpoint.body, "validation")])}},
            }
        if endpoint.roles is None:
            operation["security"] = []
        else:
            operation["x-roles"] = sorted(role.value for role in endpoint.roles)
        paths.setdefault("/api/v1" + endpoint.path.removeprefix("/api/v1"), {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "security": [{"session": [], "csrf": []}],
    }
