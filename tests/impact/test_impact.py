"""A resident's impact: totals, categories, ISO weeks, active days, streaks."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

from httpx import Response

from tests.conftest import Score
from tests.factories import Resident, action, assert_problem

ZONE = zoneinfo.ZoneInfo("Europe/Ljubljana")


def _on(days_ago: int, hour: int = 12) -> str:
    """A moment ``days_ago`` local days back, never in the future (early in the day it is now)."""
    now = datetime.now(ZONE)
    moment = datetime.combine(now.date() - timedelta(days=days_ago), time(hour), ZONE)
    return min(moment, now - timedelta(seconds=1)).astimezone(UTC).isoformat()


async def _impact(score: Score, resident: Resident) -> Response:
    """The resident's impact after the worker's next scoring run."""
    await score()
    return await resident.get("/v1/me/impact")


async def test_a_new_resident_has_zero_impact(resident: Resident, score: Score) -> None:
    impact = (await _impact(score, resident)).json()

    assert impact.pop("computed_at") is not None  # the worker has run, and found nothing of theirs
    assert impact == {
        "co2e_kg": 0.0,
        "actions": 0,
        "active_days": 0,
        "current_streak_days": 0,
        "longest_streak_days": 0,
        "first_action_on": None,
        "last_action_on": None,
        "by_category": [],
        "by_week": [],
        "held_co2e_kg": 0.0,
    }


async def test_totals_add_up_by_category_and_week(resident: Resident, score: Score) -> None:
    logged = [
        (await resident.post("/v1/me/actions", json=body)).json()
        for body in (
            action("cycle-instead-of-car", 10, performed_at=_on(0)),
            action("cycle-instead-of-car", 5, performed_at=_on(1)),
            action("vegetarian-instead-of-chicken", 1, performed_at=_on(1)),
            action("line-dry-laundry", 1, performed_at=_on(6)),
        )
    ]

    impact = (await _impact(score, resident)).json()

    assert impact["actions"] == 4
    assert abs(impact["co2e_kg"] - sum(a["co2e_kg"] for a in logged)) < 1e-6
    categories = {c["category"]: c for c in impact["by_category"]}
    assert set(categories) == {"mobility", "food", "energy"}
    assert categories["mobility"]["actions"] == 2
    assert abs(categories["mobility"]["co2e_kg"] - logged[0]["co2e_kg"] - logged[1]["co2e_kg"]) < 1e-6
    weeks = {
        f"{d.isocalendar().year}-W{d.isocalendar().week:02d}"
        for d in (datetime.fromisoformat(a["local_date"]) for a in logged)
    }
    assert {w["week"] for w in impact["by_week"]} == weeks
    assert sum(w["actions"] for w in impact["by_week"]) == 4
    assert impact["by_week"] == sorted(impact["by_week"], key=lambda w: w["week"], reverse=True)


async def test_streaks_count_consecutive_local_days(resident: Resident, score: Score) -> None:
    days_ago = [6, 5, 3, 2, 1, 1, 0]  # runs: 6-5 (2 days), 3-0 (4 days)
    items = [action("walk-instead-of-car", 1, performed_at=_on(d, hour=8 + i)) for i, d in enumerate(days_ago)]
    await resident.post("/v1/me/actions/batch", json={"actions": items})

    impact = (await _impact(score, resident)).json()

    assert impact["active_days"] == 6
    assert impact["current_streak_days"] == 4
    assert impact["longest_streak_days"] == 4


async def test_a_streak_survives_until_the_end_of_today(resident: Resident, score: Score) -> None:
    items = [action("walk-instead-of-car", 1, performed_at=_on(d)) for d in (3, 2, 1)]
    await resident.post("/v1/me/actions/batch", json={"actions": items})

    assert (await _impact(score, resident)).json()["current_streak_days"] == 3


async def test_a_broken_streak_is_zero(resident: Resident, score: Score) -> None:
    items = [action("walk-instead-of-car", 1, performed_at=_on(d)) for d in (5, 4, 3)]
    await resident.post("/v1/me/actions/batch", json={"actions": items})

    impact = (await _impact(score, resident)).json()

    assert (impact["current_streak_days"], impact["longest_streak_days"]) == (0, 3)


async def test_impact_needs_registration(unregistered: Resident) -> None:
    assert_problem(await unregistered.get("/v1/me/impact"), 404, "not-registered")
