"""RFC 9457 problem details for every error the API returns.

Each problem has a stable ``type`` (``/problems/<slug>``, listed in
docs/errors.md), a ``title`` per type, a ``detail`` naming the field and the
reason, and for validation problems an ``errors`` list with every bad field.
Unexpected exceptions become a 500 problem without internals (and are logged).

When the database cannot be reached (down, restarting, refusing connections, out of
connections, or no connection free in time) the answer is a 503 ``unavailable`` with
``Retry-After``, here and only here: routes and services never catch these errors.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from upscale_api.observability.logs import current_request_id
from upscale_api.validation import FieldError, InvalidInput, MalformedInput

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

TITLES: dict[str, str] = {
    "validation-error": "The request has invalid fields",
    "malformed-body": "The request body is not valid JSON",
    "unauthenticated": "Valid credentials are required (a Firebase ID token; on partner routes, an API key)",
    "forbidden": "You may not do this",
    "not-found": "Not found",
    "not-registered": "You are not registered yet",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflicts with what is stored",
    "body-too-large": "The request body is too large",
    "rule-violation": "The request breaks a rule",
    "insufficient-points": "Not enough points",
    "out-of-stock": "None of this reward is left",
    "limit-reached": "The limit per resident is reached",
    "reward-unavailable": "This reward cannot be redeemed now",
    "no-city-card": "No city card is linked",
    "code-used": "This code was used already",
    "code-expired": "This code is no longer valid",
    "rate-limited": "Too many requests",
    "unavailable": "The service cannot answer now; retry later",
    "internal-error": "Something went wrong on our side",
    "http-error": "The request failed",
}


class ProblemDetails(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem; ``errors`` lists every bad field of a validation problem."""

    type: Annotated[str, msgspec.Meta(description="The problem's stable type, `/problems/<slug>`; see docs/errors.md")]
    title: Annotated[str, msgspec.Meta(description="A short summary of the type; the same for all its problems")]
    status: Annotated[int, msgspec.Meta(ge=400, le=599, description="The HTTP status code")]
    detail: Annotated[str, msgspec.Meta(description="What went wrong, naming the field or parameter and why")]
    instance: Annotated[str | None, msgspec.Meta(description="The path of the request")] = None
    errors: Annotated[
        list[FieldError] | None, msgspec.Meta(description="Every bad field and why (validation problems only)")
    ] = None
    request_id: Annotated[
        str | None,
        msgspec.Meta(description="The request's id, as in the X-Request-ID header (internal errors only): quote it"),
    ] = None


class Problem(Exception):
    """Raise to answer with a problem; ``kind`` is the slug of its stable type."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        assert kind in TITLES, kind
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    @classmethod
    def invalid(cls, errors: list[FieldError]) -> Problem:
        return cls(422, "validation-error", _summary(errors), errors=errors)

    @classmethod
    def field(cls, field: str, reason: str, *, status: int = 422, kind: str = "validation-error") -> Problem:
        return cls(status, kind, f"{field}: {reason}", errors=[FieldError(field, reason)])


def problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[ProblemDetails]:
    body = ProblemDetails(
        type=f"/problems/{problem.kind}",
        title=TITLES[problem.kind],
        status=problem.status,
        detail=problem.detail,
        instance=request.url.path,
        errors=problem.errors,
        request_id=current_request_id() if problem.status == HTTP_500_INTERNAL_SERVER_ERROR else None,
    )
    return Response(body, status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers)


def _summary(errors: list[FieldError]) -> str:
    shown = "; ".join(f"{e.field or 'body'}: {e.reason}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"{len(errors)} invalid field{'s' if len(errors) != 1 else ''}: {shown}{more}"


def _from_litestar_validation(exc: ValidationException) -> Problem:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict) and item.get("key") == "data":  # the body is empty
            return Problem(400, "malformed-body", "body: a JSON body is required")
        if isinstance(item, dict):
            where = str(item.get("key") or item.get("source") or "")
            errors.append(FieldError(where, str(item.get("message", "invalid"))))
    if not errors:
        errors = [FieldError("", exc.detail)]
    return Problem.invalid(errors)


RETRY_AFTER_SECONDS = 5
"""Sent as ``Retry-After`` with every 503: about how long a database restart or failover takes."""

# The database is down, restarting, refusing or out of connections, or its address or
# credentials stopped working. OSError covers refused and reset sockets, unknown hosts and
# timeouts (connecting, or waiting for a free connection: TimeoutError is an OSError).
_DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, e.g. the connection broke mid-query
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # the password was changed under us
    asyncpg.exceptions.InvalidCatalogNameError,  # the database is gone
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve now (rather than a bug or bad input)."""
    if isinstance(exc, _DATABASE_UNAVAILABLE):
        return True
    # asyncpg has no class of its own for using a connection the server closed.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


_KIND_BY_STATUS = {
    400: "malformed-body",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    503: "unavailable",
}


def problem_for(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetails]:
    """The problem+json answer to ``exc`` (unexpected ones are logged)."""
    if isinstance(exc, Problem):
        problem = exc
    elif isinstance(exc, InvalidInput):
        problem = Problem.invalid(exc.errors)
    elif isinstance(exc, MalformedInput):
        problem = Problem(400, "malformed-body", f"body: {exc}")
    elif isinstance(exc, ValidationException):
        problem = _from_litestar_validation(exc)
    elif isinstance(exc, NotAuthorizedException):
        problem = Problem(401, "unauthenticated", exc.detail, headers={"WWW-Authenticate": "Bearer"})
    elif isinstance(exc, PermissionDeniedException):
        problem = Problem(403, "forbidden", exc.detail)
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        kind = _KIND_BY_STATUS.get(exc.status_code, "http-error")
        detail = "body: larger than the limit" if exc.status_code == 413 else exc.detail
        problem = Problem(exc.status_code, kind, detail, headers=dict(exc.headers or {}))
    elif database_unavailable(exc):
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        problem = Problem(503, "unavailable", "database: cannot be reached now; retry later")
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        problem = Problem(HTTP_500_INTERNAL_SERVER_ERROR, "internal-error", "the error was logged")
    if problem.status == 503:
        problem.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return problem_response(request, problem)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: problem_for}
