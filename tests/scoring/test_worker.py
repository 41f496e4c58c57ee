"""The worker inside the API process (``upscale dev``): a newcomer sees scores move."""

from __future__ import annotations

import asyncio

from litestar.testing import AsyncTestClient

from tests.conftest import NewDatabase
from tests.factories import Resident, settings_for_tests
from upscale_api import db, migrations
from upscale_api.app import create_app


async def test_impact_moves_within_seconds_of_logging(new_database: NewDatabase) -> None:
    url = await new_database()
    pool = await db.create_pool(url, settings_for_tests())
    async with pool.acquire() as conn:
        await migrations.migrate(conn)
    await pool.close()
    app = create_app(settings_for_tests(UPSCALE_SCORING_SECONDS="0.5"), database_url=url, with_worker=True)

    async with AsyncTestClient(app=app) as client:
        resident = Resident(uid="newcomer", client=client)
        assert (await resident.put("/v1/me", json={"city": "kranj"})).status_code == 201
        logged = (await resident.log("cycle-instead-of-car", 8)).json()

        for _ in range(40):
            impact = (await resident.get("/v1/me/impact")).json()
            if impact["actions"]:
                break
            await asyncio.sleep(0.25)

    assert impact["actions"] == 1
    assert impact["co2e_kg"] == logged["co2e_kg"]
