"""The city impact report: what a city's residents avoided per month and category, for its coordinators."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Resident, assert_problem
from tests.reports.conftest import Scenario, ym
from upscale_api import db
from upscale_api.roles.service import grant_role

CATEGORIES = ["mobility", "energy", "food", "consumption", "waste"]
KRANJ_TARGET = {"baseline_year": 2018, "target_year": 2030, "reduction_t_co2e": 113263}


@pytest.fixture
async def report(scenario: Scenario, coordinator: Resident) -> dict[str, Any]:
    """Kranj from four months ago to this month."""
    response = await coordinator.get("/v1/admin/cities/kranj/impact", params={"from": ym(4), "to": ym(0)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _months(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["month"]: m for m in report["months"]}


async def test_kg_and_actions_per_month_and_category(report: dict[str, Any], scenario: Scenario) -> None:
    months = _months(report)

    assert [m["month"] for m in report["months"]] == [ym(4), ym(3), ym(2), ym(1), ym(0)]
    for month, row in months.items():
        assert [c["category"] for c in row["by_category"]] == CATEGORIES
        logged = scenario.logged.get(month, {})
        for cell in row["by_category"]:
            kg, actions = logged.get(cell["category"], [0.0, 0])
            assert cell["co2e_kg"] == pytest.approx(kg, abs=1e-3), (month, cell)
            assert cell["actions"] == actions, (month, cell)
        assert row["co2e_kg"] == pytest.approx(scenario.month_kg(month), abs=1e-3)
        assert row["actions"] == sum(n for _, n in logged.values())
    assert months[ym(1)]["actions"] == 4  # the deleted action does not count, nor Ljubljana's
    assert report["co2e_kg"] == pytest.approx(scenario.total_kg, abs=1e-3)
    assert report["actions"] == 6
    assert (report["city"], report["from"], report["to"]) == ("kranj", ym(4), ym(0))


async def test_participants_are_counted_once_per_month_and_over_the_range(report: dict[str, Any]) -> None:
    months = _months(report)

    # last month: one resident with three actions on two days, another with one; a third deleted hers
    assert [months[ym(n)]["participants"] for n in (4, 3, 2, 1, 0)] == [0, 1, 0, 2, 1]
    assert report["participants"] == 2


async def test_months_without_actions_are_there_with_zeros(report: dict[str, Any]) -> None:
    months = _months(report)

    for empty in (ym(4), ym(2)):
        assert months[empty] == {
            "month": empty,
            "co2e_kg": 0,
            "actions": 0,
            "participants": 0,
            "by_category": [{"category": c, "co2e_kg": 0, "actions": 0} for c in CATEGORIES],
        }


async def test_the_share_of_the_citys_target_with_the_target(report: dict[str, Any], scenario: Scenario) -> None:
    assert report["climate_target"] == KRANJ_TARGET
    assert report["target_share"] == pytest.approx(report["co2e_kg"] / (113263 * 1000), rel=1e-12)
    assert report["target_share"] == pytest.approx(scenario.total_kg / (113263 * 1000), rel=1e-3)
    computed_at = datetime.fromisoformat(report["computed_at"])
    assert datetime.now(UTC) - timedelta(minutes=10) < computed_at <= datetime.now(UTC)


async def test_a_city_without_a_target_has_no_share(
    scenario: Scenario, reports_client: AsyncTestClient[Any], reports_pool: db.Pool
) -> None:
    staff = Resident(uid=f"coordinator-{uuid.uuid4().hex}", client=reports_client)
    await grant_role(reports_pool, staff.uid, "coordinator", "ljubljana", granted_by="test")

    response = await staff.get("/v1/admin/cities/ljubljana/impact", params={"from": ym(1), "to": ym(1)})

    body = response.json()
    assert response.status_code == 200, response.text
    assert (body["climate_target"], body["target_share"]) == (None, None)
    assert (body["actions"], body["participants"]) == (1, 1)  # the Ljubljana resident's ride, only there


async def test_by_default_the_last_twelve_months(scenario: Scenario, coordinator: Resident) -> None:
    body = (await coordinator.get("/v1/admin/cities/kranj/impact")).json()

    assert [m["month"] for m in body["months"]] == [ym(n) for n in range(11, -1, -1)]
    assert (body["from"], body["to"]) == (ym(11), ym(0))
    assert body["participants"] == 2


async def test_only_coordinators_of_the_city_and_admins_see_it(
    scenario: Scenario, reports_client: AsyncTestClient[Any], reports_pool: db.Pool, coordinator: Resident
) -> None:
    other, admin, resident = (Resident(uid=f"staff-{uuid.uuid4().hex}", client=reports_client) for _ in range(3))
    await grant_role(reports_pool, other.uid, "coordinator", "velenje", granted_by="test")
    await grant_role(reports_pool, admin.uid, "admin", None, granted_by="test")

    assert_problem(await other.get("/v1/admin/cities/kranj/impact"), 403, "forbidden")
    assert_problem(await resident.get("/v1/admin/cities/kranj/impact"), 403, "forbidden")
    assert_problem(await reports_client.get("/v1/admin/cities/kranj/impact"), 401, "unauthenticated")
    assert_problem(await coordinator.get("/v1/admin/cities/atlantis/impact"), 404, "not-found", "city")
    assert (await other.get("/v1/admin/cities/velenje/impact")).status_code == 200
    assert (await admin.get("/v1/admin/cities/kranj/impact")).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05", "to": "2026-04"}, "from"),
        ({"from": "2010-01", "to": "2020-01"}, "from"),  # 121 months
        ({"from": "2026-13"}, "from"),
        ({"to": "May 2026"}, "to"),
        ({"from": "2026-5", "to": "2026-06"}, "from"),
    ],
)
async def test_a_bad_range_is_a_problem_naming_the_field(
    coordinator: Resident, params: dict[str, str], field: str
) -> None:
    assert_problem(
        await coordinator.get("/v1/admin/cities/kranj/impact", params=params), 422, "validation-error", field
    )


async def test_ten_years_is_the_longest_range(scenario: Scenario, coordinator: Resident) -> None:
    body = (await coordinator.get("/v1/admin/cities/kranj/impact", params={"from": ym(119), "to": ym(0)})).json()

    assert len(body["months"]) == 120
    assert body["participants"] == 2
