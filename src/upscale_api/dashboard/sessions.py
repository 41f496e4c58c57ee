"""Where dashboard sessions live: a Litestar :class:`~litestar.stores.base.Store` on PostgreSQL.

Litestar's server-side session middleware keeps each session under a random id
that only the browser's cookie holds; this store keeps the session's data under
the id's SHA-256 in ``dashboard_sessions`` (migration 0050), so every API process
sees every session and a restart signs nobody out. Expired sessions are swept
at most once a minute, on a write.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Message, ScopeSession

from upscale_api.dashboard import queries
from upscale_api.db import Pool

_SWEEP_EVERY_SECONDS = 60.0


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _seconds(value: int | timedelta | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class PostgresSessionStore(Store):
    """Sessions in PostgreSQL; usable once :meth:`bind` gave it the app's pool (at start-up)."""

    def __init__(self) -> None:
        self._pool: Pool | None = None
        self._swept_at = 0.0

    def bind(self, pool: Pool | None) -> None:
        self._pool = pool

    @property
    def pool(self) -> Pool:
        assert self._pool is not None, "the session store is used before the app started"
        return self._pool

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await self.pool.execute(queries.SESSION_SET, _hash(key), data, _seconds(expires_in))
        now = time.monotonic()
        if now - self._swept_at > _SWEEP_EVERY_SECONDS:
            self._swept_at = now
            await self.pool.execute(queries.SESSION_SWEEP)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        renew = _seconds(renew_for)
        if renew is not None:
            value: bytes | None = await self.pool.fetchval(queries.SESSION_RENEW, _hash(key), renew)
        else:
            value = await self.pool.fetchval(queries.SESSION_GET, _hash(key))
        return value

    async def delete(self, key: str) -> None:
        await self.pool.execute(queries.SESSION_DELETE, _hash(key))

    async def delete_all(self) -> None:
        await self.pool.execute(queries.SESSION_DELETE_ALL)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await self.pool.fetchrow(queries.SESSION_EXPIRES_IN, _hash(key))
        if row is None or row["forever"]:
            return None
        seconds: int = row["seconds"]
        return seconds


ROTATE = "upscale.rotate_session"
"""Set on a request's scope by signing in: its session is stored under a fresh id."""


class DashboardSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, with three changes: a request without a session leaves
    no row and sets no cookie (a visitor of the sign-in page stores nothing); a session read
    and left as it was is not written again (one database write less per page; a session then
    ends 12 hours after it was last changed, as its own expiry says anyway); and signing in
    moves the session to a fresh id (an id planted in a browser beforehand is never a
    signed-in one)."""

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
        scope[_LOADED] = self.serialize_data(data) if data else None
        return data

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
        if scope.get(ROTATE):
            fresh = scope.get(_FRESH_ID)
            if not isinstance(fresh, str):
                fresh = scope[_FRESH_ID] = self.generate_session_id()
            return fresh
        return super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        had_cookie = self.config.key in connection.cookies
        if not scope_session and not had_cookie:
            return
        rotating = bool(connection.scope.get(ROTATE))
        loaded = connection.scope.get(_LOADED)
        if had_cookie and not rotating and scope_session and self.serialize_data(scope_session) == loaded:
            return
        if connection.scope.get(ROTATE) and had_cookie:
            await self.delete(connection.cookies[self.config.key], self.config.get_store_from_app(connection.app))
        await super().store_in_message(scope_session, message, connection)


_FRESH_ID = "upscale.fresh_session_id"
_LOADED = "upscale.session_as_loaded"


class DashboardSessionConfig(ServerSideSessionConfig):
    """:class:`ServerSideSessionConfig` with :class:`DashboardSessionBackend`."""

    _backend_class = DashboardSessionBackend
