"""A database of the reports' own, so every figure of a month is known.

The session database is shared with every other test (they log actions in
Kranj too); here residents log, through the API, a known set of actions over
the last months (the backdating window is widened to a year for that), then
the scoring job runs once and the tests read the report.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import NewDatabase
from tests.factories import Resident, coordinator_of, settings_for_tests
from upscale_api import db, migrations
from upscale_api.app import create_app
from upscale_api.scoring.service import tick

ZONE = zoneinfo.ZoneInfo("Europe/Ljubljana")


def month_of(months_ago: int) -> date:
    """The first day of the local month ``months_ago`` before this one."""
    today = datetime.now(ZONE).date()
    year, index = divmod(today.year * 12 + today.month - 1 - months_ago, 12)
    return date(year, index + 1, 1)


def ym(months_ago: int) -> str:
    return f"{month_of(months_ago):%Y-%m}"


def on(months_ago: int, day: int) -> str:
    """Noon local time on ``day`` of that month (a minute ago for this month: never in the future)."""
    first = month_of(months_ago)
    if months_ago == 0:
        return max(
            datetime.now(UTC) - timedelta(minutes=1), datetime(first.year, first.month, 1, tzinfo=ZONE)
        ).isoformat()
    return datetime(first.year, first.month, day, 12, tzinfo=ZONE).isoformat()


@dataclass
class Scenario:
    """What was logged in Kranj, by month (``YYYY-MM``) and category: kg CO2e and actions."""

    url: str
    logged: dict[str, dict[str, list[float]]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, month: str, category: str, co2e_kg: float) -> None:
        kg, actions = self.logged[month].get(category, [0.0, 0])
        self.logged[month][category] = [kg + co2e_kg, actions + 1]

    def month_kg(self, month: str) -> float:
        return sum(kg for kg, _ in self.logged[month].values())

    @property
    def total_kg(self) -> float:
        return sum(self.month_kg(m) for m in list(self.logged))


@pytest.fixture(scope="package")
async def reports_url(new_database: NewDatabase) -> str:
    url = await new_database()
    pool = await db.create_pool(url, settings_for_tests())
    async with pool.acquire() as conn:
        await migrations.migrate(conn)
    await pool.close()
    return url


@pytest.fixture(scope="package")
async def reports_client(reports_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings_for_tests(UPSCALE_BACKDATE_DAYS="365"), database_url=reports_url)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="package")
async def reports_pool(reports_url: str, reports_client: AsyncTestClient[Any]) -> AsyncIterator[db.Pool]:
    pool = await db.create_pool(reports_url, settings_for_tests())
    yield pool
    await pool.close()


async def _register(client: AsyncTestClient[Any], city: str) -> Resident:
    resident = Resident(uid=f"test-{uuid.uuid4().hex}", client=client)
    response = await resident.put("/v1/me", json={"city": city})
    assert response.status_code == 201, response.text
    return resident


async def _log(resident: Resident, action_type: str, quantity: float, performed_at: str) -> float:
    response = await resident.log(action_type, quantity, performed_at=performed_at)
    assert response.status_code == 201, response.text
    co2e_kg: float = response.json()["co2e_kg"]
    return co2e_kg


@pytest.fixture(scope="package")
async def scenario(reports_url: str, reports_client: AsyncTestClient[Any], reports_pool: db.Pool) -> Scenario:
    """Kranj: two residents active last month (one of them with three actions on two days), one three
    months ago, one this month; nothing two and four months ago; a deleted action; a Ljubljana resident."""
    seen = Scenario(url=reports_url)
    anna, bor, cene = [await _register(reports_client, "kranj") for _ in range(3)]
    ljubljana = await _register(reports_client, "ljubljana")

    for who, action_type, category, quantity, months_ago, day in [
        (anna, "cycle-instead-of-car", "mobility", 10, 1, 3),
        (anna, "walk-instead-of-car", "mobility", 4, 1, 10),
        (anna, "vegetarian-instead-of-chicken", "food", 1, 1, 10),
        (anna, "cycle-instead-of-car", "mobility", 2, 0, 0),
        (bor, "thermostat-down-1c", "energy", 1, 1, 12),
        (bor, "repair-clothing-item", "consumption", 1, 3, 5),
    ]:
        seen.add(ym(months_ago), category, await _log(who, action_type, quantity, on(months_ago, day)))

    deleted = await cene.log("food-saved-from-bin", 2, performed_at=on(1, 5))
    assert (await cene.delete(f"/v1/me/actions/{deleted.json()['id']}")).status_code == 204
    await _log(ljubljana, "cycle-instead-of-car", 50, on(1, 3))

    await tick(reports_pool, datetime.now(UTC))
    return seen


@pytest.fixture
async def coordinator(reports_client: AsyncTestClient[Any], reports_pool: db.Pool) -> Resident:
    """A coordinator of Kranj."""
    return await coordinator_of("kranj", reports_client, reports_pool)
