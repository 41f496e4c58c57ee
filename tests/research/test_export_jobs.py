"""Export jobs outlive the worker that ran them: a dead worker's export is taken again, a stopped one is put back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.factories import Resident, settings_for_tests
from tests.research.conftest import MakeStudy, consent, enrol, researcher_of
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.research import export as exports
from upscale_api.settings import Settings


@dataclass
class Queued:
    """An export a researcher asked for, not taken by any worker yet."""

    export_id: str
    url: str
    researcher: Resident

    async def shown(self) -> dict[str, Any]:
        response = await self.researcher.get(self.url)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
async def queued(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
) -> Queued:
    study = await make_study(study_campaign.code, export={"k": 3, "min_cell": 3, "quasi_identifiers": ["city"]})
    for _ in range(3):
        resident = await make_resident()
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)
        await resident.log()
    researcher = await researcher_of(study.code, client, pool)
    base = f"/v1/research/studies/{study.code}/exports"
    started = await researcher.post(base, json={})
    assert started.status_code == 202, started.text
    return Queued(started.json()["id"], f"{base}/{started.json()['id']}", researcher)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for_tests(UPSCALE_RESEARCH_EXPORT_DIR=str(tmp_path))


async def _left_running(pool: db.Pool, export_id: str, attempts: int, seconds_since_beat: int) -> None:
    """What a worker running the export leaves in the database: alive if it beat lately, dead if not."""
    await pool.execute(
        "UPDATE research_exports SET status = 'running', attempts = $2, "
        "heartbeat_at = now() - make_interval(secs => $3) WHERE id = $1",
        export_id,
        attempts,
        seconds_since_beat,
    )


async def _run_all(pool: db.Pool, settings: Settings) -> list[str]:
    ran = []  # other tests queue exports too; the worker takes them oldest first
    while (export_id := await exports.run_queued(pool, settings, lambda: datetime.now(UTC))) is not None:
        ran.append(str(export_id))
    return ran


async def test_an_export_whose_worker_died_is_taken_again_and_written_afresh(
    queued: Queued, pool: db.Pool, settings: Settings, tmp_path: Path
) -> None:
    await _left_running(pool, queued.export_id, attempts=1, seconds_since_beat=300)
    (tmp_path / queued.export_id).mkdir()
    (tmp_path / queued.export_id / "half-written.csv").write_text("pseudonym\nabc")

    assert queued.export_id in await _run_all(pool, settings)

    done = await queued.shown()
    assert (done["status"], done["progress"]["participants"]) == ("done", 3)
    assert not (tmp_path / queued.export_id / "half-written.csv").exists()
    assert await pool.fetchval("SELECT attempts FROM research_exports WHERE id = $1", queued.export_id) == 2


async def test_a_running_export_with_a_live_worker_is_left_to_it(
    queued: Queued, pool: db.Pool, settings: Settings
) -> None:
    await _left_running(pool, queued.export_id, attempts=1, seconds_since_beat=0)

    assert queued.export_id not in await _run_all(pool, settings)
    assert (await queued.shown())["status"] == "running"


async def test_an_export_interrupted_three_times_fails_and_says_so(
    queued: Queued, pool: db.Pool, settings: Settings
) -> None:
    await _left_running(pool, queued.export_id, attempts=3, seconds_since_beat=300)

    await _run_all(pool, settings)

    failed = await queued.shown()
    assert failed["status"] == "failed"
    assert "interrupted 3 times" in failed["failure"]


async def test_a_stopped_worker_puts_its_export_back_in_the_queue_at_once(
    queued: Queued, pool: db.Pool, settings: Settings
) -> None:
    await pool.execute(
        "UPDATE research_exports SET status = 'done' WHERE status = 'queued' AND id <> $1", queued.export_id
    )
    status = "SELECT status FROM research_exports WHERE id = $1"
    async with pool.acquire() as blocker, blocker.transaction():
        # Hold the export in the middle of its reads, so that the stop comes while it runs.
        await blocker.execute("LOCK TABLE study_campaigns IN ACCESS EXCLUSIVE MODE")
        job = asyncio.ensure_future(exports.run_queued(pool, settings, lambda: datetime.now(UTC)))
        while await pool.fetchval(status, queued.export_id) != "running":  # noqa: ASYNC110  (polling the database)
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)

        job.cancel()  # what the worker's graceful stop does to its jobs
        await asyncio.gather(job, return_exceptions=True)

    assert (await queued.shown())["status"] == "queued"
    assert queued.export_id in await _run_all(pool, settings)
    assert (await queued.shown())["status"] == "done"
