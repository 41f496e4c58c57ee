"""While PostgreSQL is down the service answers 503 with Retry-After, and serves again by
itself once the database is back: no restart, no new app.

The database here is a real PostgreSQL server of this test's own (the embedded one, in a
folder of its own), really stopped and started under the running app with its ``pg_ctl``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Resident, action, assert_problem, settings_for_tests
from tests.servers import OwnServer, own_postgres
from upscale_api import db, migrations
from upscale_api.app import create_app
from upscale_api.errors import database_unavailable


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    with own_postgres() as server:
        yield server


@pytest.fixture
async def app_client(own_server: OwnServer) -> AsyncIterator[AsyncTestClient[Any]]:
    await db.ensure_database(own_server.admin_url, "upscale")
    url = db.with_database(own_server.admin_url, "upscale")
    conn = await asyncpg.connect(url)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    app = create_app(settings_for_tests(), database_url=url)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


def assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) > 0


async def test_while_the_database_is_down_the_service_says_so_and_serves_again_when_it_is_back(
    own_server: OwnServer, app_client: AsyncTestClient[Any]
) -> None:
    resident = Resident(uid=f"test-{uuid.uuid4().hex}", client=app_client)
    assert (await resident.put("/v1/me", json={"city": "kranj"})).status_code == 201
    logged_while_down = action("walk-instead-of-car", 2)

    await asyncio.to_thread(own_server.stop)

    assert_unavailable(await resident.get("/v1/me"))
    assert_unavailable(await resident.post("/v1/me/actions", json=logged_while_down))
    assert_unavailable(await resident.get("/v1/me/actions"))
    assert_unavailable(await app_client.get("/health/ready"))
    assert (await app_client.get("/health/live")).status_code == 200  # the process itself is fine

    await asyncio.to_thread(own_server.start)

    assert (await app_client.get("/health/ready")).status_code == 200
    profile = await resident.get("/v1/me")
    assert profile.status_code == 200
    assert profile.json()["city"] == "kranj"
    assert (await resident.get("/v1/me/actions")).json()["items"] == []  # nothing was stored while down
    assert (await resident.post("/v1/me/actions", json=logged_while_down)).status_code == 201


async def test_a_role_guard_that_cannot_read_roles_answers_503_not_403(
    own_server: OwnServer, app_client: AsyncTestClient[Any]
) -> None:
    staff = Resident(uid=f"coordinator-{uuid.uuid4().hex}", client=app_client)

    await asyncio.to_thread(own_server.stop)

    assert_unavailable(await staff.get("/v1/admin/campaigns"))


async def test_a_request_that_finds_no_free_connection_in_time_answers_503(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "ACQUIRE_TIMEOUT_SECONDS", 0.5)  # instead of waiting 10 s here
    settings = settings_for_tests(UPSCALE_DB_POOL_MIN="1", UPSCALE_DB_POOL_MAX="2", UPSCALE_SCORING_PARTS="1")
    async with AsyncTestClient(app=create_app(settings, database_url=database_url)) as client:
        resident = Resident(uid=f"test-{uuid.uuid4().hex}", client=client)
        assert (await resident.put("/v1/me", json={"city": "kranj"})).status_code == 201
        # The app runs on an event loop of its own: its connections are held there.
        portal, pool = client.blocking_portal, client.app.state.pool
        held, release = portal.call(anyio.Event), portal.call(anyio.Event)

        async def hold_every_connection() -> None:  # as two long reports would
            async with pool.acquire(), pool.acquire():
                held.set()
                await release.wait()

        holding = portal.start_task_soon(hold_every_connection)
        portal.call(held.wait)
        assert_unavailable(await resident.get("/v1/me"))
        portal.call(release.set)
        holding.result(timeout=30)

        assert (await resident.get("/v1/me")).status_code == 200


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        FileNotFoundError(2, "No such file or directory"),  # the server's Unix socket is gone
        TimeoutError(),  # connecting, or waiting for a free connection
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InvalidPasswordError("password authentication failed for user"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_that_mean_the_database_cannot_serve_now_are_503s(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.DataError("invalid input for query argument $1"),  # a bug: input should be checked before SQL
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("a bug"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_bugs_stay_500s_and_are_not_blamed_on_the_database(error: Exception) -> None:
    assert not database_unavailable(error)
