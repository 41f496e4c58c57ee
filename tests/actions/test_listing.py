"""Listing own actions with a cursor, and deleting within the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from httpx import Response

from tests.conftest import Score
from tests.factories import Resident, action, assert_problem
from upscale_api.db import Pool


async def _impact(score: Score, resident: Resident) -> Response:
    """The resident's impact after the worker's next scoring run."""
    await score()
    return await resident.get("/v1/me/impact")


async def test_actions_come_newest_first_and_pages_cover_everything_once(resident: Resident) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    items = [
        action("walk-instead-of-car", 1, performed_at=(start + timedelta(minutes=7 * i)).isoformat()) for i in range(12)
    ]
    await resident.post("/v1/me/actions/batch", json={"actions": items})

    seen, cursor = [], None
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = (await resident.get("/v1/me/actions", params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [a["id"] for a in seen] == [i["id"] for i in reversed(items)]


async def test_a_resident_sees_only_their_own_actions(make_resident) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await make_resident("kranj"), await make_resident("velenje")
    mine = (await alice.log("walk-instead-of-car", 1)).json()
    await bob.log("walk-instead-of-car", 2)

    listed = (await alice.get("/v1/me/actions")).json()["items"]

    assert [a["id"] for a in listed] == [mine["id"]]
    assert_problem(await bob.delete(f"/v1/me/actions/{mine['id']}"), 404, "not-found", "id")


async def test_a_bad_cursor_or_limit_is_a_problem(resident: Resident) -> None:
    assert_problem(
        await resident.get("/v1/me/actions", params={"cursor": "garbage!"}), 422, "validation-error", "cursor"
    )
    assert_problem(await resident.get("/v1/me/actions", params={"limit": 0}), 422, "validation-error", "limit")
    assert_problem(await resident.get("/v1/me/actions", params={"limit": "x"}), 422, "validation-error", "limit")


async def test_a_deleted_action_leaves_the_list_and_the_totals(resident: Resident, score: Score) -> None:
    kept = (await resident.log("walk-instead-of-car", 2)).json()
    dropped = (await resident.log("walk-instead-of-car", 3)).json()

    response = await resident.delete(f"/v1/me/actions/{dropped['id']}")
    again = await resident.delete(f"/v1/me/actions/{dropped['id']}")

    assert (response.status_code, again.status_code) == (204, 204)
    assert [a["id"] for a in (await resident.get("/v1/me/actions")).json()["items"]] == [kept["id"]]
    impact = (await _impact(score, resident)).json()
    assert impact["actions"] == 1
    assert abs(impact["co2e_kg"] - kept["co2e_kg"]) < 1e-6


async def test_deleting_frees_the_daily_allowance(resident: Resident) -> None:
    first = (await resident.log("cycle-instead-of-car", 100)).json()
    assert_problem(await resident.log("cycle-instead-of-car", 100), 422, "validation-error", "quantity")
    await resident.delete(f"/v1/me/actions/{first['id']}")

    second = await resident.log("cycle-instead-of-car", 100)

    assert second.status_code == 201
    assert [a["id"] for a in await resident.logged()] == [second.json()["id"]]


async def test_actions_can_be_deleted_only_within_the_grace_period(resident: Resident, pool: Pool) -> None:
    logged = (await resident.log("walk-instead-of-car", 1)).json()
    await pool.execute("UPDATE action_logs SET recorded_at = now() - interval '25 hours' WHERE id = $1", logged["id"])

    problem = assert_problem(await resident.delete(f"/v1/me/actions/{logged['id']}"), 409, "rule-violation", "id")

    assert "24 hours" in problem["detail"]
    assert await pool.fetchval("SELECT deleted_at FROM action_logs WHERE id = $1", logged["id"]) is None


async def test_deleting_needs_a_valid_id(resident: Resident) -> None:
    response = await resident.delete("/v1/me/actions/not-a-uuid")

    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_deletion_is_visible_to_incremental_jobs(resident: Resident, pool: Pool) -> None:
    logged = (await resident.log("walk-instead-of-car", 1)).json()
    before = await pool.fetchval("SELECT written_xid::text::bigint FROM action_logs WHERE id = $1", logged["id"])

    await resident.delete(f"/v1/me/actions/{logged['id']}")

    assert await pool.fetchval("SELECT written_xid::text::bigint FROM action_logs WHERE id = $1", logged["id"]) > before
