"""Logging one action: the estimate returned, idempotent retries, and every rule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.factories import Resident, action, assert_problem
from upscale_api.db import Pool


async def test_a_logged_action_returns_its_saving_and_the_factor_versions(resident: Resident) -> None:
    response = await resident.log("cycle-instead-of-car", 10)

    assert response.status_code == 201
    logged = response.json()
    types = (await resident.get("/v1/cities/kranj/action-types")).json()
    cycling = next(t for t in types if t["code"] == "cycle-instead-of-car")
    expected = 10 * (cycling["baseline_factor"]["value"] - cycling["option_factor"]["value"])
    assert abs(logged["co2e_kg"] - expected) < 1e-6
    assert logged["baseline_factor"] == {"code": "car-si-fleet", "version": cycling["baseline_factor"]["version"]}
    assert logged["option_factor"]["code"] == "bicycle"
    assert logged["quantity"] == 10
    assert logged["local_date"] == datetime.now(UTC).astimezone().date().isoformat() or logged["local_date"]


async def test_retrying_the_same_action_returns_the_stored_record_once(resident: Resident, pool: Pool) -> None:
    body = action("walk-instead-of-car", 2.5)

    first = await resident.post("/v1/me/actions", json=body)
    again = await resident.post("/v1/me/actions", json=body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await pool.fetchval("SELECT count(*) FROM action_logs WHERE id = $1", first.json()["id"]) == 1


async def test_reusing_an_id_for_other_content_is_a_conflict(resident: Resident) -> None:
    body = action("walk-instead-of-car", 2.5)
    await resident.post("/v1/me/actions", json=body)

    response = await resident.post("/v1/me/actions", json=body | {"quantity": 3})

    assert_problem(response, 409, "conflict", "id")
    assert [(a["id"], a["quantity"]) for a in await resident.logged()] == [(body["id"], 2.5)]


async def test_another_residents_id_is_a_conflict_and_reveals_nothing(make_resident) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await make_resident(), await make_resident()
    body = action("walk-instead-of-car", 2.5)
    await alice.post("/v1/me/actions", json=body)

    problem = assert_problem(await bob.post("/v1/me/actions", json=body), 409, "conflict", "id")

    assert "2.5" not in problem["detail"]


async def test_two_concurrent_posts_of_one_id_store_one_row(resident: Resident, pool: Pool) -> None:
    body = action("cycle-instead-of-car", 4)

    responses = await asyncio.gather(*(resident.post("/v1/me/actions", json=body) for _ in range(2)))

    assert sorted(r.status_code for r in responses) == [200, 201]
    assert await pool.fetchval("SELECT count(*) FROM action_logs WHERE id = $1", body["id"]) == 1


async def test_concurrent_posts_cannot_exceed_the_daily_limit(resident: Resident, pool: Pool) -> None:
    # cycle-instead-of-car: at most 100 km per entry and 150 km per day
    responses = await asyncio.gather(*(resident.log("cycle-instead-of-car", 60) for _ in range(4)))

    assert sorted(r.status_code for r in responses) == [201, 201, 422, 422]
    total = await pool.fetchval(
        "SELECT sum(quantity) FROM action_logs a JOIN residents r ON r.id = a.resident_id WHERE r.firebase_uid = $1",
        resident.uid,
    )
    assert total == 120


async def test_the_daily_limit_is_explained(resident: Resident) -> None:
    await resident.log("cycle-instead-of-car", 100)

    problem = assert_problem(await resident.log("cycle-instead-of-car", 60), 422, "validation-error", "quantity")

    assert "daily limit of 150 km" in problem["detail"]
    assert "100 km already logged" in problem["detail"]


async def test_the_daily_limit_counts_days_in_the_residents_time_zone(make_resident) -> None:  # type: ignore[no-untyped-def]
    resident = await make_resident(time_zone="Pacific/Kiritimati")  # UTC+14: local midnight is 10:00 UTC
    now = datetime.now(UTC)
    local_midnight = now.astimezone(__import__("zoneinfo").ZoneInfo("Pacific/Kiritimati")).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    before, after = local_midnight - timedelta(minutes=1), local_midnight + timedelta(minutes=1)
    if after > now:  # keep both inside the allowed window
        before, after = before - timedelta(days=1), after - timedelta(days=1)

    first = await resident.log("cycle-instead-of-car", 100, performed_at=before.isoformat())
    second = await resident.log("cycle-instead-of-car", 100, performed_at=after.isoformat())

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["local_date"] != second.json()["local_date"]


async def test_unknown_action_types_are_rejected(resident: Resident) -> None:
    assert_problem(await resident.log("teleport-instead-of-car"), 422, "validation-error", "action_type")
    assert await resident.logged() == []


async def test_quantities_outside_the_range_are_rejected(resident: Resident, pool: Pool) -> None:
    for quantity in (0, -3, 0.01, 101):
        problem = assert_problem(
            await resident.log("cycle-instead-of-car", quantity), 422, "validation-error", "quantity"
        )
        assert "km" in problem["detail"] or "greater than 0" in problem["detail"]
    huge = await resident.post(
        "/v1/me/actions",
        content=b'{"id":"6f1c6c58-6a3d-4b8e-9a0c-0b0b5a1b2c3d",'
        b'"action_type":"cycle-instead-of-car","quantity":1e999,"performed_at":"2026-01-01T00:00:00Z"}',
    )
    assert_problem(huge, 422, "validation-error", "quantity")
    nan = await resident.post("/v1/me/actions", content=b'{"quantity": NaN}')
    assert_problem(nan, 400, "malformed-body")
    stored = await pool.fetchval(
        "SELECT count(*) FROM action_logs a JOIN residents r ON r.id = a.resident_id WHERE r.firebase_uid = $1",
        resident.uid,
    )
    assert stored == 0


async def test_the_time_window(resident: Resident) -> None:
    now = datetime.now(UTC)

    future = await resident.log(performed_at=(now + timedelta(minutes=10)).isoformat())
    almost_now = await resident.log(performed_at=(now + timedelta(minutes=4)).isoformat())
    six_days_ago = await resident.log(performed_at=(now - timedelta(days=6, hours=23)).isoformat())
    too_old = await resident.log(performed_at=(now - timedelta(days=7, minutes=1)).isoformat())
    no_offset = await resident.log(performed_at=now.replace(tzinfo=None).isoformat())

    assert_problem(future, 422, "validation-error", "performed_at")
    assert almost_now.status_code == 201
    assert six_days_ago.status_code == 201
    assert "7 days" in assert_problem(too_old, 422, "validation-error", "performed_at")["detail"]
    assert_problem(no_offset, 422, "validation-error", "performed_at")


async def test_every_bad_field_is_listed(resident: Resident) -> None:
    response = await resident.post(
        "/v1/me/actions", json={"id": "not-a-uuid", "action_type": 7, "quantity": "5", "colour": "green"}
    )

    problem = assert_problem(response, 422, "validation-error")
    assert {e["field"] for e in problem["errors"]} == {"id", "action_type", "quantity", "performed_at", "colour"}


async def test_malformed_bodies_are_problems(resident: Resident) -> None:
    assert_problem(await resident.post("/v1/me/actions", content=b'{"id": '), 400, "malformed-body")
    assert_problem(await resident.post("/v1/me/actions", content=b"[1, 2]"), 422, "validation-error")
    assert_problem(await resident.post("/v1/me/actions", content=b""), 400, "malformed-body")
    assert await resident.logged() == []


async def test_bodies_over_one_mebibyte_are_refused(resident: Resident) -> None:
    padding = "x" * (1024 * 1024)
    response = await resident.post("/v1/me/actions", json=action(note=padding))

    assert_problem(response, 413, "body-too-large")
    assert await resident.logged() == []


async def test_an_unregistered_user_cannot_log(unregistered: Resident, pool: Pool) -> None:
    assert_problem(await unregistered.log(), 404, "not-registered")
    assert await pool.fetchval("SELECT count(*) FROM residents WHERE firebase_uid = $1", unregistered.uid) == 0
