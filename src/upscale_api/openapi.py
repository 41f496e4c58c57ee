"""The OpenAPI document as served at ``/schema/openapi.json``: Litestar's, completed here.

Litestar builds the paths, parameters and success codes from the route
handlers. :func:`complete` then makes the document say what the service does:

- Every body schema is msgspec's own JSON Schema of the Struct that decodes or
  encodes it, so constraints, enums, formats, descriptions and
  ``additionalProperties: false`` (Structs that forbid unknown fields) are
  exactly what the decoder checks. Litestar's schemas lose some of that
  (constraints inside lists and maps, a ``ge=0`` bound, unknown fields).
- Every operation lists its errors as ``application/problem+json`` with the one
  ``ProblemDetails`` component, derived from what the route declares: its access
  guard (401, 403; its security: a Firebase token or a partner's API key), its
  body (400, 413, 422), its parameters (422; 404 where the
  path names a thing), and on every operation 429 and 503. Errors only one route
  raises are declared on the route with :func:`problem`. Litestar's default 400
  schema is not documented: the service never answers it.
- Each body has an example, registered next to its Struct with :func:`example`.
"""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar import Litestar, Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.response import File
from litestar.routes import HTTPRoute

from upscale_api.errors import MEDIA_TYPE, TITLES, ProblemDetails
from upscale_api.validation import FieldError

if TYPE_CHECKING:
    from upscale_api.auth import Access

T = TypeVar("T")

_REF = "#/components/schemas/{name}"
_PROBLEM_LINE = re.compile(r"^- `/problems/(?P<kind>[a-z-]+)`: (?P<when>.*)$", re.MULTILINE)
_EXAMPLES: dict[type, list[tuple[str, Any]]] = {}


def example(value: T, name: str = "example") -> T:
    """Register ``value`` (a Struct instance) as an example of its type; returns it.

    Every request and response body of that type shows it in the document.
    """
    _EXAMPLES.setdefault(type(value), []).append((name, msgspec.to_builtins(value)))
    return value


NOT_REGISTERED = ("not-registered", "you have not registered yet: `PUT /v1/me` first")


def problem(*kinds: tuple[str, str]) -> ResponseSpec:
    """A route's own problem response: each ``(slug, when)`` is a problem type it may carry.

    Use it in the route's ``responses=`` under the status, e.g.
    ``{409: problem(("conflict", "the id was logged with other content"))}``.
    """
    for kind, _ in kinds:
        assert kind in TITLES, kind
    return ResponseSpec(
        data_container=ProblemDetails,
        media_type=MEDIA_TYPE,
        generate_examples=False,
        description="\n".join(f"- `/problems/{kind}`: {when}" for kind, when in kinds),
    )


def also(status: int, data: type, description: str) -> dict[int, ResponseSpec]:
    """A second success code of a route (its ``status_code`` is the first), for ``responses=``."""
    return {status: ResponseSpec(data_container=data, description=description, generate_examples=False)}


class ContractJsonRenderPlugin(JsonRenderPlugin):
    """Serves the completed document; it is built once, on the first request."""

    def __init__(self) -> None:
        super().__init__()
        self._document: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._document is None:
            self._document = complete(request.app, openapi_schema)
        return self.render_json(request, self._document)


# --- Completing the document ----------------------------------------------------------


def complete(app: Litestar, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (Litestar's, untouched) completed as the module docstring says."""
    done: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(document))
    operations = list(_operations(app, done))
    roots: list[Any] = [ProblemDetails]
    for _, _, handler, _ in operations:
        roots += [t for t in (_body_type(handler), _return_type(handler)) if t is not None]
        roots += [spec.data_container for spec in (handler.responses or {}).values() if spec.data_container]
    schemas, components = msgspec.json.schema_components(roots, ref_template=_REF)
    schema_of = dict(zip(roots, schemas, strict=True))
    _describe_tags(components)

    seen_ids: dict[str, str] = {}
    for path, method, handler, operation in operations:
        where = f"{method.upper()} {path}"
        operation_id = operation.get("operationId", "")
        assert operation_id not in seen_ids, f"{where} and {seen_ids.get(operation_id)} share {operation_id!r}"
        seen_ids[operation_id] = where
        body = _body_type(handler)
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": _media(schema_of[body], body)},
            }
        access = _access(handler)
        if access.signed_in or access.partner:
            operation["security"] = [{"partnerKey" if access.partner else "firebase": []}]
        _complete_responses(path, handler, operation, schema_of)
    done["components"]["schemas"] = dict(sorted(components.items()))
    _check_refs(done)
    return done


def _operations(app: Litestar, document: dict[str, Any]) -> Iterator[tuple[str, str, HTTPRouteHandler, dict[str, Any]]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            path = route.path_format or "/"
            for method in sorted(handler.http_methods):
                operation = document["paths"].get(path, {}).get(method.lower())
                if operation is not None:
                    yield path, method.lower(), handler, operation


def _complete_responses(
    path: str, handler: HTTPRouteHandler, operation: dict[str, Any], schema_of: dict[Any, dict[str, Any]]
) -> None:
    litestar_responses: dict[str, Any] = operation["responses"]
    responses: dict[str, Any] = {}
    success = {str(handler.status_code): _return_type(handler)} | {
        str(status): spec.data_container for status, spec in (handler.responses or {}).items() if status < 400
    }
    for status, data in sorted(success.items()):
        documented = litestar_responses[status]
        response: dict[str, Any] = {"description": documented["description"]}
        if documented.get("headers"):
            response["headers"] = documented["headers"]
        if data is not None:
            response["content"] = {_media_type(handler): _media(schema_of[data], data)}
        elif _is_file(handler) and status == str(handler.status_code):
            response["content"] = {handler.media_type: _FILE_MEDIA}
        responses[status] = response
    declared = {
        status: dict(_PROBLEM_LINE.findall(spec.description))
        for status, spec in (handler.responses or {}).items()
        if status >= 400
    }
    for status, kinds in _derived_problems(handler, operation.get("parameters", [])).items():
        declared[status] = kinds | declared.get(status, {})
    body = _body_type(handler)
    names = [f.encode_name for f in msgspec.structs.fields(body)] if body is not None else []
    names += [p["name"] for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
    for status, kinds in sorted(declared.items()):
        responses[str(status)] = _problem_response(status, kinds, path, names[0] if names else "body")
    operation["responses"] = responses


def _derived_problems(handler: HTTPRouteHandler, parameters: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """The problems a route can answer by what it declares (its guard, body and parameters)."""
    problems: dict[int, dict[str, str]] = {}
    access = _access(handler)
    if access.signed_in:
        problems[401] = {
            "unauthenticated": "the `Authorization: Bearer` header is missing, or its Firebase ID token is "
            "malformed, expired, not yet valid or for another project (answered with `WWW-Authenticate: Bearer`)"
        }
    if access.partner:
        problems[401] = {
            "unauthenticated": "the partner API key (`Authorization: Bearer` or `X-Partner-Key`) is missing, "
            "unknown, revoked or expired (answered with `WWW-Authenticate: Bearer`)"
        }
    if access.role is not None:
        problems[403] = {"forbidden": f"signed in without the {access.role} role (or admin)"}
    path_parameters = [p["name"] for p in parameters if p["in"] == "path"]
    has_body = _body_type(handler) is not None
    if has_body:
        problems[400] = {"malformed-body": "the body is missing or not JSON (NaN and Infinity are not JSON)"}
        problems[413] = {"body-too-large": "the body is larger than the limit (`UPSCALE_MAX_BODY_BYTES`, 1 MiB)"}
    if path_parameters:
        named = ", ".join(f"`{name}`" for name in path_parameters)
        problems[404] = {"not-found": f"nothing is found by {named} (or it is not yours to see)"}
    if has_body or any(p["in"] in ("path", "query") for p in parameters):
        problems[422] = {
            "validation-error": "a field or parameter has the wrong type, format or value, or breaks a rule; "
            "`errors` names every bad one"
        }
    problems[429] = {"rate-limited": "too many requests; retry after `Retry-After` seconds"}
    problems[503] = {"unavailable": "the database is unreachable or not ready; retry later"}
    return problems


_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        },
        "RateLimit": {"description": "The remaining quota and when it resets", "schema": {"type": "string"}},
        "RateLimit-Policy": {"description": "The quota that applies", "schema": {"type": "string"}},
    },
    503: {
        "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
    },
}


def _problem_response(status: int, kinds: dict[str, str], path: str, field: str) -> dict[str, Any]:
    examples = {
        kind: {"summary": when, "value": _problem_example(status, kind, when, path, field)}
        for kind, when in kinds.items()
    }
    lines = "\n".join(f"- `/problems/{kind}`: {when}" for kind, when in kinds.items())
    response: dict[str, Any] = {
        "description": f"A problem (RFC 9457) of type\n{lines}",
        "content": {MEDIA_TYPE: {"schema": {"$ref": _REF.format(name="ProblemDetails")}, "examples": examples}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


_DETAILS = {
    "malformed-body": "body: JSON is malformed: invalid character (byte 0)",
    "unauthenticated": "Authorization: a 'Bearer <Firebase ID token>' header is required",
    "not-registered": "resident: register first with PUT /v1/me",
    "body-too-large": "body: larger than the limit",
    "rate-limited": "too many requests: retry after 30 seconds",
    "unavailable": "database: ConnectionRefusedError",
}


def _problem_example(status: int, kind: str, when: str, path: str, field: str) -> dict[str, Any]:
    errors = None
    detail = _DETAILS.get(kind, when.split(" (", maxsplit=1)[0])
    if kind == "validation-error":
        errors = [FieldError(field, "has the wrong type, format or value")]
        detail = f"1 invalid field: {field}: has the wrong type, format or value"
    body = ProblemDetails(
        type=f"/problems/{kind}",
        title=TITLES.get(kind, "Too many requests"),
        status=status,
        detail=detail,
        instance=path,
        errors=errors,
    )
    value: dict[str, Any] = msgspec.to_builtins(body)
    return value


def _media(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    found = _examples_of(data)
    if found:
        media["examples"] = {name: {"value": value} for name, value in found}
    return media


def _examples_of(data: Any) -> list[tuple[str, Any]]:
    if typing.get_origin(data) is list:
        (item,) = typing.get_args(data)
        return [(name, [value]) for name, value in _examples_of(item)]
    return _EXAMPLES.get(data, [])


def _describe_tags(components: dict[str, Any]) -> None:
    """msgspec gives a tagged union member's tag field no description: say what it is."""
    for schema in components.values():
        for field in schema.get("properties", {}).values():
            if "description" not in field and list(field) == ["enum"] and len(field["enum"]) == 1:
                field["description"] = f"Which kind this is: always `{field['enum'][0]}` here."
                field["type"] = "string"


def _check_refs(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', msgspec.json.encode(document).decode()))
    assert refs <= names, f"references to missing schemas: {sorted(refs - names)}"


# --- What a handler declares ------------------------------------------------------


def _access(handler: HTTPRouteHandler) -> Access:
    from upscale_api.auth import Access  # Structs import this module for example(); they need no Firebase

    (access,) = [g for g in handler.resolve_guards() if isinstance(g, Access)]
    return access


def _body_type(handler: HTTPRouteHandler) -> Any:
    field = handler.parsed_fn_signature.parameters.get("data")
    return None if field is None else field.annotation


def _media_type(handler: HTTPRouteHandler) -> str:
    """What the route answers with: JSON unless it says otherwise (a CSV download, JSON-LD)."""
    media = handler.media_type
    return str(media.value if isinstance(media, enum.Enum) else media) or "application/json"


def _return_type(handler: HTTPRouteHandler) -> Any:
    """The type of the route's body; a route that streams or serves stored bytes names it in
    ``opt["documented_body"]`` (the Struct it streams, or ``str`` for text)."""
    documented = handler.opt.get("documented_body")
    if documented is not None:
        return documented
    annotation = handler.parsed_fn_signature.return_type.annotation
    if typing.get_origin(annotation) is Response:
        (annotation,) = typing.get_args(annotation)
    return None if annotation in (None, type(None), File) else annotation


_FILE_MEDIA = {
    "schema": {"type": "string", "format": "binary"},
    "examples": {"example": {"value": "pseudonym,arm,city\n3f9c0d1e...,control,kranj\n"}},
}
"""A file a route streams (``litestar.response.File``): bytes, not JSON."""


def _is_file(handler: HTTPRouteHandler) -> bool:
    return handler.parsed_fn_signature.return_type.annotation is File
