"""Partners as definition files under ``campaigns/<city>/rewards/``: checked, applied like campaigns."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.factories import CAMPAIGNS, Resident, assert_problem
from upscale_api import db
from upscale_api.definitions.files import InvalidDefinitions, read_definitions
from upscale_api.definitions.service import apply_definitions

MUSEUM = """
code = "kranj-test-museum"
kind = "museum"
name = { sl = "Muzej", en = "Museum" }
description = { sl = "Muzej", en = "A museum" }

[[reward]]
code = "kranj-test-museum-entry"
title = { sl = "Vstopnica", en = "Free entry" }
description = { sl = "Ena", en = "One free entry" }
cost = 150
stock = 20
limit_per_resident = 1

[[reward]]
code = "kranj-test-museum-guide"
title = { sl = "Vodstvo", en = "Guided tour" }
description = { sl = "Vodstvo", en = "A guided tour" }
cost = 400
"""


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    copy = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, copy)
    (copy / "kranj" / "rewards").mkdir()
    (copy / "kranj" / "rewards" / "kranj-test-museum.toml").write_text(MUSEUM)
    return copy


async def _rewards(pool: db.Pool) -> dict[str, bool]:
    rows = await pool.fetch("SELECT code, active FROM rewards ORDER BY code")
    return {r["code"]: r["active"] for r in rows}


async def test_a_partner_file_is_applied_once_and_a_reward_left_out_is_withdrawn(
    fresh_pool: db.Pool, campaigns: Path
) -> None:
    first = await apply_definitions(fresh_pool, read_definitions(campaigns))
    again = await apply_definitions(fresh_pool, read_definitions(campaigns))
    path = campaigns / "kranj" / "rewards" / "kranj-test-museum.toml"
    path.write_text(MUSEUM[: MUSEUM.index('[[reward]]\ncode = "kranj-test-museum-guide"')])
    withdrawn = await apply_definitions(fresh_pool, read_definitions(campaigns))

    assert (first.partners_changed, first.rewards_changed) == (1, 2)
    assert not again.changed
    assert (withdrawn.partners_changed, withdrawn.rewards_retired) == (1, 1)
    assert await _rewards(fresh_pool) == {"kranj-test-museum-entry": True, "kranj-test-museum-guide": False}

    path.unlink()
    gone = await apply_definitions(fresh_pool, read_definitions(campaigns))

    assert gone.rewards_retired == 1
    assert await _rewards(fresh_pool) == {"kranj-test-museum-entry": False, "kranj-test-museum-guide": False}
    assert await fresh_pool.fetchval("SELECT active FROM partners WHERE code = 'kranj-test-museum'") is False


async def test_every_problem_of_a_partner_file_is_named(campaigns: Path) -> None:
    broken = (
        MUSEUM.replace('code = "kranj-test-museum"', 'code = "another-name"')
        .replace('name = { sl = "Muzej", en = "Museum" }', 'name = { sl = "Muzej" }')
        .replace(
            "cost = 400",
            'cost = 400\ndelivery = "city-card"\navailable_from = 2027-05-01\navailable_until = 2027-04-01',
        )
    )
    (campaigns / "kranj" / "rewards" / "kranj-test-museum.toml").write_text(broken)
    (campaigns / "ljubljana" / "rewards").mkdir()
    (campaigns / "ljubljana" / "rewards" / "typo.toml").write_text(MUSEUM.replace("cost = 150", "cots = 150"))

    with pytest.raises(InvalidDefinitions) as raised:
        read_definitions(campaigns)

    found = {(e.file, e.field) for e in raised.value.errors}
    museum = "kranj/rewards/kranj-test-museum.toml"
    assert {
        (museum, "code"),
        (museum, "name"),
        (museum, "reward[1].delivery"),
        (museum, "reward[1].available_until"),
        ("ljubljana/rewards/typo.toml", "reward[0].cots"),
    } <= found


async def test_a_partner_from_a_file_is_not_changed_over_the_api(
    coordinator: Resident, pool: db.Pool, campaigns: Path
) -> None:
    # The session's database: its partners are the shipped files' plus what tests made over the API.
    definitions = read_definitions(campaigns)
    definitions.partners[:] = [(c, p) for c, p in definitions.partners if p.code == "kranj-test-museum"]
    await apply_definitions(pool, definitions)
    body = {
        "code": "kranj-test-museum",
        "kind": "museum",
        "name": {"sl": "Muzej", "en": "Museum"},
        "description": {"sl": "Muzej", "en": "A museum"},
    }

    answer = await coordinator.put("/v1/admin/cities/kranj/partners/kranj-test-museum", json=body)

    assert_problem(answer, 409, "conflict", "code")
    assert await _rewards_of(pool, "kranj-test-museum") == 2
    listed = (await coordinator.get("/v1/admin/cities/kranj/partners")).json()
    assert next(p for p in listed if p["code"] == "kranj-test-museum")["source"] == "file"


async def _rewards_of(pool: db.Pool, partner: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM rewards w JOIN partners p ON p.id = w.partner_id WHERE p.code = $1 AND w.active",
        partner,
    )
    return count


async def test_a_coordinator_manages_partners_of_their_city_only(
    coordinator: Resident, other_coordinator: Resident, pool: db.Pool
) -> None:
    body = {
        "code": "ljubljana-bakery-test",
        "kind": "food",
        "name": {"sl": "Pekarna", "en": "Bakery"},
        "description": {"sl": "Pekarna", "en": "A bakery"},
        "reward": [
            {
                "code": "ljubljana-bread-test",
                "title": {"sl": "Kruh", "en": "Bread"},
                "description": {"sl": "Kruh", "en": "Bread"},
                "cost": 40,
            }
        ],
    }

    refused = await coordinator.put("/v1/admin/cities/ljubljana/partners/ljubljana-bakery-test", json=body)
    created = await other_coordinator.put("/v1/admin/cities/ljubljana/partners/ljubljana-bakery-test", json=body)
    moved = await coordinator.put("/v1/admin/cities/kranj/partners/ljubljana-bakery-test", json=body)
    missing_language = await other_coordinator.put(
        "/v1/admin/cities/ljubljana/partners/ljubljana-bakery-test", json=body | {"name": {"en": "Bakery"}}
    )

    assert_problem(refused, 403, "forbidden")
    assert created.status_code == 201 and created.json()["source"] == "api"
    assert_problem(moved, 409, "conflict", "code")
    assert_problem(missing_language, 422, "validation-error", "name")
    assert (
        await pool.fetchval(
            "SELECT c.code FROM partners p JOIN cities c ON c.id = p.city_id WHERE p.code = 'ljubljana-bakery-test'"
        )
        == "ljubljana"
    )
