"""Schema migrations: versioned SQL files applied in order.

Files are named ``NNNN_description.sql`` in this package. Each is applied in its
own transaction and recorded in ``schema_migrations`` with a checksum; an
applied file that was edited afterwards stops the run. The whole run holds a
session-level advisory lock, so processes starting together apply each file
once: the second waits, then finds nothing to do.

A library was not worth it here: the well-kept ones (alembic, yoyo) bring a
second database driver or an ORM; this runner is the few lines it takes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

from upscale_api.db import AdvisoryLock, Connection


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    pass


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
            raise MigrationError(f"migration {migration.version:04d}_{migration.name} was edited after it was applied")
    return todo


async def migrate(conn: Connection) -> list[Migration]:
    """Apply every pending migration; return those applied by this call."""
    await conn.execute("SELECT pg_advisory_lock($1)", AdvisoryLock.MIGRATE)
    try:
        await conn.execute(_CREATE_TABLE)
        todo = await pending(conn)
        for migration in todo:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        return todo
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", AdvisoryLock.MIGRATE)
