"""Rewards fixtures: partners made by Kranj's coordinator over the API, their keys, and residents with points."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeCampaign, MakeResident, Score
from tests.factories import Resident

TEXT = {"sl": "Besedilo", "en": "Text"}


def reward(code: str | None = None, **fields: Any) -> dict[str, Any]:
    """A reward's definition: 100 points, no stock or limit, unless told otherwise."""
    return {
        "code": code or f"reward-{uuid.uuid4().hex[:10]}",
        "title": {"sl": "Nagrada", "en": "A reward"},
        "description": TEXT,
        "cost": 100,
    } | fields


def partner_definition(code: str, *rewards: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "code": code,
        "kind": "shop",
        "name": {"sl": "Trgovina", "en": "A shop"},
        "description": TEXT,
        "reward": list(rewards),
    } | fields


@dataclass
class Partner:
    """A partner of Kranj with one API key, calling the partner API."""

    code: str
    rewards: list[str]
    key: str
    key_id: int
    client: AsyncTestClient[Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=self.headers, **kwargs)


MakePartner = Callable[..., Awaitable[Partner]]


@pytest.fixture
def make_partner(client: AsyncTestClient[Any], coordinator: Resident) -> MakePartner:
    """Factory: a Kranj partner with the given rewards (one of 100 points by default) and an API key."""

    async def make(*rewards: dict[str, Any], **fields: Any) -> Partner:
        code = f"partner-{uuid.uuid4().hex[:10]}"
        definition = partner_definition(code, *(rewards or (reward(),)), **fields)
        created = await coordinator.put(f"/v1/admin/cities/kranj/partners/{code}", json=definition)
        assert created.status_code == 201, created.text
        key = await coordinator.post(f"/v1/admin/cities/kranj/partners/{code}/keys")
        assert key.status_code == 201, key.text
        return Partner(
            code, [r["code"] for r in definition["reward"]], key.json()["key"], key.json()["info"]["id"], client
        )

    return make


Earn = Callable[[Resident, int], Awaitable[None]]


@pytest.fixture
async def points_campaign(make_campaign: MakeCampaign) -> str:
    """An open Kranj campaign where cycling earns 10 points a km."""
    campaign = await make_campaign(cities=["kranj"], team=[], question=[], challenge=[], enrolment="open")
    return campaign.code


@pytest.fixture
def earn(points_campaign: str, score: Score) -> Earn:
    """Give a resident ``points`` more in Kranj's programme: enrol, cycle points/10 km, score."""

    async def run(resident: Resident, points: int) -> None:
        enrolled = await resident.post(f"/v1/campaigns/{points_campaign}/enrolment", json={})
        assert enrolled.status_code in (200, 201), enrolled.text
        logged = await resident.log("cycle-instead-of-car", points / 10)
        assert logged.status_code == 201, logged.text
        await score()

    return run


@pytest.fixture
async def make_earner(make_resident: MakeResident, earn: Earn) -> Callable[[int], Awaitable[Resident]]:
    """Factory: a Kranj resident who earned ``points``."""

    async def make(points: int) -> Resident:
        resident = await make_resident("kranj")
        await earn(resident, points)
        return resident

    return make


async def redeem(resident: Resident, reward_code: str, redemption_id: str | None = None) -> httpx.Response:
    body = {"id": redemption_id or str(uuid.uuid4()), "reward": reward_code}
    return await resident.post("/v1/me/redemptions", json=body)


async def balance(resident: Resident, city: str = "kranj") -> dict[str, Any]:
    response = await resident.get("/v1/me/points")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = next(b for b in response.json() if b["city"] == city)
    return found
