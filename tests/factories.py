"""Test helpers: settings, tokens, resident clients, request bodies, problem checks."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from upscale_api.auth import dev_token
from upscale_api.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGNS = ROOT / "campaigns"
EMULATOR_HOST = "127.0.0.1:9099"
PROJECT_ID = "demo-upscale"


def settings_for_tests(**overrides: str) -> Settings:
    environ = {
        "UPSCALE_ENV": "test",
        "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
        "UPSCALE_DATA_DIR": str(ROOT / ".upscale"),
        "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "UPSCALE_DB_POOL_MIN": "1",
        "UPSCALE_DB_POOL_MAX": "10",
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
