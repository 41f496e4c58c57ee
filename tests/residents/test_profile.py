"""Registering and reading the signed-in resident's profile."""

from __future__ import annotations

from tests.factories import Resident, assert_problem
from upscale_api.db import Pool


async def test_a_new_user_is_not_registered(unregistered: Resident) -> None:
    assert_problem(await unregistered.get("/v1/me"), 404, "not-registered")


async def test_registering_uses_the_citys_defaults(unregistered: Resident) -> None:
    created = await unregistered.put("/v1/me", json={"city": "velenje"})

    assert created.status_code == 201
    profile = (await unregistered.get("/v1/me")).json()
    assert profile | {"registered_at": None, "updated_at": None} == {
        "city": "velenje",
        "district": None,
        "display_name": None,
        "locale": "sl",
        "time_zone": "Europe/Ljubljana",
        "registered_at": None,
        "updated_at": None,
    }


async def test_updating_keeps_one_resident(unregistered: Resident, pool: Pool) -> None:
    await unregistered.put("/v1/me", json={"city": "kranj"})

    updated = await unregistered.put(
        "/v1/me", json={"city": "kranj", "district": "center", "display_name": " Ana ", "locale": "en"}
    )

    assert updated.status_code == 200
    assert updated.json()["district"] == "center"
    assert updated.json()["display_name"] == "Ana"
    assert (await unregistered.get("/v1/me")).json()["locale"] == "en"
    assert await pool.fetchval("SELECT count(*) FROM residents WHERE firebase_uid = $1", unregistered.uid) == 1


async def test_every_bad_profile_field_is_named(unregistered: Resident, pool: Pool) -> None:
    unknown_city = await unregistered.put("/v1/me", json={"city": "atlantis"})
    bad_fields = await unregistered.put(
        "/v1/me", json={"city": "kranj", "district": "nowhere", "locale": "xx", "time_zone": "Mars/Olympus"}
    )
    wrong_types = await unregistered.put("/v1/me", json={"city": 5, "display_name": ""})

    assert_problem(unknown_city, 422, "validation-error", "city")
    problem = assert_problem(bad_fields, 422, "validation-error")
    assert {e["field"] for e in problem["errors"]} == {"district", "locale", "time_zone"}
    assert {e["field"] for e in assert_problem(wrong_types, 422, "validation-error")["errors"]} == {
        "city",
        "display_name",
    }
    assert await pool.fetchval("SELECT count(*) FROM residents WHERE firebase_uid = $1", unregistered.uid) == 0


async def test_a_district_must_belong_to_the_city(unregistered: Resident) -> None:
    # Bitnje is a local community of Kranj, not a district of Ljubljana
    response = await unregistered.put("/v1/me", json={"city": "ljubljana", "district": "bitnje"})

    assert_problem(response, 422, "validation-error", "district")
    assert_problem(await unregistered.get("/v1/me"), 404, "not-registered")
