"""Offline sync: a batch of up to 500 actions, each answered on its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.factories import Resident, action, assert_problem
from upscale_api.db import Pool


async def _count(pool: Pool, resident: Resident) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM action_logs a JOIN residents r ON r.id = a.resident_id WHERE r.firebase_uid = $1",
        resident.uid,
    )
    return count


async def test_one_bad_item_does_not_reject_the_others(resident: Resident, pool: Pool) -> None:
    earlier = action("walk-instead-of-car", 1.5)
    await resident.post("/v1/me/actions", json=earlier)
    taken = action("walk-instead-of-car", 2)
    await resident.post("/v1/me/actions", json=taken)
    items = [
        action("cycle-instead-of-car", 3),  # stored
        earlier,  # duplicate of a stored one
        taken | {"quantity": 9},  # conflict: same id, other content
        action("unknown-thing"),  # rejected by a rule
        {"id": "nope", "action_type": "walk-instead-of-car", "quantity": "x"},  # rejected: wrong types
        "not even an object",  # rejected
        action("vegetarian-instead-of-chicken", 1),  # stored
    ]

    response = await resident.post("/v1/me/actions/batch", json={"actions": items})

    assert response.status_code == 200
    result = response.json()
    assert [r["status"] for r in result["results"]] == [
        "stored",
        "duplicate",
        "conflict",
        "rejected",
        "rejected",
        "rejected",
        "stored",
    ]
    assert [r["index"] for r in result["results"]] == list(range(7))
    assert (result["stored"], result["duplicates"], result["conflicts"], result["rejected"]) == (2, 1, 1, 3)
    assert result["results"][1]["action"]["id"] == earlier["id"]
    assert result["results"][3]["errors"] == [{"field": "action_type", "reason": "unknown action type 'unknown-thing'"}]
    assert {e["field"] for e in result["results"][4]["errors"]} == {"id", "quantity", "performed_at"}
    assert result["results"][4]["id"] is None
    assert result["results"][0]["action"]["co2e_kg"] > 0
    assert await _count(pool, resident) == 4


async def test_back_dated_offline_actions_are_stored_with_their_local_day(resident: Resident) -> None:
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    items = [
        action("cycle-instead-of-car", 5, performed_at=(three_days_ago + timedelta(hours=h)).isoformat())
        for h in range(3)
    ]

    result = (await resident.post("/v1/me/actions/batch", json={"actions": items})).json()

    assert result["stored"] == 3
    assert {r["action"]["local_date"] for r in result["results"]} <= {
        (three_days_ago + timedelta(days=d)).date().isoformat() for d in (-1, 0, 1)
    }


async def test_the_daily_limit_applies_across_the_batch_in_order(resident: Resident) -> None:
    items = [action("cycle-instead-of-car", 70) for _ in range(3)]

    result = (await resident.post("/v1/me/actions/batch", json={"actions": items})).json()

    assert [r["status"] for r in result["results"]] == ["stored", "stored", "rejected"]
    assert "daily limit" in result["results"][2]["errors"][0]["reason"]


async def test_the_same_id_twice_in_one_batch_is_stored_once(resident: Resident, pool: Pool) -> None:
    item = action("walk-instead-of-car", 1)
    other = item | {"quantity": 2}

    result = (await resident.post("/v1/me/actions/batch", json={"actions": [item, item, other]})).json()

    assert [r["status"] for r in result["results"]] == ["stored", "duplicate", "conflict"]
    assert result["results"][1]["action"] == result["results"][0]["action"]
    assert await _count(pool, resident) == 1


async def test_a_retried_batch_changes_nothing(resident: Resident, pool: Pool) -> None:
    items = [action("walk-instead-of-car", 1 + i) for i in range(5)]
    first = (await resident.post("/v1/me/actions/batch", json={"actions": items})).json()

    again = (await resident.post("/v1/me/actions/batch", json={"actions": items})).json()

    assert first["stored"] == 5 and again["duplicates"] == 5
    assert [r["action"] for r in again["results"]] == [r["action"] for r in first["results"]]
    assert await _count(pool, resident) == 5


async def test_batches_hold_at_most_500_actions(resident: Resident, pool: Pool) -> None:
    full = [action("walk-instead-of-car", 0.5) for _ in range(500)]
    too_many = [*full, action("walk-instead-of-car", 0.5)]

    assert_problem(
        await resident.post("/v1/me/actions/batch", json={"actions": too_many}), 422, "validation-error", "actions"
    )
    assert await _count(pool, resident) == 0
    result = (await resident.post("/v1/me/actions/batch", json={"actions": full})).json()
    # walking: 40 km a day at most, so 80 of 0.5 km fit and the rest are refused for the day
    assert result["stored"] + result["rejected"] == 500
    assert result["stored"] == 80


async def test_an_empty_or_malformed_batch_is_a_problem(resident: Resident) -> None:
    assert_problem(
        await resident.post("/v1/me/actions/batch", json={"actions": []}), 422, "validation-error", "actions"
    )
    assert_problem(await resident.post("/v1/me/actions/batch", json={"items": []}), 422, "validation-error")
    assert_problem(await resident.post("/v1/me/actions/batch", content=b"{"), 400, "malformed-body")
    assert await resident.logged() == []


async def test_ids_are_client_uuids(resident: Resident) -> None:
    given = uuid.uuid4()

    result = (await resident.post("/v1/me/actions/batch", json={"actions": [action(id=str(given))]})).json()

    assert result["results"][0]["id"] == str(given) == result["results"][0]["action"]["id"]
