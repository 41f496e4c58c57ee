"""Consent per purpose: off until granted, every change kept, a new version asks again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from tests.conftest import MakeResident
from tests.factories import CAMPAIGNS, assert_problem, settings_for_tests
from tests.research.conftest import consent
from upscale_api import db
from upscale_api.catalogue.service import Catalogue
from upscale_api.consents import service
from upscale_api.consents.structs import ConsentFile, ConsentsIn
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.errors import Problem
from upscale_api.residents import service as residents
from upscale_api.residents.structs import ResidentIn


async def test_research_consent_is_off_until_granted_and_every_change_is_kept(make_resident: MakeResident) -> None:
    resident = await make_resident()

    before = {c["purpose"]: c for c in (await resident.get("/v1/me/consents")).json()["items"]}
    await consent(resident, "research", "demographics")
    await consent(resident, "research", granted=False)
    after = {c["purpose"]: c for c in (await resident.get("/v1/me/consents")).json()["items"]}
    history = (await resident.get("/v1/me/consents/history")).json()["items"]

    assert list(before) == ["service", "research", "demographics"]
    assert not any(c["granted"] for c in before.values()) and all(c["needs_decision"] for c in before.values())
    assert before["research"]["title"] == "Sodelovanje v raziskavi"  # a Kranj resident reads Slovenian
    assert (after["research"]["granted"], after["research"]["needs_decision"]) == (False, False)
    assert after["demographics"]["granted"] is True
    assert [(h["purpose"], h["version"], h["granted"]) for h in history] == [
        ("research", 1, False),
        ("demographics", 1, True),
        ("research", 1, True),
    ]


async def test_a_decision_on_a_version_that_does_not_exist_is_refused_and_nothing_changes(
    make_resident: MakeResident,
) -> None:
    resident = await make_resident()

    response = await resident.put(
        "/v1/me/consents", json={"decisions": [{"purpose": "research", "version": 9, "granted": True}]}
    )
    twice = await resident.put(
        "/v1/me/consents",
        json={"decisions": [{"purpose": "service", "version": 1, "granted": True}] * 2},
    )

    assert_problem(response, 422, "validation-error", "decisions[0].version")
    assert_problem(twice, 422, "validation-error", "decisions")
    assert (await resident.get("/v1/me/consents/history")).json()["items"] == []


async def test_withdrawing_research_consent_never_stops_anyone_using_the_app(make_resident: MakeResident) -> None:
    resident = await make_resident()
    await consent(resident, "research")
    await consent(resident, "research", granted=False)

    assert (await resident.log()).status_code == 201
    assert (await resident.get("/v1/me/impact")).status_code == 200


async def test_demographics_need_their_consent_and_go_with_it(make_resident: MakeResident, pool: db.Pool) -> None:
    resident = await make_resident()

    refused = await resident.put("/v1/me/demographics", json={"birth_year": 1984, "gender": "woman"})
    stored_before = await pool.fetchval(
        "SELECT count(*) FROM resident_demographics d JOIN residents r ON r.id = d.resident_id "
        "WHERE r.firebase_uid = $1",
        resident.uid,
    )
    await consent(resident, "demographics")
    given = await resident.put("/v1/me/demographics", json={"birth_year": 1984, "gender": "woman"})
    future = await resident.put("/v1/me/demographics", json={"birth_year": datetime.now(UTC).year + 1})
    await consent(resident, "demographics", granted=False)

    assert_problem(refused, 409, "rule-violation", "consent")
    assert stored_before == 0
    assert given.json() == {"birth_year": 1984, "gender": "woman"}
    assert_problem(future, 422, "validation-error", "birth_year")
    assert (await resident.get("/v1/me/demographics")).json() == {"birth_year": None, "gender": None}


@pytest.fixture
async def loaded_pool(fresh_pool: db.Pool) -> db.Pool:
    await apply_definitions(fresh_pool, read_definitions(CAMPAIGNS))
    return fresh_pool


async def test_a_new_version_of_a_document_asks_again(loaded_pool: db.Pool) -> None:
    settings, now = settings_for_tests(), datetime.now(UTC)
    snapshot = await Catalogue(loaded_pool).reload()
    await residents.register(loaded_pool, snapshot, "reader", ResidentIn(city="kranj", locale="en"))
    granted = msgspec.convert({"decisions": [{"purpose": "research", "version": 1, "granted": True}]}, ConsentsIn)
    await service.decide(loaded_pool, settings, "reader", granted, now)
    version_2 = msgspec.convert(
        {
            "purpose": "research",
            "version": [
                {
                    "version": 2,
                    "published_on": date(2027, 1, 1),
                    "title": {"sl": "Nova", "en": "New"},
                    "body": {"sl": "B", "en": "B"},
                }
            ],
        },
        ConsentFile,
    )
    async with loaded_pool.acquire() as conn, conn.transaction():
        added, problems = await service.apply_documents(conn, [version_2])

    research = {c.purpose: c for c in (await service.my_consents(loaded_pool, "reader")).items}["research"]
    with pytest.raises(Problem) as stale:
        await service.decide(loaded_pool, settings, "reader", granted, now)

    assert (added, problems) == (1, [])
    assert (research.version, research.title, research.granted, research.needs_decision) == (2, "New", False, True)
    assert (research.decided_version, stale.value.status, stale.value.kind) == (1, 409, "rule-violation")


async def test_a_published_version_never_changes_its_text(loaded_pool: db.Pool) -> None:
    changed = msgspec.convert(
        {
            "purpose": "research",
            "version": [
                {
                    "version": 1,
                    "published_on": date(2026, 9, 1),
                    "title": {"sl": "X", "en": "X"},
                    "body": {"sl": "X", "en": "X"},
                }
            ],
        },
        ConsentFile,
    )
    async with loaded_pool.acquire() as conn, conn.transaction():
        added, problems = await service.apply_documents(conn, [changed])

    assert added == 0
    assert problems and "publish a new version" in problems[0][1]
