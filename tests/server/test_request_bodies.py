"""The server and the OpenAPI document agree on every request body, field by field.

For each request schema the document publishes, a body is built for every property with a
value of the wrong JSON type, and one with an unknown field. Each must be refused with 400
and a message naming the field, before anything is queued. The cases come from the served
document, so a field added to one side only is caught here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_uv_kernels.request_bodies import openapi_document
from tests.conftest import make_venv

from .conftest import Api

WRONG = {"string": 42, "array": "six", "boolean": "yes", "object": [1], "integer": "1"}
#: A value of the right type for a required field, so the wrong one is the only problem.
RIGHT = {"string": "new-env", "array": ["six"], "boolean": True, "integer": 1}


def first_type(prop: dict[str, Any]) -> str | None:
    kinds = prop.get("type")
    return kinds[0] if isinstance(kinds, list) else kinds


def request_routes() -> list[tuple[str, str, str]]:
    """(method, path template, schema name) of every route that takes a JSON body."""
    out = []
    for template, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                out.append((method.upper(), template, ref.rsplit("/", 1)[1]))
    return out


def wrong_bodies(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    props = schema.get("properties", {})
    base = {name: RIGHT[first_type(props[name]) or "string"] for name in schema.get("required", [])}
    cases = [("unknown", {**base, "not_a_field": True})]
    for name, prop in props.items():
        kind = first_type(prop)
        if kind in WRONG:
            cases.append((name, {**base, name: WRONG[kind]}))
    return cases


async def test_given_each_published_request_schema_then_wrong_types_are_400_naming_the_field(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(make_venv(uv_root / "env", "six"), rescan=True)
    schemas = openapi_document()["components"]["schemas"]
    routes = request_routes()
    assert {schema for _, _, schema in routes} >= {
        "CreateRequest", "SyncRequest", "PackagesRequest", "KernelRequest"
    }  # fmt: skip
    before = (await api.get("operations", expect=200)).body["operations"]
    for method, template, schema in routes:
        parts = template.strip("/").replace("{env_id}", env["id"]).split("/")
        for field, body in wrong_bodies(schemas[schema]):
            reply = await api.call(method, *parts, body=body, expect=400)
            named = "not_a_field" if field == "unknown" else field
            assert named in reply.body["message"], (template, body, reply.body)
    # nothing was queued by any of them
    assert (await api.get("operations", expect=200)).body["operations"] == before


async def test_given_packages_as_a_bare_string_then_400_as_the_document_says(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(make_venv(uv_root / "env", "six"), rescan=True)
    reply = await api.post(
        "environments", env["id"], "packages", body={"packages": "six"}, expect=400
    )
    assert reply.body["message"] == (
        'packages in the add packages request must be a list, not "six".'
    )
