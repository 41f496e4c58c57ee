"""Path and query values are checked once, for every route, before a guard or handler reads them.

Bodies are checked where they are decoded (:mod:`upscale_api.validation`); this ASGI
middleware does the same for the URL, so a route added later is covered without a line
of its own:

- a value holding U+0000 or an unpaired surrogate (PostgreSQL cannot store either) is a
  422 naming the parameter;
- a value over :data:`MAX_PARAMETER_CHARS` characters is a 422 naming it: no id, code
  or cursor comes near, and a longer one would only reach SQL to overflow an index row;
- an integer path parameter outside PostgreSQL's ``bigint`` is a 404 naming it: every
  id is a ``bigint``, so no row has it (like ``/held-entries/abc``, which matches no route).

A request without path parameters or query string (logging an action) costs two checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from upscale_api.errors import Problem
from upscale_api.validation import unstorable_reason

MAX_PARAMETER_CHARS = 500
"""Four-byte characters included, 500 stay below PostgreSQL's limit for an index entry (2,704 bytes)."""
_BIGINT = range(-(2**63), 2**63)


def input_guard(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: refuse a request whose path or query values no route could use."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            if scope.get("path_params"):
                _check_path(scope["path_params"])
            if scope.get("query_string"):
                _check_query(scope["query_string"])
        await app(scope, receive, send)

    return guarded


def _check_path(values: Mapping[str, object]) -> None:
    for name, value in values.items():
        if isinstance(value, str):
            _check_text(name, value)
        elif isinstance(value, int) and value not in _BIGINT:
            raise Problem.field(name, "no such id (ids are 64-bit integers)", status=404, kind="not-found")


@functools.lru_cache(maxsize=1024)  # clients repeat the same few queries; a refusal raises and is not kept
def _check_query(query_string: bytes) -> None:
    # Decoded as Litestar decodes it (invalid UTF-8 becomes U+FFFD, which is storable).
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        _check_text(name, value)


def _check_text(name: str, value: str) -> None:
    reason = unstorable_reason(value)
    if reason is not None:
        raise Problem.field(name, reason)
    if len(value) > MAX_PARAMETER_CHARS:
        raise Problem.field(name, f"must be at most {MAX_PARAMETER_CHARS} characters")
