"""Anti-gaming review: a day total over its plausible limit is held out of scores
until a coordinator of the resident's city accepts it.

Cycling allows 150 km a day, but a day over 100 km (its ``plausible_per_day``)
is held. The scoring job runs between logging and looking, as it does every
few seconds in production.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.factories import Resident, assert_problem
from upscale_api import db
from upscale_api.roles.service import grant_role
from upscale_api.scoring.service import tick

HELD = "/v1/admin/held-entries"
CYCLING = "cycle-instead-of-car"
POINTS_PER_KM = {CYCLING: 10, "walk-instead-of-car": 5}


@pytest.fixture
async def campaign(coordinator: Resident) -> str:
    """An active Kranj campaign: 10 points per km cycled, 5 per km walked."""
    today = datetime.now(UTC).date()
    code = f"test-{uuid.uuid4().hex[:10]}"
    body = {
        "code": code,
        "cities": ["kranj"],
        "title": {"sl": "Kolesarski mesec", "en": "Cycling month"},
        "description": {"sl": "Besedilo", "en": "Text"},
        "starts_on": (today - timedelta(days=10)).isoformat(),
        "ends_on": (today + timedelta(days=10)).isoformat(),
        "action": [{"type": t, "points_per_unit": p} for t, p in POINTS_PER_KM.items()],
    }
    response = await coordinator.put(f"/v1/admin/campaigns/{code}", json=body)
    assert response.status_code == 201, response.text
    return code


@pytest.fixture
async def cyclist(make_resident: MakeResident, campaign: str) -> Resident:
    """A Kranj resident enrolled in the campaign."""
    resident = await make_resident("kranj")
    response = await resident.post(f"/v1/campaigns/{campaign}/enrolment", json={})
    assert response.status_code == 201, response.text
    return resident


_NOW = datetime.now(ZoneInfo("Europe/Ljubljana"))
MOMENT = max(_NOW - timedelta(hours=1), _NOW.replace(hour=0, minute=0, second=0, microsecond=0))
"""Earlier today in Kranj: every action of a test is on one local day, the day the resident enrolled."""


async def _log(resident: Resident, km: float, action_type: str = CYCLING, days_ago: int = 0) -> dict[str, Any]:
    performed_at = (MOMENT - timedelta(days=days_ago)).isoformat()
    response = await resident.log(action_type, km, performed_at=performed_at)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _score(pool: db.Pool) -> None:
    """One run of the scoring job."""
    await tick(pool, datetime.now(UTC))


async def _number(pool: db.Pool, resident: Resident) -> int:
    """The resident's opaque number, as held entries show it."""
    number: int = await pool.fetchval("SELECT id FROM residents WHERE firebase_uid = $1", resident.uid)
    return number


async def _listed(staff: Resident, **params: Any) -> list[dict[str, Any]]:
    """Every held entry the caller may see, page by page."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await staff.get(HELD, params={"limit": 50} | params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        entries += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


async def _entry_of(staff: Resident, pool: db.Pool, resident: Resident, **params: Any) -> dict[str, Any] | None:
    number = await _number(pool, resident)
    mine = [e for e in await _listed(staff, **params) if e["resident"] == number]
    assert len(mine) <= 1, mine
    return mine[0] if mine else None


async def _cycling_held(pool: db.Pool, resident: Resident) -> bool:
    held: bool = await pool.fetchval(
        """
        SELECT d.held FROM resident_days d
        JOIN residents r ON r.id = d.resident_id JOIN action_types t ON t.id = d.action_type_id
        WHERE r.firebase_uid = $1 AND t.code = $2
        """,
        resident.uid,
        CYCLING,
    )
    return held


async def _points(pool: db.Pool, campaign: str, resident: Resident) -> float:
    """The resident's points in the campaign, as the scoring job keeps them."""
    points = await pool.fetchval(
        """
        SELECT s.points FROM campaign_scores s
        JOIN campaigns k ON k.id = s.campaign_id JOIN residents r ON r.id = s.resident_id
        WHERE k.code = $1 AND r.firebase_uid = $2
        """,
        campaign,
        resident.uid,
    )
    return float(points or 0)


async def _held_for_review(pool: db.Pool, cyclist: Resident, coordinator: Resident) -> dict[str, Any]:
    """The cyclist logs 60 + 60 km today (each allowed, 120 km in all) and the job flags the day."""
    await _log(cyclist, 60)
    await _log(cyclist, 60)
    await _score(pool)
    entry = await _entry_of(coordinator, pool, cyclist, city="kranj", status="pending")
    assert entry is not None
    return entry


async def _decide(staff: Resident, entry: dict[str, Any], decision: str, **body: Any) -> dict[str, Any]:
    response = await staff.post(f"{HELD}/{entry['id']}/decision", json={"decision": decision} | body)
    assert response.status_code == 200, response.text
    decided: dict[str, Any] = response.json()
    return decided


async def test_a_day_over_the_plausible_limit_is_held_out_of_scores_and_listed_for_review(
    cyclist: Resident, coordinator: Resident, pool: db.Pool, campaign: str
) -> None:
    first, second = await _log(cyclist, 60), await _log(cyclist, 60)
    await _log(cyclist, 3, "walk-instead-of-car")

    await _score(pool)
    entry = await _entry_of(coordinator, pool, cyclist, city="kranj", status="pending")

    assert entry is not None
    assert entry["city"] == "kranj" and entry["resident"] == await _number(pool, cyclist)
    assert (entry["action_type"], entry["unit"], entry["quantity"], entry["plausible_per_day"]) == (
        CYCLING,
        "km",
        120,
        100,
    )
    assert entry["local_date"] == first["local_date"]
    assert (entry["status"], entry["decided_by"], entry["decided_at"], entry["decisions"]) == (
        "pending",
        None,
        None,
        [],
    )
    assert sorted((a["id"], a["quantity"]) for a in entry["actions"]) == sorted([(first["id"], 60), (second["id"], 60)])
    assert {"performed_at", "recorded_at"} <= set(entry["actions"][0])
    # the walk counts, the 120 km do not
    assert await _cycling_held(pool, cyclist) is True
    assert await _points(pool, campaign, cyclist) == 3 * POINTS_PER_KM["walk-instead-of-car"]


async def test_a_held_entry_names_no_one(cyclist: Resident, coordinator: Resident, pool: db.Pool) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    response = await coordinator.get(f"{HELD}/{entry['id']}")

    assert response.status_code == 200
    assert response.json() == entry
    assert cyclist.uid not in response.text


async def test_an_accepted_day_counts_from_the_next_scoring_run(
    cyclist: Resident, coordinator: Resident, pool: db.Pool, campaign: str
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    accepted = await _decide(coordinator, entry, "accept", note="Confirmed: a club ride to Bled")
    still_held = await _cycling_held(pool, cyclist)
    await _score(pool)

    assert (accepted["status"], accepted["decided_by"], accepted["decided_quantity"]) == (
        "accepted",
        coordinator.uid,
        120,
    )
    assert accepted["note"] == "Confirmed: a club ride to Bled" and accepted["decided_at"] is not None
    assert still_held is True
    assert await _cycling_held(pool, cyclist) is False
    assert await _points(pool, campaign, cyclist) == 120 * POINTS_PER_KM[CYCLING]
    assert await _entry_of(coordinator, pool, cyclist, status="pending") is None
    assert (await _entry_of(coordinator, pool, cyclist, status="accepted")) == accepted


async def test_a_rejected_day_stays_out_of_scores(
    cyclist: Resident, coordinator: Resident, pool: db.Pool, campaign: str
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    rejected = await _decide(coordinator, entry, "reject")
    await _score(pool)

    assert (rejected["status"], rejected["note"]) == ("rejected", None)
    assert await _cycling_held(pool, cyclist) is True
    assert await _points(pool, campaign, cyclist) == 0
    assert await _entry_of(coordinator, pool, cyclist, status="pending") is None
    assert (await _entry_of(coordinator, pool, cyclist, status="rejected")) == rejected


async def test_more_logged_the_same_day_after_acceptance_is_pending_again(
    cyclist: Resident, coordinator: Resident, pool: db.Pool, campaign: str
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)
    await _decide(coordinator, entry, "accept")
    await _score(pool)

    await _log(cyclist, 20)
    await _score(pool)
    again = await _entry_of(coordinator, pool, cyclist, status="pending")

    assert again is not None and again["id"] == entry["id"]
    assert again["quantity"] == 140 and len(again["actions"]) == 3
    assert [(d["status"], d["quantity"]) for d in again["decisions"]] == [("accepted", 120)]
    assert await _cycling_held(pool, cyclist) is True
    assert await _points(pool, campaign, cyclist) == 0


async def test_a_decision_can_be_corrected_and_both_stay_on_record(
    cyclist: Resident, coordinator: Resident, pool: db.Pool, campaign: str
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    await _decide(coordinator, entry, "reject", note="Looks like a car trip")
    await _score(pool)
    corrected = await _decide(coordinator, entry, "accept", note="Resident sent the ride's GPS track")
    await _score(pool)

    assert corrected["status"] == "accepted"
    assert [(d["status"], d["note"], d["decided_by"]) for d in corrected["decisions"]] == [
        ("rejected", "Looks like a car trip", coordinator.uid),
        ("accepted", "Resident sent the ride's GPS track", coordinator.uid),
    ]
    assert await _points(pool, campaign, cyclist) == 120 * POINTS_PER_KM[CYCLING]


async def test_a_day_back_under_the_limit_is_withdrawn_from_review(
    cyclist: Resident, coordinator: Resident, pool: db.Pool, campaign: str
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    assert (await cyclist.delete(f"/v1/me/actions/{entry['actions'][1]['id']}")).status_code == 204
    await _score(pool)

    assert_problem(await coordinator.get(f"{HELD}/{entry['id']}"), 404, "not-found", "id")
    assert await _cycling_held(pool, cyclist) is False
    assert await _points(pool, campaign, cyclist) == 60 * POINTS_PER_KM[CYCLING]


async def test_another_citys_coordinator_finds_no_such_entry(
    cyclist: Resident, coordinator: Resident, other_coordinator: Resident, pool: db.Pool
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    assert_problem(await other_coordinator.get(f"{HELD}/{entry['id']}"), 404, "not-found", "id")
    assert_problem(
        await other_coordinator.post(f"{HELD}/{entry['id']}/decision", json={"decision": "accept"}),
        404,
        "not-found",
        "id",
    )
    assert await _entry_of(other_coordinator, pool, cyclist) is None
    assert_problem(await other_coordinator.get(HELD, params={"city": "kranj"}), 403, "forbidden", "city")
    # nothing was decided
    assert (await coordinator.get(f"{HELD}/{entry['id']}")).json()["status"] == "pending"


async def test_an_admin_reviews_every_city(
    client: AsyncTestClient[Any], cyclist: Resident, coordinator: Resident, pool: db.Pool
) -> None:
    admin = Resident(uid=f"admin-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, admin.uid, "admin", None, granted_by="test")
    entry = await _held_for_review(pool, cyclist, coordinator)

    seen = await _entry_of(admin, pool, cyclist)
    decided = await _decide(admin, entry, "reject")

    assert seen == entry
    assert decided["decided_by"] == admin.uid
    assert_problem(await admin.get(HELD, params={"city": "atlantis"}), 422, "validation-error", "city")


async def test_residents_may_not_review(cyclist: Resident, coordinator: Resident, pool: db.Pool) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)

    assert_problem(await cyclist.get(HELD), 403, "forbidden")
    assert_problem(await cyclist.get(f"{HELD}/{entry['id']}"), 403, "forbidden")
    assert_problem(await cyclist.post(f"{HELD}/{entry['id']}/decision", json={"decision": "accept"}), 403, "forbidden")
    assert (await coordinator.get(f"{HELD}/{entry['id']}")).json()["status"] == "pending"


async def test_bad_decisions_are_problems_naming_the_field(
    cyclist: Resident, coordinator: Resident, pool: db.Pool
) -> None:
    entry = await _held_for_review(pool, cyclist, coordinator)
    path = f"{HELD}/{entry['id']}/decision"

    assert_problem(await coordinator.post(path, json={"decision": "maybe"}), 422, "validation-error", "decision")
    assert_problem(await coordinator.post(path, json={"note": "no decision"}), 422, "validation-error", "decision")
    assert_problem(await coordinator.post(path, json={"decision": 1}), 422, "validation-error", "decision")
    assert_problem(
        await coordinator.post(path, json={"decision": "accept", "note": "x" * 1001}), 422, "validation-error", "note"
    )
    assert_problem(
        await coordinator.post(path, json={"decision": "accept", "quantity": 50}), 422, "validation-error", "quantity"
    )
    assert_problem(await coordinator.post(path, content=b"{"), 400, "malformed-body")
    assert_problem(
        await coordinator.post(f"{HELD}/999999999999/decision", json={"decision": "accept"}), 404, "not-found"
    )
    assert (await coordinator.get(f"{HELD}/{entry['id']}")).json()["status"] == "pending"


async def test_bad_listing_parameters_are_problems(coordinator: Resident) -> None:
    assert_problem(await coordinator.get(HELD, params={"status": "lost"}), 422, "validation-error", "status")
    assert_problem(await coordinator.get(HELD, params={"cursor": "not-a-cursor"}), 422, "validation-error", "cursor")
    assert_problem(await coordinator.get(HELD, params={"limit": 0}), 422, "validation-error", "limit")


async def test_the_listing_pages_newest_flagged_first(
    make_resident: MakeResident, coordinator: Resident, pool: db.Pool
) -> None:
    resident = await make_resident("kranj")
    for days_ago in (2, 1):
        await _log(resident, 100, days_ago=days_ago)
        await _log(resident, 10, days_ago=days_ago)
    await _score(pool)
    await _log(resident, 100)  # today's day is flagged by a later run
    await _log(resident, 10)
    await _score(pool)

    listed = await _listed(coordinator, city="kranj", status="pending", limit=1)
    number = await _number(pool, resident)
    mine = [e for e in listed if e["resident"] == number]

    order = [(datetime.fromisoformat(e["flagged_at"]), e["id"]) for e in listed]
    assert order == sorted(order, reverse=True) and len(set(order)) == len(order)
    assert len(mine) == 3 and all(e["quantity"] == 110 for e in mine)
    assert mine[0]["local_date"] == max(e["local_date"] for e in mine)  # flagged last, listed first
