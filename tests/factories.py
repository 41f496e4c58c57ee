"""Test helpers: settings, tokens, resident clients, request bodies, problem checks."""

from __future__ import annotations

import os
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
from litestar.testing import AsyncTestClient

from upscale_api.auth import dev_token
from upscale_api.campaigns.structs import Campaign
from upscale_api.db import Pool
from upscale_api.roles.service import grant_role
from upscale_api.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGNS = ROOT / "campaigns"
EMULATOR_HOST = "127.0.0.1:9099"
PROJECT_ID = "demo-upscale"


METRICS_TOKEN = "test-metrics-token-0123456789abcdef"


def settings_for_tests(**overrides: str) -> Settings:
    environ = {
        "UPSCALE_ENV": "test",
        "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
        "UPSCALE_DATA_DIR": str(ROOT / ".upscale"),
        "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "UPSCALE_DB_POOL_MIN": "1",
        "UPSCALE_DB_POOL_MAX": "10",
        "UPSCALE_RATE_LIMIT_STORE": "off",  # the suite makes many requests; tests of the limits turn them on
        "UPSCALE_METRICS_TOKEN": METRICS_TOKEN,
        "UPSCALE_LOG_LEVEL": "WARNING",  # a line per request would bury a failure's output
    }
    if os.environ.get("DATABASE_URL"):
        environ["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return load_settings(environ | overrides)


def token_for(uid: str, **kwargs: Any) -> str:
    return dev_token(uid, PROJECT_ID, **kwargs)


def action(action_type: str = "cycle-instead-of-car", quantity: float = 5.0, **fields: Any) -> dict[str, Any]:
    """A valid action body; override any field."""
    body = {
        "id": str(uuid.uuid4()),
        "action_type": action_type,
        "quantity": quantity,
        "performed_at": datetime.now(UTC).isoformat(),
    }
    return body | fields


@dataclass
class Resident:
    """A signed-in user talking to the app with their own token."""

    uid: str
    client: AsyncTestClient[Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(self.uid)}"}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers | kwargs.pop("headers", {}), **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.put(path, headers=self.headers | kwargs.pop("headers", {}), **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=self.headers | kwargs.pop("headers", {}), **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(path, headers=self.headers | kwargs.pop("headers", {}), **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers | kwargs.pop("headers", {}), **kwargs)

    async def log(
        self, action_type: str = "cycle-instead-of-car", quantity: float = 5.0, **fields: Any
    ) -> httpx.Response:
        return await self.post("/v1/me/actions", json=action(action_type, quantity, **fields))

    async def logged(self) -> list[dict[str, Any]]:
        """The resident's own actions as the app lists them, newest first (one page)."""
        response = await self.get("/v1/me/actions", params={"limit": 200})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


async def coordinator_of(city: str, client: AsyncTestClient[Any], pool: Pool) -> Resident:
    """A signed-in member of staff granted the coordinator role for ``city``."""
    staff = Resident(uid=f"coordinator-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, staff.uid, "coordinator", city, granted_by="test")
    return staff


def assert_problem(response: httpx.Response, status: int, kind: str, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type (naming ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"/problems/{kind}"
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem.get("errors", [])], problem
        assert field in problem["detail"]
    return problem


def toml_entry(text: str, table: str, code: str) -> tuple[int, int]:
    """Where the ``[[table]]`` entry with ``code`` starts and ends in a definition file's text."""
    start = text.index(f'[[{table}]]\ncode = "{code}"')
    end = text.find(f"[[{table}]]", start + 1)
    return start, len(text) if end == -1 else end


# --- Campaigns -----------------------------------------------------------------------

ZONE = zoneinfo.ZoneInfo("Europe/Ljubljana")
TODAY = datetime.now(ZONE).date()
TIME_ZONES = dict.fromkeys(("kranj", "ljubljana", "velenje"), "Europe/Ljubljana")
TEXT = {"sl": "Besedilo", "en": "Text"}


def local_noon(days_ago: int) -> str:
    """Noon ``days_ago`` local days back in Ljubljana, never in the future."""
    moment = datetime.combine(TODAY - timedelta(days=days_ago), time(12), ZONE)
    return min(moment, datetime.now(ZONE) - timedelta(seconds=5)).astimezone(UTC).isoformat()


def campaign_definition(**overrides: Any) -> Campaign:
    """An active Kranj and Velenje cycling campaign with two teams, a baseline
    question and a challenge of every rule kind; override any top-level field."""
    definition: dict[str, Any] = {
        "code": f"test-{uuid.uuid4().hex[:10]}",
        "cities": ["kranj", "velenje"],
        "title": {"sl": "Kolesarski mesec", "en": "Cycling month"},
        "description": TEXT,
        "starts_on": (TODAY - timedelta(days=10)).isoformat(),
        "ends_on": (TODAY + timedelta(days=10)).isoformat(),
        "enrolment": "open",
        "action": [
            {"type": "cycle-instead-of-car", "points_per_unit": 10},
            {"type": "walk-instead-of-car", "points_per_unit": 5},
        ],
        "team": [
            {"code": "school", "kind": "school", "name": "OŠ Test", "member_quota": 2},
            {"code": "office", "kind": "workplace", "name": "Office", "city": "velenje"},
        ],
        "question": [{"code": "car_km_per_week", "text": TEXT, "unit": "km", "max": 2000}],
        "challenge": [
            {
                "code": "week-50",
                "title": {"sl": "50 km v tednu", "en": "50 km in a week"},
                "description": TEXT,
                "rule": {"kind": "quantity", "action_types": ["cycle-instead-of-car"], "target": 50, "window": "week"},
            },
            {
                "code": "days-3",
                "title": TEXT,
                "description": TEXT,
                "rule": {"kind": "distinct_days", "categories": ["mobility"], "days": 3},
            },
            {
                "code": "half-team",
                "title": TEXT,
                "description": TEXT,
                "rule": {
                    "kind": "team_participation",
                    "share": 0.5,
                    "member_rule": {"kind": "distinct_days", "categories": ["mobility"], "days": 2},
                },
            },
            {
                "code": "together",
                "title": TEXT,
                "description": TEXT,
                "rule": {
                    "kind": "collective",
                    "categories": ["mobility"],
                    "target": 100,
                    "measure": "co2e_kg",
                    "scope": "city",
                },
            },
            {
                "code": "less-car",
                "title": TEXT,
                "description": TEXT,
                "rule": {
                    "kind": "personal",
                    "question": "car_km_per_week",
                    "share": 0.2,
                    "action_types": ["cycle-instead-of-car", "walk-instead-of-car"],
                },
            },
        ],
    }
    return msgspec.convert(definition | overrides, Campaign)
