"""Researchers of a study: its rates (counts only) and its exports as jobs; another study's researcher gets 403."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.factories import assert_problem, settings_for_tests
from tests.research.conftest import MakeStudy, consent, enrol, researcher_of
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.research import export as exports


async def test_a_researcher_starts_an_export_follows_it_and_downloads_its_files(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
    tmp_path: Any,
) -> None:
    study = await make_study(study_campaign.code, export={"k": 3, "min_cell": 3, "quasi_identifiers": ["city"]})
    for _ in range(4):
        resident = await make_resident()
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)
        await resident.log()
    researcher = await researcher_of(study.code, client, pool)
    base = f"/v1/research/studies/{study.code}"

    started = await researcher.post(f"{base}/exports", json={"note": "first look"})
    queued = (await researcher.get(f"{base}/exports/{started.json()['id']}")).json()
    settings = settings_for_tests(UPSCALE_RESEARCH_EXPORT_DIR=str(tmp_path))
    ran = []  # the worker runs every queued export, oldest first (other tests queue some too)
    while (export_id := await exports.run_queued(pool, settings, lambda: datetime.now(UTC))) is not None:
        ran.append(str(export_id))
    done = (await researcher.get(f"{base}/exports/{started.json()['id']}")).json()
    files = {f["name"]: f for f in done["files"]}
    download = await researcher.get(f"{base}/exports/{done['id']}/files/participants.csv")
    listed = (await researcher.get(f"{base}/exports")).json()["items"]
    audit = await pool.fetchrow(
        "SELECT requested_by, via, parameters FROM research_exports WHERE id = $1", started.json()["id"]
    )

    assert started.status_code == 202, started.text
    assert (queued["status"], queued["files"]) == ("queued", [])
    assert started.json()["id"] in ran
    assert (done["status"], done["k_reached"], done["progress"]["participants"]) == ("done", 4, 4)
    assert {"participants.csv", "actions.parquet", "datapackage.json", "SHA256SUMS"} <= set(files)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == files["participants.csv"]["sha256"]
    assert [x["id"] for x in listed] == [done["id"]]
    assert (audit["requested_by"], audit["via"], audit["parameters"]) == (researcher.uid, "api", {"note": "first look"})
    missing = await researcher.get(f"{base}/exports/{done['id']}/files/..%2Fsecrets")
    assert missing.status_code == 404


async def test_a_researcher_of_another_study_gets_403_on_this_studys_data_and_changes_nothing(
    study_campaign: Campaign, make_study: MakeStudy, make_campaign: Any, client: AsyncTestClient[Any], pool: db.Pool
) -> None:
    study = await make_study(study_campaign.code)
    other_campaign = await make_campaign(cities=["kranj"], team=[], question=[], challenge=[])
    other = await make_study(
        other_campaign.code,
        arm=[
            {"code": "control", "control": True, "title": {"sl": "K", "en": "C"}},
            {"code": "treated", "title": {"sl": "T", "en": "T"}},
        ],
    )
    outsider = await researcher_of(other.code, client, pool)
    base = f"/v1/research/studies/{study.code}"
    export_id = "0b6d7a8e-3f61-4a8e-9a55-2f1f3c9d6e01"

    answers = [
        await outsider.get(base),
        await outsider.post(f"{base}/exports", json={}),
        await outsider.get(f"{base}/exports"),
        await outsider.get(f"{base}/exports/{export_id}"),
        await outsider.get(f"{base}/exports/{export_id}/files/participants.csv"),
    ]
    visible = (await outsider.get("/v1/research/studies")).json()["items"]

    for answer in answers:
        assert_problem(answer, 403, "forbidden")
    assert [s["code"] for s in visible] == [other.code]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM research_exports x JOIN studies s ON s.id = x.study_id WHERE s.code = $1", study.code
        )
        == 0
    )


async def test_researchers_see_rates_as_counts_with_small_cells_left_out(
    make_resident: MakeResident,
    study_campaign: Campaign,
    make_study: MakeStudy,
    client: AsyncTestClient[Any],
    pool: db.Pool,
) -> None:
    study = await make_study(study_campaign.code, export={"min_cell": 3})
    for n in range(7):
        resident = await make_resident()
        if n < 4:
            await consent(resident, "research")
        await enrol(resident, study_campaign.code)
    researcher = await researcher_of(study.code, client, pool)

    shown = (await researcher.get(f"/v1/research/studies/{study.code}")).json()

    assert (shown["enrolled"], shown["consenting"], shown["consent_rate"], shown["assigned"]) == (7, 4, 0.5714, 4)
    # Blocks of four: two and two, each below min_cell 3, so both arms are left out (their total is not).
    assert [(a["code"], a["assigned"]) for a in shown["arms"]] == [("control", None), ("treated", None)]
    assert [(w["code"], w["opened"], w["responded"]) for w in shown["waves"]] == [("baseline", 4, None)]
