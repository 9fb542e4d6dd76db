"""Request bodies, checked where they arrive against the schema ``openapi.json`` publishes.

One source of truth: the handler names the schema of its route (``CreateRequest``,
``PackagesRequest``, …) and the body is validated against exactly what the served document
says, so the two cannot drift apart (``packages`` must be a list; a bare string is refused,
as the document says). The first problem becomes one :class:`InvalidRequest` sentence that
names the field and what it must be. The domain still checks meaning (paths inside the
roots, PEP 508 requirements); this module checks shape.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import InvalidRequest

_DOCUMENT_URI = "urn:jupyter-uv-kernels:openapi"


@cache
def openapi_document() -> dict[str, Any]:
    """The published OpenAPI document (``openapi.json`` beside this module)."""
    text = files(__package__).joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def _validator(schema: str) -> Draft202012Validator:
    document = openapi_document()
    if schema not in document["components"]["schemas"]:
        raise KeyError(f"{schema} is not a schema of openapi.json")
    registry = Registry().with_resource(
        _DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{_DOCUMENT_URI}#/components/schemas/{schema}"}, registry=registry
    )


def check_body(schema: str, body: Any, what: str) -> dict[str, Any]:
    """``body`` if it matches ``components.schemas[schema]``, else :class:`InvalidRequest`
    naming the first problem (``what`` names the request in the message)."""
    error = best_match(_validator(schema).iter_errors(body))
    if error is not None:
        raise InvalidRequest(_explain(error, what))
    assert isinstance(body, dict)
    return body


def _explain(error: ValidationError, what: str) -> str:
    field = ".".join(str(p) for p in error.absolute_path)
    where = f"{field} in the {what} request" if field else f"the {what} request"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        given = error.instance if isinstance(error.instance, dict) else {}
        unknown = sorted(set(given) - set(allowed))
        return (
            f"Unknown field(s) {', '.join(map(repr, unknown))} in the {what} request; "
            f"allowed: {', '.join(allowed)}."
        )
    if error.validator == "required":
        return f"{error.message.split(' is a required')[0]} is required in the {what} request."
    if error.validator == "type":
        wanted = error.validator_value
        kinds = wanted if isinstance(wanted, list) else [wanted]
        names = {"array": "a list", "boolean": "true or false", "object": "an object"}
        shown = " or ".join(names.get(k, f"a {k}") for k in kinds)
        return f"{where} must be {shown}, not {_short(error.instance)}."
    return f"{where}: {error.message[:300]}."


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"
