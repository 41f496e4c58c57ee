"""PostgreSQL plumbing: the embedded server, the connection pool, advisory lock keys.

PostgreSQL is the one system of record. Without ``DATABASE_URL`` the service
runs a real PostgreSQL from the ``pgserver`` package in a data folder of its own
(kept across restarts, listening on a Unix socket only).
"""

from __future__ import annotations

import enum
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

from upscale_api.observability.metrics import DB_POOL_IN_USE, DB_POOL_WAITING
from upscale_api.settings import Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    from asyncpg.pool import PoolAcquireContext, PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:  # asyncpg's classes are generic only in its type stubs
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection
Record = asyncpg.Record

DEFAULT_DATABASE = "upscale"

CONNECT_TIMEOUT_SECONDS = 5.0
"""How long opening a connection may take: an unreachable server fails a request after this."""
ACQUIRE_TIMEOUT_SECONDS = 10.0
"""How long a request waits for a free connection (``pool.acquire()`` without a timeout)."""


class AdvisoryLock(enum.IntEnum):
    """Keys of the PostgreSQL advisory locks the service takes; one place so they never clash."""

    MIGRATE = 7_401_001
    LOAD_DEFINITIONS = 7_401_002
    SEED_DEMO = 7_401_003
    NUDGES = 7_401_004
    STALE_DELIVERIES = 7_401_005
    WEEKLY_SUMMARIES = 7_401_006
    CAMPAIGN_EVENTS = 7_401_007
    SCORING = 7_401_008
    STANDINGS = 7_401_009
    CAMPAIGN_RESULTS = 7_401_010
    SCORING_HISTORY = 7_401_011
    GOAL_ANNOUNCEMENTS = 7_401_012
    CAMPAIGN_CODE = 7_401_013
    SURVEY_NOTICES = 7_401_030
    RETENTION = 7_401_040
    OPEN_DATA = 7_401_041


async def lock_for_transaction(conn: Connection, key: AdvisoryLock) -> None:
    """Wait for the advisory lock ``key``; it is released when the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)


async def try_lock_for_transaction(conn: Connection, key: AdvisoryLock) -> bool:
    """Take the advisory lock ``key`` for the caller's transaction unless another holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", key))


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir/pgdata``; return its admin URL.

    The server outlives this process only while another process still holds it
    (pgserver counts its users); data stays in the folder.
    """
    with warnings.catch_warnings():  # pgserver falls back to /tmp when XDG_RUNTIME_DIR is unset; fine here
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from pgserver.postgres_server import get_server  # imported late: production never needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    return str(server.get_uri("postgres"))


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server unless it exists."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            # CREATE DATABASE takes no parameters; the name is quoted as an identifier.
            await conn.execute(f'CREATE DATABASE "{_identifier(database)}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_identifier(database)}" WITH (FORCE)')
    finally:
        await conn.close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    return name


async def resolve_database_url(settings: Settings) -> str:
    """The URL the service connects to: ``DATABASE_URL``, or the embedded server's database."""
    if settings.database_url:
        return settings.database_url
    admin_url = start_embedded_server(settings.data_dir)
    await ensure_database(admin_url, DEFAULT_DATABASE)
    return with_database(admin_url, DEFAULT_DATABASE)


async def _init_connection(conn: Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(json_type, schema="pg_catalog", encoder=_json_encode, decoder=msgspec.json.decode)


def _json_encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def _keep_session(conn: Connection) -> None:
    """Skip asyncpg's reset query on release: no session state (LISTEN, SET, session
    advisory locks) outlives its use here, and an open transaction is still rolled
    back by asyncpg. Saves a round trip per request."""


class _BoundedPool(Pool):
    """A pool whose ``acquire()`` waits at most :data:`ACQUIRE_TIMEOUT_SECONDS` unless told
    otherwise, so no request queues forever behind an unreachable database. Its own
    ``fetch``, ``execute`` ... acquire through this method too."""

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext[Record]:
        return super().acquire(timeout=ACQUIRE_TIMEOUT_SECONDS if timeout is None else timeout)

    # Counted for /metrics where asyncpg takes and gives back every connection: _acquire is what
    # both `async with pool.acquire()` and `await pool.acquire()` wait in (asyncpg has no public hook).
    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109  (asyncpg's signature)
        with DB_POOL_WAITING.track_inprogress():
            connection = await super()._acquire(timeout)  # type: ignore[misc]
        DB_POOL_IN_USE.inc()
        return connection

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        DB_POOL_IN_USE.dec()
        await super().release(connection, timeout=timeout)


async def create_pool(url: str, settings: Settings) -> Pool:
    """Open the connection pool; jsonb values map to Python objects through msgspec.

    Opening a connection and waiting for one are bounded (:data:`CONNECT_TIMEOUT_SECONDS`,
    :data:`ACQUIRE_TIMEOUT_SECONDS`): while the database is down, requests fail fast (and
    ``errors.py`` answers 503), and a connection that died with the server is replaced on
    its next use, so the service serves again by itself once the database is back."""
    pool: Pool = await _BoundedPool(
        url,
        reset=_keep_session,
        min_size=settings.upscale_db_pool_min,
        max_size=settings.upscale_db_pool_max,
        statement_cache_size=100 if settings.upscale_db_statement_cache else 0,
        init=_init_connection,
        timeout=CONNECT_TIMEOUT_SECONDS,
        server_settings={"application_name": "upscale-api", "timezone": "UTC"},
        # What asyncpg.create_pool passes (it only constructs the class); here for the subclass.
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        loop=None,
    )
    return pool


@asynccontextmanager
async def open_pool(settings: Settings) -> AsyncIterator[Pool]:
    """A pool on the database ``settings`` lead to (the embedded one without ``DATABASE_URL``), closed after."""
    pool = await create_pool(await resolve_database_url(settings), settings)
    try:
        yield pool
    finally:
        await pool.close()


def rows_affected(status: str) -> int:
    """The row count of a command status such as ``INSERT 0 3`` or ``UPDATE 2``."""
    return int(status.rsplit(" ", 1)[-1])
