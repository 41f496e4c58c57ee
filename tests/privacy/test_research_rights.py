"""A study participant's rights: the export holds their consents and answers; erasure withdraws them everywhere."""

from __future__ import annotations

import csv
from pathlib import Path

import msgspec

from tests.conftest import MakeCampaign, MakeResident
from tests.factories import settings_for_tests
from tests.research.conftest import CHALLENGES, NUDGES, MakeStudy, consent, enrol
from tests.research.test_export import run_export
from upscale_api import db
from upscale_api.privacy.structs import ResidentExport
from upscale_api.research import service as research

ANSWERS = {"car_days_per_week": 3, "barriers": ["weather"]}


async def test_the_export_holds_every_consent_decision_demographics_and_survey_answer(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy
) -> None:
    campaign = await make_campaign(cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES)
    study = await make_study(campaign.code)
    person = await make_resident()
    await consent(person, "research", "demographics")
    await consent(person, "demographics", granted=False)
    await consent(person, "demographics")
    assert (await person.put("/v1/me/demographics", json={"birth_year": 1984, "gender": "woman"})).status_code == 200
    await enrol(person, campaign.code)
    answered = await person.put(f"/v1/me/surveys/{study.code}/baseline", json={"answers": ANSWERS})
    assert answered.status_code == 201, answered.text

    response = await person.get("/v1/me/export")
    exported = msgspec.json.decode(response.content, type=ResidentExport, strict=True)

    decisions = [(c.purpose, c.granted) for c in exported.consents if c.purpose != "service"]
    assert decisions == [("research", True), ("demographics", True), ("demographics", False), ("demographics", True)]
    assert exported.demographics is not None
    assert (exported.demographics.birth_year, exported.demographics.gender) == (1984, "woman")
    assert [(a.study, a.wave, a.instrument, a.answers) for a in exported.survey_answers] == [
        (study.code, "baseline", "travel-habits", ANSWERS)
    ]


async def test_deleting_the_account_lists_its_pseudonym_in_every_study_and_the_next_export(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, tmp_path: Path
) -> None:
    campaigns = [
        await make_campaign(cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES) for _ in "12"
    ]
    studies = [await make_study(c.code) for c in campaigns]
    person = await make_resident()
    await consent(person, "research")
    for campaign in campaigns:
        await enrol(person, campaign.code)
    resident_id = await pool.fetchval("SELECT id FROM residents WHERE firebase_uid = $1", person.uid)
    key = settings_for_tests().research_key()

    assert (await person.delete("/v1/me")).status_code == 204

    for study in studies:
        result = await run_export(pool, study, tmp_path / study.code)
        with (tmp_path / study.code / "withdrawals.csv").open() as listed:
            withdrawals = [(row["pseudonym"], row["reason"]) for row in csv.DictReader(listed)]
        assert withdrawals == [(research.pseudonym(key, study.code, resident_id), "account-deleted")], result
        assert result.rows["participants"] == 0
