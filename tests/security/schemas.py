"""Hypothesis strategies from the JSON Schemas of the OpenAPI document: valid-looking values, plus hostile ones.

Each schema gives mostly values of its own shape (so requests get past validation and into the handlers) and
sometimes a value of the wrong type, a huge number or hostile text, so the validation itself is tried too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Json = Any

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\u202e\u0000\ud7ff",
        "'; DROP TABLE cases; --",
        "<script>alert(1)</script>",
        "{{7*7}}{% raw %}",
        "=cmd|' /C calc'!A0",
        "../../etc/passwd",
        "9" * 400,
        "x" * 5000,
        "CS-000001",
        "-1",
        "1e309",
        "NaN",
        "2026-13-45T25:61:00Z",
    ]
)
JUNK: st.SearchStrategy[Json] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    HOSTILE_TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Json]:
    """Return values for `schema`, resolving `$ref` against the document's components."""
    shaped = _shaped(schema, components, depth)
    return st.one_of(shaped, shaped, shaped, JUNK)


def _shaped(schema: dict[str, Any], components: dict[str, Any], depth: int) -> st.SearchStrategy[Json]:
    if "$ref" in schema:
        return _shaped(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([_shaped(option, components, depth) for option in schema[key]])
    if "allOf" in schema:
        return _shaped(schema["allOf"][0], components, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_shaped({**schema, "type": one}, components, depth) for one in kind])
    if kind == "object" or "properties" in schema:
        return _object(schema, components, depth)
    if kind == "array":
        items = schema.get("items", {})
        values = _shaped(items, components, depth + 1) if depth < 3 else st.nothing()
        return st.lists(values, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JUNK


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Json]:
    low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
    formats = {
        "date-time": st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        "date": st.dates().map(lambda day: day.isoformat()),
        "email": st.from_regex(r"\A[a-z]{1,8}@[a-z]{1,8}\.test\Z"),
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if "pattern" in schema:
        return st.one_of(st.from_regex(schema["pattern"], fullmatch=True), st.text(max_size=high))
    return st.one_of(st.text(min_size=low, max_size=max(low, high)), HOSTILE_TEXT)


def _object(schema: dict[str, Any], components: dict[str, Any], depth: int) -> st.SearchStrategy[Json]:
    properties = schema.get("properties", {}) if depth < 4 else {}
    required = [name for name in schema.get("required", []) if name in properties]
    optional = [name for name in properties if name not in required]
    fields = {name: _shaped(properties[name], components, depth + 1) for name in properties}
    return st.fixed_dictionaries(
        {name: fields[name] for name in required}, optional={name: fields[name] for name in optional}
    )
