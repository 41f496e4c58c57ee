"""Export jobs outlive the worker that ran them: a dead worker's export is taken again, a stopped one is put back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.factories import settings_for_tests
from tests.research.conftest import MakeStudy, consent, enrol, researcher_of
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.research import export as exports
from upscale_api.settings import Settings


async def _queued_export(
    make_resident: MakeResident, campaign: Campaign, make_study: MakeStudy, client: AsyncTestClient[Any], pool: db.Pool
) -> tuple[str, str, Any]:
    study = await make_study(campaign.code, export={"k": 3, "min_cell": 3, "quasi_identifiers": ["city"]})
    for _ in range(3):
        resident = await make_resident()
        await consent(resident, "research")
        await enrol(resident, campaign.code)
        await resident.log()
    researcher = await researcher_of(study.code, client, pool)
    base = f"/v1/research/studies/{study.code}/exports"
    started = await researcher.post(base, json={})
    assert started.status_code == 202, started.text
    return started.json()["id"], base, researcher


async def _run_all(pool: db.Pool, settings: Settings) -> list[str]:
    ran = []  # other tests queue exports too; the worker takes them oldest first
    while (export_id := await exports.run_queued(pool, settings, lambda: datetime.now(UTC))) is not None:
        ran.append(str(export_id))
    return ran


async def test_an_export_whose_worker_died_is_taken_again_and_written_afresh(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
    tmp_path: Path,
) -> None:
    export_id, base, researcher = await _queued_export(make_resident, study_campaign, make_study, client, pool)
    settings = settings_for_tests(UPSCALE_RESEARCH_EXPORT_DIR=str(tmp_path))
    # What a worker killed in the middle leaves: the row running, its beat stopped, a partial file.
    await pool.execute(
        "UPDATE research_exports SET status = 'running', attempts = 1, heartbeat_at = now() - interval '5 minutes' "
        "WHERE id = $1",
        export_id,
    )
    (tmp_path / export_id).mkdir()
    (tmp_path / export_id / "half-written.csv").write_text("pseudonym\nabc")

    assert export_id in await _run_all(pool, settings)

    done = (await researcher.get(f"{base}/{export_id}")).json()
    assert (done["status"], done["progress"]["participants"]) == ("done", 3)
    assert not (tmp_path / export_id / "half-written.csv").exists()
    assert await pool.fetchval("SELECT attempts FROM research_exports WHERE id = $1", export_id) == 2


async def test_a_running_export_with_a_live_worker_is_left_to_it(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
    tmp_path: Path,
) -> None:
    export_id, base, researcher = await _queued_export(make_resident, study_campaign, make_study, client, pool)
    await pool.execute(
        "UPDATE research_exports SET status = 'running', attempts = 1, heartbeat_at = now() WHERE id = $1", export_id
    )

    assert export_id not in await _run_all(pool, settings_for_tests(UPSCALE_RESEARCH_EXPORT_DIR=str(tmp_path)))
    assert (await researcher.get(f"{base}/{export_id}")).json()["status"] == "running"


async def test_an_export_interrupted_three_times_fails_and_says_so(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
    tmp_path: Path,
) -> None:
    export_id, base, researcher = await _queued_export(make_resident, study_campaign, make_study, client, pool)
    await pool.execute(
        "UPDATE research_exports SET status = 'running', attempts = 3, heartbeat_at = now() - interval '5 minutes' "
        "WHERE id = $1",
        export_id,
    )

    await _run_all(pool, settings_for_tests(UPSCALE_RESEARCH_EXPORT_DIR=str(tmp_path)))

    failed = (await researcher.get(f"{base}/{export_id}")).json()
    assert failed["status"] == "failed"
    assert "interrupted 3 times" in failed["failure"]


async def test_a_stopped_worker_puts_its_export_back_in_the_queue_at_once(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
    tmp_path: Path,
) -> None:
    export_id, base, researcher = await _queued_export(make_resident, study_campaign, make_study, client, pool)
    await pool.execute("UPDATE research_exports SET status = 'done' WHERE status = 'queued' AND id <> $1", export_id)
    settings = settings_for_tests(UPSCALE_RESEARCH_EXPORT_DIR=str(tmp_path))
    status = "SELECT status FROM research_exports WHERE id = $1"
    async with pool.acquire() as blocker, blocker.transaction():
        # Hold the export in the middle of its reads, so that the stop comes while it runs.
        await blocker.execute("LOCK TABLE study_campaigns IN ACCESS EXCLUSIVE MODE")
        job = asyncio.ensure_future(exports.run_queued(pool, settings, lambda: datetime.now(UTC)))
        while await pool.fetchval(status, export_id) != "running":  # noqa: ASYNC110  (polls the database)
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)

        job.cancel()  # what the worker's graceful stop does to its jobs
        await asyncio.gather(job, return_exceptions=True)

    assert (await researcher.get(f"{base}/{export_id}")).json()["status"] == "queued"
    assert export_id in await _run_all(pool, settings)
    assert (await researcher.get(f"{base}/{export_id}")).json()["status"] == "done"
