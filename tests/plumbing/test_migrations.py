"""Schema migrations: in order, once, under a lock, and never silently edited."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.conftest import NewDatabase
from upscale_api import migrations


async def test_two_processes_migrating_at_once_apply_each_file_once(new_database: NewDatabase) -> None:
    url = await new_database()
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        applied = await asyncio.gather(migrations.migrate(first), migrations.migrate(second))

        assert sorted(len(a) for a in applied) == [0, len(migrations.available())]
        versions = await first.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in versions] == [m.version for m in migrations.available()]
        assert await migrations.pending(first) == []
    finally:
        await first.close()
        await second.close()


async def test_an_edited_migration_is_refused(new_database: NewDatabase) -> None:
    conn = await asyncpg.connect(await new_database())
    try:
        await migrations.migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")

        with pytest.raises(migrations.MigrationError, match="was edited after it was applied"):
            await migrations.migrate(conn)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(
    new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = migrations.Migration(9999, "broken", "CREATE TABLE half_done (x int); SELECT 1/0;")
    shipped = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*shipped, broken])
    conn = await asyncpg.connect(await new_database())
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrations.migrate(conn)

        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == shipped[-1].version
        # the lock was released: another run can proceed
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
            )
            == 0
        )
    finally:
        await conn.close()
