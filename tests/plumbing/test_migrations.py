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


async def test_a_no_transaction_migration_builds_an_index_concurrently(
    new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    concurrent = migrations.Migration(
        9999,
        "index_concurrently",
        f"{migrations.NO_TRANSACTION}\n-- PostgreSQL refuses this inside a transaction.\n"
        "DROP INDEX CONCURRENTLY IF EXISTS residents_by_locale;\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS residents_by_locale ON residents (locale);\n",
    )
    shipped = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*shipped, concurrent])
    conn = await asyncpg.connect(await new_database())
    try:
        applied = await migrations.migrate(conn)

        assert applied[-1] == concurrent
        assert await conn.fetchval("SELECT to_regclass('residents_by_locale') IS NOT NULL")
        assert await migrations.pending(conn) == []
        assert await conn.fetchval("SHOW lock_timeout") == "0"  # the session's own settings are back
    finally:
        await conn.close()


async def test_a_migration_waiting_for_a_lock_gives_up_and_names_the_setting(
    new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queued behind a long transaction, an ALTER TABLE would block every request queued behind it."""
    url = await new_database()
    conn, reader = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        await migrations.migrate(conn)
        alter = migrations.Migration(9999, "alter_residents", "ALTER TABLE residents ADD COLUMN nickname text;")
        shipped = migrations.available()
        monkeypatch.setattr(migrations, "available", lambda: [*shipped, alter])
        long_read = reader.transaction()
        await long_read.start()
        await reader.fetch("SELECT * FROM residents LIMIT 1")

        with pytest.raises(migrations.MigrationError, match="9999_alter_residents") as refused:
            await migrations.migrate(conn, migrations.Timeouts(lock=0.2))
        await long_read.rollback()

        assert "UPSCALE_MIGRATION_LOCK_TIMEOUT" in str(refused.value)
        assert [m.version for m in await migrations.pending(conn)] == [9999]
        assert await migrations.migrate(conn, migrations.Timeouts(lock=0.2)) == [alter]
    finally:
        await conn.close()
        await reader.close()


async def test_status_and_dry_run_list_what_is_pending_and_change_nothing(
    new_database: NewDatabase,
) -> None:
    conn = await asyncpg.connect(await new_database())
    try:
        before = await migrations.status(conn)
        would = await migrations.migrate(conn, dry_run=True)

        assert [s.applied_at for s in before] == [None] * len(migrations.available())
        assert would == migrations.available()
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None

        await migrations.migrate(conn)
        assert all(s.applied_at is not None for s in await migrations.status(conn))
        assert await migrations.migrate(conn, dry_run=True) == []
    finally:
        await conn.close()
