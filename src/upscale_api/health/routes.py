"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from upscale_api import migrations
from upscale_api.auth import PUBLIC
from upscale_api.context import Context
from upscale_api.errors import Problem


class Health(msgspec.Struct):
    """The answer of a health check."""

    status: Annotated[Literal["ok", "ready"], msgspec.Meta(description="`ok` (live) or `ready`")]


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    guards = [PUBLIC]
    opt = {"rate_limit": "off"}  # probes must not depend on the limits' store
    include_in_schema = True

    @get("/live", operation_id="checkLive", summary="The process answers", response_description="The process is up")
    async def live(self) -> Health:
        return Health("ok")

    @get(
        "/ready",
        operation_id="checkReady",
        summary="The database answers and its schema is current",
        response_description="Ready to serve",
    )
    async def ready(self, ctx: NamedDependency[Context]) -> Health:
        try:
            async with ctx.pool.acquire(timeout=2) as conn:
                todo = await migrations.pending(conn)
        except Exception as exc:  # any failure to reach the database means not ready
            raise Problem(503, "unavailable", f"database: {type(exc).__name__}") from None
        if todo:
            raise Problem(503, "unavailable", f"database: {len(todo)} migration(s) not applied")
        return Health("ready")
