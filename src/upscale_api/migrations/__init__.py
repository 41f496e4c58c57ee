"""Schema migrations: versioned SQL files applied in order.

Files are named ``NNNN_description.sql`` in this package. Each is applied in its
own transaction and recorded in ``schema_migrations`` with a checksum; an
applied file that was edited afterwards stops the run. The whole run holds a
session-level advisory lock, so processes starting together apply each file
once: the second waits, then finds nothing to do.

A file whose first line is ``-- upscale: no-transaction`` runs outside a
transaction, one statement at a time (statements end with ``;`` at the end of
a line; no function bodies), for what PostgreSQL refuses inside one, such as
``CREATE INDEX CONCURRENTLY``. If it fails halfway, what ran stays and the file
is not recorded: such files must be safe to run again (``IF NOT EXISTS``).

Every statement runs with ``lock_timeout`` and ``statement_timeout`` set
(:class:`Timeouts`): a migration that would queue behind a long transaction
gives up instead of blocking every request queued behind its own lock.

A library was not worth it here: the well-kept ones (alembic, yoyo) bring a
second database driver or an ORM; this runner is the few lines it takes.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import asyncpg

from upscale_api.db import AdvisoryLock, Connection

NO_TRANSACTION = "-- upscale: no-transaction"
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"

    @property
    def in_transaction(self) -> bool:
        """False when the file's first line is ``-- upscale: no-transaction``."""
        return not self.sql.startswith(NO_TRANSACTION)

    def statements(self) -> list[str]:
        """A no-transaction file's statements, each run on its own."""
        if "$$" in self.sql:
            raise MigrationError(f"migration {self.label}: a no-transaction file cannot hold function bodies")
        parts = (part.strip() for part in _STATEMENT_END.split(self.sql.removeprefix(NO_TRANSACTION)))
        return [part for part in parts if part and not _only_comments(part)]


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


@dataclass(frozen=True)
class Timeouts:
    """Limits for every migration statement, in seconds (0: none)."""

    lock: float = 5.0
    """How long a statement may wait for a lock (e.g. behind a long transaction)."""
    statement: float = 1800.0
    """How long one statement may run."""


@dataclass(frozen=True)
class Status:
    """One shipped migration and when it was applied (None: pending)."""

    migration: Migration
    applied_at: datetime | None


class MigrationError(Exception):
    """A migration cannot run; the message names it and says why."""


@functools.cache
def _shipped() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise MigrationError("two migration files share a version number")
    return tuple(found)


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    return list(_shipped())


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def applied(conn: Connection) -> dict[int, str]:
    """Applied versions and their checksums; empty when nothing was applied yet."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


async def pending(conn: Connection) -> list[Migration]:
    """Migrations not applied yet; raises when an applied one no longer matches its file."""
    done = await applied(conn)
    todo = []
    for migration in available():
        checksum = done.get(migration.version)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            raise MigrationError(f"migration {migration.label} was edited after it was applied")
    return todo


async def status(conn: Connection) -> list[Status]:
    """Every shipped migration with the time it was applied, in version order."""
    applied_at: dict[int, datetime] = {}
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        rows = await conn.fetch("SELECT version, applied_at FROM schema_migrations")
        applied_at = {row["version"]: row["applied_at"] for row in rows}
    return [Status(m, applied_at.get(m.version)) for m in available()]


async def migrate(conn: Connection, timeouts: Timeouts = Timeouts(), *, dry_run: bool = False) -> list[Migration]:
    """Apply every pending migration; return those applied by this call.

    With ``dry_run`` nothing is applied: the pending migrations are returned
    (after the same checks of the applied ones).
    """
    await conn.execute("SELECT pg_advisory_lock($1)", AdvisoryLock.MIGRATE)
    try:
        if dry_run:
            return await pending(conn)
        await conn.execute(_CREATE_TABLE)
        todo = await pending(conn)
        for migration in todo:
            await _apply(conn, migration, timeouts)
        return todo
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", AdvisoryLock.MIGRATE)


async def _apply(conn: Connection, migration: Migration, timeouts: Timeouts) -> None:
    try:
        if migration.in_transaction:
            async with conn.transaction():
                await _set_timeouts(conn, timeouts, local=True)
                await conn.execute(migration.sql)
                await _record(conn, migration)
            return
        await _set_timeouts(conn, timeouts, local=False)
        try:
            for statement in migration.statements():
                await conn.execute(statement)
            await _record(conn, migration)
        finally:
            await conn.execute("RESET lock_timeout; RESET statement_timeout")
    except asyncpg.LockNotAvailableError:
        raise MigrationError(
            f"migration {migration.label} waited more than {timeouts.lock:g} s for a lock held by other work; "
            "nothing of it was applied: run it again when that work is done (UPSCALE_MIGRATION_LOCK_TIMEOUT)"
        ) from None
    except asyncpg.QueryCanceledError:
        raise MigrationError(
            f"migration {migration.label} ran longer than {timeouts.statement:g} s and was cancelled "
            "(UPSCALE_MIGRATION_STATEMENT_TIMEOUT)"
        ) from None


async def _set_timeouts(conn: Connection, timeouts: Timeouts, *, local: bool) -> None:
    await conn.execute(
        "SELECT set_config('lock_timeout', $1, $3), set_config('statement_timeout', $2, $3)",
        f"{int(timeouts.lock * 1000)}ms",
        f"{int(timeouts.statement * 1000)}ms",
        local,
    )


async def _record(conn: Connection, migration: Migration) -> None:
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        migration.checksum,
    )
