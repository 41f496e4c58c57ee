"""The service behind a real PgBouncer in transaction mode, configured as ``infra/pgbouncer/pgbouncer.ini``.

In transaction mode a client's consecutive transactions may run on different server
connections, and a server connection serves other clients in between. What survives:
anything that lives within one transaction (transaction-scoped advisory locks, the
scoring tick's snapshot, ``ON COMMIT DROP`` scratch tables, ``SET LOCAL``). What does
not: anything kept in the session (named prepared statements, session advisory locks,
``SET``). So every process runs with ``UPSCALE_DB_STATEMENT_CACHE=false`` and only
``upscale migrate``, which holds a session lock, connects to PostgreSQL directly.

Debian's ``pgbouncer`` must be installed (``.ci/run`` installs it); without it these tests skip.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.factories import settings_for_tests, token_for
from tests.servers import ApiServer, PgBouncer, UpscaleProcess, pgbouncer_binary, upscale, upscale_environment
from upscale_api import db

ACTIONS_PER_RESIDENT = 25
RESIDENTS = 8


def _bouncer(admin_url: str, **options: Any) -> PgBouncer:
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (.ci/run installs Debian's package: apt-get install pgbouncer)")
    return PgBouncer(admin_url, **options)


@pytest.fixture(scope="module")
def pgbouncer(admin_url: str) -> Iterator[PgBouncer]:
    """PgBouncer as shipped, in front of the test server."""
    bouncer = _bouncer(admin_url)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module")
def one_server_connection(admin_url: str) -> Iterator[PgBouncer]:
    """PgBouncer with one server connection for all its clients: what one client leaves in
    the session, the next one finds."""
    bouncer = _bouncer(admin_url, pool_size=1)
    yield bouncer
    bouncer.stop()


@pytest.fixture
async def migrated(new_database: Callable[[], Awaitable[str]]) -> str:
    """A new database, migrated by `upscale migrate` straight on PostgreSQL; its name."""
    direct = await new_database()
    await asyncio.to_thread(upscale, "migrate", environ=upscale_environment(direct))
    return urlsplit(direct).path.lstrip("/")


@pytest.fixture
async def through_pgbouncer(pgbouncer: PgBouncer, migrated: str) -> AsyncIterator[tuple[ApiServer, UpscaleProcess]]:
    """An API process and a worker (scoring every half second), both through PgBouncer."""
    environ = upscale_environment(
        pgbouncer.url(migrated), UPSCALE_DB_STATEMENT_CACHE="false", UPSCALE_SCORING_SECONDS="0.5"
    )
    api = await asyncio.to_thread(ApiServer, environ)
    worker = UpscaleProcess("worker", environ=environ, name="worker")
    yield api, worker
    api.close()
    worker.close()


def _headers(uid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(uid)}"}


def _train_ride(minutes_ago: int) -> dict[str, Any]:
    """One km by train: up to 400 a day count without review."""
    performed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * minutes_ago))
    return {"id": str(uuid.uuid4()), "action_type": "train-instead-of-car", "quantity": 1, "performed_at": performed_at}


async def test_the_api_and_the_worker_serve_through_pgbouncer_in_transaction_mode(
    through_pgbouncer: tuple[ApiServer, UpscaleProcess],
) -> None:
    api, worker = through_pgbouncer
    uids = [f"test-{uuid.uuid4().hex}" for _ in range(RESIDENTS)]
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        for uid in uids:
            assert (await http.put("/v1/me", json={"city": "kranj"}, headers=_headers(uid))).status_code == 201

        # Logged in waves while the worker scores every half second: ticks meet actions
        # committing under them, each statement on whichever server connection is free.
        logged: dict[str, list[dict[str, Any]]] = {uid: [] for uid in uids}
        for wave in range(5):
            bodies = [(uid, _train_ride(wave)) for uid in uids for _ in range(ACTIONS_PER_RESIDENT // 5)]
            answers = await asyncio.gather(
                *(http.post("/v1/me/actions", json=body, headers=_headers(uid)) for uid, body in bodies)
            )
            assert [a.status_code for a in answers] == [201] * len(bodies), answers[0].text
            for (uid, _), answer in zip(bodies, answers, strict=True):
                logged[uid].append(answer.json())
            await asyncio.sleep(0.3)
        retried = await http.post("/v1/me/actions", json=bodies[0][1], headers=_headers(bodies[0][0]))
        assert retried.status_code == 200  # recognised as the same action, stored once

        listed = await http.get("/v1/me/actions", params={"limit": 100}, headers=_headers(uids[0]))
        assert len(listed.json()["items"]) == ACTIONS_PER_RESIDENT

        # The worker scored every action exactly once: no tick skipped one, none counted one twice.
        deadline = time.monotonic() + 60
        for uid in uids:
            while True:
                impact = (await http.get("/v1/me/impact", headers=_headers(uid))).json()
                if impact["actions"] == ACTIONS_PER_RESIDENT or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert impact["actions"] == ACTIONS_PER_RESIDENT, worker.output()[-2000:]
            assert impact["co2e_kg"] == pytest.approx(sum(a["co2e_kg"] for a in logged[uid]), abs=1e-6)

    assert api.running() and worker.running()
    assert "Traceback" not in worker.output() and "Traceback" not in api.output()


async def test_transaction_scoped_advisory_locks_hold_through_pgbouncer(pgbouncer: PgBouncer, migrated: str) -> None:
    """What keeps a scheduled job to one worker replica per tick."""
    replica_a = await asyncpg.connect(pgbouncer.url(migrated), statement_cache_size=0)
    replica_b = await asyncpg.connect(pgbouncer.url(migrated), statement_cache_size=0)
    try:
        async with replica_a.transaction():
            assert await db.try_lock_for_transaction(replica_a, db.AdvisoryLock.SCORING)
            async with replica_b.transaction():
                assert not await db.try_lock_for_transaction(replica_b, db.AdvisoryLock.SCORING)
        async with replica_b.transaction():  # A's transaction ended, and its lock with it
            assert await db.try_lock_for_transaction(replica_b, db.AdvisoryLock.SCORING)
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_a_session_lock_does_not_survive_transaction_pooling(
    one_server_connection: PgBouncer, migrated: str
) -> None:
    """Why `upscale migrate` connects straight to PostgreSQL: the lock it holds across its
    transactions is the server session's, and through PgBouncer another client gets that session."""
    first = await asyncpg.connect(one_server_connection.url(migrated), statement_cache_size=0)
    second = await asyncpg.connect(one_server_connection.url(migrated), statement_cache_size=0)
    try:
        assert await first.fetchval("SELECT pg_try_advisory_lock($1)", db.AdvisoryLock.MIGRATE)
        # The second client should be refused; it runs on the same server session and gets it too.
        assert await second.fetchval("SELECT pg_try_advisory_lock($1)", db.AdvisoryLock.MIGRATE)
        await second.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await first.close()
        await second.close()


async def _query_again_while_another_client_holds_its_server_connection(url: str, cache: str) -> None:
    settings = settings_for_tests(
        UPSCALE_DB_STATEMENT_CACHE=cache, UPSCALE_DB_POOL_MIN="1", UPSCALE_DB_POOL_MAX="2", UPSCALE_SCORING_PARTS="1"
    )
    first, second = await db.create_pool(url, settings), await db.create_pool(url, settings)
    try:
        query = "SELECT count(*) FROM cities WHERE code = $1"
        assert await first.fetchval(query, "kranj") == 0  # on the one server connection there is
        async with second.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1")  # which now serves this transaction: the first gets another
            assert await first.fetchval(query, "kranj") == 0
    finally:
        await first.close()
        await second.close()


async def test_the_statement_cache_setting_is_what_lets_a_client_change_server_connections(
    admin_url: str, migrated: str
) -> None:
    bouncer = _bouncer(admin_url, pool_size=2)
    try:
        url = bouncer.url(migrated)
        await _query_again_while_another_client_holds_its_server_connection(url, cache="false")

        # With asyncpg's cache on, the statement it prepared stays behind on the first server connection.
        with pytest.raises(asyncpg.InvalidSQLStatementNameError, match="does not exist"):
            await _query_again_while_another_client_holds_its_server_connection(url, cache="true")
    finally:
        bouncer.stop()
