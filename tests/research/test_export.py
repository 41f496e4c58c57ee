"""The anonymised export: k-anonymous on its quasi-identifiers, re-identification fails, fails closed."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from frictionless import validate
from pycanon import anonymity

from tests.conftest import MakeResident
from tests.factories import Resident, settings_for_tests
from tests.research.conftest import CHALLENGES, NUDGES, MakeStudy, consent, enrol
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.research import export as exports
from upscale_api.research import service as research
from upscale_api.research.structs import Study

DISTRICTS = ["center"] * 4 + ["planina"] * 3 + ["primskovo"]
QUASI_IDENTIFIERS = ["city", "district", "age_band", "gender"]


async def run_export(pool: db.Pool, study: Study, out: Path) -> exports.ExportResult:
    """What ``upscale research export --study CODE --out DIR`` does."""
    study_id = await research.study_id(pool, study.code)
    assert study_id is not None
    async with pool.acquire() as conn:
        export_id = await research.create_export(conn, study_id, "test", "cli", {})
    settings = settings_for_tests()
    result = await exports.run_export(pool, settings, export_id, out, now=datetime.now(UTC))
    await exports.finish(pool, result, settings.upscale_research_key_epoch)
    return result


@pytest.fixture
async def study(study_campaign: Campaign, make_study: MakeStudy) -> Study:
    return await make_study(
        study_campaign.code,
        export={"k": 3, "min_cell": 3, "district_min_participants": 3, "max_suppressed_share": 0.2},
    )


@pytest.fixture
async def participants(make_resident: MakeResident, study_campaign: Campaign, study: Study) -> list[Resident]:
    """Eight consenting participants in three districts, each with two actions; the first answered the survey."""
    residents = []
    for district in DISTRICTS:
        resident = await make_resident(district=district)
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)
        for quantity in (3, 4):
            assert (await resident.log(quantity=quantity)).status_code == 201
        residents.append(resident)
    answered = await residents[0].put(
        f"/v1/me/surveys/{study.code}/baseline",
        json={"answers": {"car_days_per_week": 3, "barriers": ["weather", "time"], "comments": "I am Ana from Britof"}},
    )
    assert answered.status_code == 201, answered.text
    return residents


def _texts(directory: Path) -> str:
    return "".join(p.read_text() for p in sorted(directory.iterdir()) if p.suffix in (".csv", ".json"))


def _csv(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(directory / name, dtype=str, keep_default_na=False)


async def test_the_export_is_k_anonymous_and_joining_it_back_to_the_residents_singles_out_nobody(
    study: Study, participants: list[Resident], pool: db.Pool, tmp_path: Path
) -> None:
    result = await run_export(pool, study, tmp_path)

    people = _csv(tmp_path, "participants.csv")
    assert len(people) == 7  # the one resident of Primskovo is alone in `other`: left out
    assert (result.gate.suppressed, result.gate.k_reached) == (1, 3)
    assert Counter(people["district"]) == {"center": 4, "planina": 3}
    for name in ("participants.csv", "actions.csv", "nudge_decisions.csv", "survey_answers.csv"):
        table = _csv(tmp_path, name).drop_duplicates("pseudonym")
        present = [q for q in QUASI_IDENTIFIERS if q in table.columns]
        if present and len(table):
            assert anonymity.k_anonymity(table, present) >= study.export.k, name

    # The attacker holds the resident table and the export, and generalises the table as the export did.
    residents = await pool.fetch(
        "SELECT c.code AS city, coalesce(d.code, 'none') AS district FROM residents r "
        "JOIN cities c ON c.id = r.city_id LEFT JOIN districts d ON d.id = r.district_id"
    )
    shown = set(people["district"])
    known = Counter((r["city"], r["district"] if r["district"] in shown else "other") for r in residents)
    exported = Counter(zip(people["city"], people["district"], strict=True))
    assert all(n >= study.export.k for n in exported.values())
    assert all(known[group] >= n for group, n in exported.items())

    everything = _texts(tmp_path)
    assert not any(r.uid in everything for r in participants)
    assert "Britof" not in everything  # free text stays out unless the study lists the item
    assert settings_for_tests().research_key().decode() not in everything


async def test_every_file_is_described_checksummed_and_valid_for_frictionless(
    study: Study, participants: list[Resident], pool: db.Pool, tmp_path: Path
) -> None:
    result = await run_export(pool, study, tmp_path)

    report = validate(tmp_path / "datapackage.json")
    sums = dict(reversed(line.split("  ")) for line in (tmp_path / "SHA256SUMS").read_text().splitlines())
    provenance = (tmp_path / "provenance.json").read_text()
    codebook = _csv(tmp_path, "codebook.csv")

    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    assert all(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest for name, digest in sums.items())
    assert {"actions.parquet", "actions.csv", "codebook.csv", "datapackage.json", "provenance.json"} <= set(sums)
    assert '"key_epoch": 1' in provenance and '"k_reached": 3' in provenance
    assert set(codebook[codebook["table"] == "actions"]["variable"]) == set(_csv(tmp_path, "actions.csv").columns)
    assert result.rows["actions"] == 14 and pd.read_parquet(tmp_path / "actions.parquet").shape[0] == 14
    assert "local_hour" not in _csv(tmp_path, "actions.csv").columns  # no time of day unless the study allows it
    answers = _csv(tmp_path, "survey_answers.csv")
    assert dict(zip(answers["item"], answers["value"], strict=True)) == {
        "barriers": "time;weather",
        "car_days_per_week": "3",
    }


async def test_a_study_that_breaks_k_fails_closed_with_a_report(
    make_resident: MakeResident, make_campaign: Any, make_study: MakeStudy, pool: db.Pool, tmp_path: Path
) -> None:
    campaign = await make_campaign(cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES)
    crafted = await make_study(
        campaign.code, export={"k": 5, "max_suppressed_share": 0.05, "district_min_participants": 1}
    )
    for district in ["center", "planina", "primskovo", "britof", "bitnje", "huje", "jost", "golnik"]:
        resident = await make_resident(district=district)
        await consent(resident, "research")
        await enrol(resident, campaign.code)

    with pytest.raises(exports.ExportRefused) as refused:
        await run_export(pool, crafted, tmp_path)

    assert "k-anonymity not reached: 8 of 8" in str(refused.value)
    assert _texts(tmp_path) == ""


async def test_withdrawing_removes_the_participant_from_the_next_export_and_lists_the_pseudonym_once(
    study: Study, participants: list[Resident], pool: db.Pool, tmp_path: Path
) -> None:
    leaving = participants[1]
    await run_export(pool, study, tmp_path / "1")
    before = set(_csv(tmp_path / "1", "participants.csv")["pseudonym"])

    await consent(leaving, "research", granted=False)
    await run_export(pool, study, tmp_path / "2")
    await run_export(pool, study, tmp_path / "3")

    after = set(_csv(tmp_path / "2", "participants.csv")["pseudonym"])
    (gone,) = before - after
    assert after < before
    assert gone not in set(_csv(tmp_path / "2", "actions.csv")["pseudonym"])
    assert list(_csv(tmp_path / "2", "withdrawals.csv")["pseudonym"]) == [gone]
    assert list(_csv(tmp_path / "3", "withdrawals.csv")["pseudonym"]) == []


async def test_account_deletion_can_list_a_participant_in_every_study(
    make_resident: MakeResident, make_campaign: Any, make_study: MakeStudy, pool: db.Pool
) -> None:
    first, second = [
        await make_campaign(cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES) for _ in "12"
    ]
    studies = [await make_study(first.code), await make_study(second.code)]
    resident = await make_resident()
    await consent(resident, "research")
    for campaign in (first, second):
        await enrol(resident, campaign.code)
    resident_id = await pool.fetchval("SELECT id FROM residents WHERE firebase_uid = $1", resident.uid)
    settings = settings_for_tests()

    async with pool.acquire() as conn, conn.transaction():
        listed = await research.withdraw_everywhere(conn, [resident_id], settings)

    rows = await pool.fetch(
        "SELECT s.code, w.pseudonym, w.key_epoch, w.reason FROM study_withdrawals w JOIN studies s ON s.id = w.study_id "
        "WHERE s.code = ANY($1::text[]) ORDER BY s.code",
        [s.code for s in studies],
    )
    key = settings.research_key()
    assert listed == 2
    assert sorted((r["code"], r["pseudonym"], r["key_epoch"], r["reason"]) for r in rows) == sorted(
        (s.code, research.pseudonym(key, s.code, resident_id), 1, "account-deleted") for s in studies
    )


def test_ages_fall_in_ten_year_bands_with_open_ends() -> None:
    years = pd.Series([2010, 2007, 2006, 1997, 1947, 1946, None], dtype="Int64")

    bands = exports.age_bands(years, 2026)

    assert list(bands) == ["under-20", "under-20", "20-29", "20-29", "70-79", "80-plus", "not-given"]
