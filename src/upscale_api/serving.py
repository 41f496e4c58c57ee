"""What every request gets around its route, and how the server stops.

:class:`ServingMiddleware` is the outermost middleware (``core.py``). For every
request that matches a route it

- takes the request id from ``X-Request-ID`` when usable (1 to 64 of
  ``A-Z a-z 0-9 . _ : -``) or makes one, binds it to the log context (so the
  service's and SQL errors' log lines carry it), puts it on the trace span (which
  it names by method and route template, like the metrics), and
  returns it in the answer's ``X-Request-ID``; a 500 problem carries it too;
- answers ``503 unavailable`` with ``Retry-After`` and ``Connection: close``
  while the process shuts down (only ``/health/live`` still answers);
- counts the answer by method, route template and status, times it, and logs one
  ``request`` line (method, route template, status, milliseconds: no path values,
  no query, no header, no body).

Errors raised by the middleware inside it (rate limits, the input guard) are
answered here, so they are counted and carry the id like any other answer.

:func:`drain_on_sigterm` (entered by the lifespan in ``core.py``) adds a drain
to the server's stop: on SIGTERM the process first answers 503 to new requests
for ``UPSCALE_SHUTDOWN_DRAIN_SECONDS`` (the load balancer sees readiness fail and
stops sending), then stops as uvicorn does: no new connections, requests in
flight finish (up to ``UPSCALE_SHUTDOWN_TIMEOUT_SECONDS``), then the lifespan
ends. SIGINT (Ctrl-C) and a second SIGTERM skip the drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import structlog
from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace

from upscale_api.errors import Problem, problem_for
from upscale_api.observability.logs import REQUEST_ID_HEADER, request_id_from
from upscale_api.observability.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

log = logging.getLogger(__name__)

ALWAYS_ANSWERED = "/health/live"
"""The one route that answers while the process shuts down: it is alive until it exits."""
DRAIN_RETRY_AFTER_SECONDS = 1


class Draining:
    """Whether this process is shutting down; set on SIGTERM (:func:`drain_on_sigterm`)."""

    def __init__(self) -> None:
        self.since: float | None = None

    @property
    def active(self) -> bool:
        return self.since is not None

    def begin(self) -> None:
        if self.since is None:
            self.since = time.monotonic()

    def seconds(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since


DRAINING = Draining()
"""One per process: one server per process answers its requests."""


def _handler_for(scope: Scope, exc: Exception) -> Callable[[Request[Any, Any, Any], Exception], Response[Any]]:
    """The route's own handler for ``exc`` (the dashboard answers with pages), else a problem+json."""
    handlers = scope["route_handler"].resolve_exception_handlers() if "route_handler" in scope else {}
    for kind in type(exc).__mro__:
        if kind in handlers:
            handler: Callable[[Request[Any, Any, Any], Exception], Response[Any]] = handlers[kind]
            return handler
    return problem_for


class ServingMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive, send)
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method, route = request.method, scope["path_template"]
        span = trace.get_current_span()
        if span.is_recording():  # named by the route template: path values identify residents' data
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.route": route, "upscale.request_id": request_id})
        answer = {"status": 500, "started": False}
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["started"] = message["status"], True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            if DRAINING.active and route != ALWAYS_ANSWERED:
                raise Problem(
                    503,
                    "unavailable",
                    "the service is shutting down: retry, another instance answers",
                    headers={"Retry-After": str(DRAIN_RETRY_AFTER_SECONDS), "Connection": "close"},
                )
            await next_app(scope, receive, send_observed)
        except Exception as exc:
            if answer["started"]:
                raise
            response = _handler_for(scope, exc)(request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            HTTP_REQUESTS.labels(method, route, str(answer["status"])).inc()
            HTTP_REQUEST_SECONDS.labels(method, route).observe(seconds)
            log.info(
                "request",
                extra={"method": method, "route": route, "status": answer["status"], "ms": round(seconds * 1e3, 1)},
            )


@contextmanager
def drain_on_sigterm(seconds: float) -> Iterator[None]:
    """While inside: a SIGTERM first starts the drain (503 for ``seconds``), then reaches the server's
    own handler, which stops the server as usual. Meant for the lifespan: uvicorn has installed its
    handler by then. Nothing changes outside the main thread, with no drain, or when no handler
    of the server's is installed (the test client)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler):
        yield
        return
    loop = asyncio.get_running_loop()

    def stop_after_drain(sig: int, frame: FrameType | None) -> None:
        if DRAINING.active:  # a second SIGTERM: stop now
            server_handler(sig, frame)
            return
        DRAINING.begin()
        loop.call_soon_threadsafe(_drain_then_stop, loop, seconds, server_handler, sig)

    signal.signal(signal.SIGTERM, stop_after_drain)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is stop_after_drain:
            signal.signal(signal.SIGTERM, server_handler)


def _drain_then_stop(loop: asyncio.AbstractEventLoop, seconds: float, server_handler: Any, sig: int) -> None:
    log.info("SIGTERM: answering 503 for %s s, then stopping", seconds)
    loop.call_later(seconds, server_handler, sig, None)
