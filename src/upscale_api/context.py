"""What a route handler gets: the app's shared resources and the verified caller.

One dependency per handler on purpose: Litestar resolves several dependencies of
a handler concurrently in an anyio task group, which costs more than the
handler's own work on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from upscale_api.auth import Identity, PartnerCaller
from upscale_api.catalogue.service import Catalogue
from upscale_api.db import Pool
from upscale_api.roles.structs import Grant
from upscale_api.settings import Settings


@dataclass(frozen=True)
class Context:
    pool: Pool
    catalogue: Catalogue
    settings: Settings
    identity: Identity | None
    """Set on signed-in routes (their guard verified the token); None on public ones."""
    grants: list[Grant]
    """The caller's roles, read by role guards (empty elsewhere)."""
    partner: PartnerCaller | None = None
    """Set on partner routes (their guard verified the API key)."""

    @property
    def uid(self) -> str:
        """The caller's Firebase uid; only on signed-in routes."""
        assert self.identity is not None, "uid read on a route without a signed-in guard"
        return self.identity.uid


def provide_context(request: Request[Any, Any, Any]) -> Context:
    state = request.app.state
    return Context(
        pool=state.pool,
        catalogue=state.catalogue,
        settings=state.settings,
        identity=request.state.get("identity"),
        grants=request.state.get("grants", []),
        partner=request.state.get("partner"),
    )
