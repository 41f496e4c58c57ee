"""Shared fixtures: a fresh real PostgreSQL database per test session, the app
served through Litestar's async test client, and factories for residents.

Without ``DATABASE_URL`` the database lives on the embedded PostgreSQL
(``.upscale/pgdata``); with it, on that server. Either way it is created for
the session and dropped afterwards. Tests stay isolated by creating their own
residents (a fresh Firebase uid each) instead of sharing rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import (
    EMULATOR_HOST,
    ROOT,
    TIME_ZONES,
    TODAY,
    Resident,
    campaign_definition,
    coordinator_of,
    settings_for_tests,
)
from upscale_api import db, migrations
from upscale_api.app import create_app
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.campaigns.structs import Campaign
from upscale_api.scoring import service as scoring

# firebase-admin reads the emulator switch from the process environment itself.
os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = EMULATOR_HOST

NewDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
def admin_url() -> str:
    """A URL with rights to create databases on the test server."""
    return os.environ.get("DATABASE_URL") or db.start_embedded_server(ROOT / ".upscale")


@pytest.fixture(scope="session")
async def new_database(admin_url: str) -> AsyncIterator[NewDatabase]:
    """Factory: an empty database of its own, dropped at the end of the session."""
    created: list[str] = []

    async def make() -> str:
        name = f"upscale_test_{uuid.uuid4().hex[:12]}"
        await db.ensure_database(admin_url, name)
        created.append(name)
        return db.with_database(admin_url, name)

    yield make
    for name in created:
        await db.drop_database(admin_url, name)


@pytest.fixture(scope="session")
async def database_url(new_database: NewDatabase) -> str:
    """The session's database, migrated."""
    url = await new_database()
    pool = await db.create_pool(url, settings_for_tests())
    async with pool.acquire() as conn:
        await migrations.migrate(conn)
    await pool.close()
    return url


@pytest.fixture
async def fresh_pool(new_database: NewDatabase) -> AsyncIterator[db.Pool]:
    """A migrated database of its own with nothing in it, for tests that change definitions."""
    fresh = await db.create_pool(await new_database(), settings_for_tests())
    async with fresh.acquire() as conn:
        await migrations.migrate(conn)
    yield fresh
    await fresh.close()


@pytest.fixture(scope="session")
async def client(database_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app with its lifespan run (definitions applied), over HTTP through Litestar."""
    app = create_app(settings_for_tests(), database_url=database_url)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def pool(database_url: str, client: AsyncTestClient[Any]) -> AsyncIterator[db.Pool]:
    """A pool of the tests' own (the app runs on another event loop), for checking what is stored."""
    test_pool = await db.create_pool(database_url, settings_for_tests())
    yield test_pool
    await test_pool.close()


@pytest.fixture
def unregistered(client: AsyncTestClient[Any]) -> Resident:
    """A signed-in user who has not registered yet."""
    return Resident(uid=f"test-{uuid.uuid4().hex}", client=client)


MakeResident = Callable[..., Awaitable[Resident]]


@pytest.fixture
def make_resident(client: AsyncTestClient[Any]) -> MakeResident:
    """Factory: a registered resident (Kranj unless told otherwise)."""

    async def make(city: str = "kranj", **profile: Any) -> Resident:
        resident = Resident(uid=f"test-{uuid.uuid4().hex}", client=client)
        response = await resident.put("/v1/me", json={"city": city} | profile)
        assert response.status_code == 201, response.text
        return resident

    return make


@pytest.fixture
async def resident(make_resident: MakeResident) -> Resident:
    return await make_resident()


Score = Callable[[], Awaitable[None]]


@pytest.fixture
def score(pool: db.Pool) -> Score:
    """Run the worker's scoring jobs once, as the worker does every few seconds:
    the incremental tick, the standings of campaigns whose scores changed, and
    the announcement of the collective goals they found reached."""

    async def run() -> None:
        now = datetime.now(UTC)
        assert await scoring.tick(pool, now) is not None
        await scoring.compute_standings(pool, now)
        await scoring.announce_goals(pool, now)

    return run


MakeCampaign = Callable[..., Awaitable[Campaign]]


@pytest.fixture
def make_campaign(pool: db.Pool) -> MakeCampaign:
    """Factory: a campaign stored as if applied from a file (see ``campaign_definition``)."""

    async def make(**overrides: Any) -> Campaign:
        campaign = campaign_definition(**overrides)
        async with pool.acquire() as conn, conn.transaction():
            _, problems = await apply_campaigns(conn, [campaign], TIME_ZONES, "file", TODAY)
        assert problems == []
        return campaign

    return make


@pytest.fixture
async def coordinator(client: AsyncTestClient[Any], pool: db.Pool) -> Resident:
    """A coordinator of Kranj."""
    return await coordinator_of("kranj", client, pool)


@pytest.fixture
async def other_coordinator(client: AsyncTestClient[Any], pool: db.Pool) -> Resident:
    """A coordinator of Ljubljana."""
    return await coordinator_of("ljubljana", client, pool)
