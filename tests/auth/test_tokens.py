"""Who may call: Firebase ID tokens (emulator mode) and route access declarations."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import PROJECT_ID, assert_problem, token_for
from upscale_api.app import create_app
from upscale_api.auth import PUBLIC, Access
from upscale_api.settings import SettingsError, load_settings


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT_ID}",
        "aud": PROJECT_ID,
        "sub": "someone",
        "iat": now,
        "exp": now + 3600,
        "firebase": {"sign_in_provider": "anonymous"},
    }
    return claims | overrides


async def _me(client: AsyncTestClient[Any], authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return await client.get("/v1/me", headers=headers)


async def test_an_anonymous_firebase_user_is_accepted(client: AsyncTestClient[Any]) -> None:
    response = await _me(client, f"Bearer {token_for('anon-user', provider='anonymous')}")

    assert_problem(response, 404, "not-registered")  # signed in, just not registered


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, "required"),
        ("Basic dXNlcjpwYXNz", "required"),
        ("Bearer ", "required"),
        ("Bearer not-a-jwt", "invalid"),
        (f"Bearer {_unsigned(_claims(exp=int(time.time()) - 120))}", "expired"),
        (f"Bearer {_unsigned(_claims(iat=int(time.time()) + 600))}", "future"),
        (f"Bearer {_unsigned(_claims(aud='another-project'))}", "invalid"),
        (f"Bearer {_unsigned(_claims(iss='https://securetoken.google.com/another-project'))}", "invalid"),
        (f"Bearer {_unsigned(_claims(sub=''))}", "invalid"),
        (f"Bearer {_unsigned({k: v for k, v in _claims().items() if k != 'exp'})}", "exp"),
    ],
    ids=[
        "missing",
        "basic",
        "empty",
        "garbage",
        "expired",
        "issued-in-future",
        "audience",
        "issuer",
        "subject",
        "no-exp",
    ],
)
async def test_missing_expired_and_forged_tokens_are_refused(
    client: AsyncTestClient[Any], authorization: str | None, why: str
) -> None:
    response = await _me(client, authorization)

    problem = assert_problem(response, 401, "unauthenticated")
    assert why in problem["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_production_refuses_the_auth_emulator() -> None:
    with pytest.raises(SettingsError, match=r"^FIREBASE_AUTH_EMULATOR_HOST: must not be set"):
        load_settings({"UPSCALE_ENV": "production", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"})


def test_every_route_declares_who_may_call_it() -> None:
    app = create_app(load_settings({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}))
    undeclared = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if route.path.startswith("/schema"):
                continue  # the API document itself is public
            access = [g for g in handler.resolve_guards() if isinstance(g, Access)]
            if len(access) != 1:
                undeclared.append(route.path)
    assert undeclared == []


async def test_signed_in_routes_are_marked_in_the_api_document(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            public = path.startswith(("/v1/cities", "/health", "/v1/open"))
            assert ("security" in operation) is not public, (method, path)


def test_public_is_the_only_unauthenticated_access() -> None:
    assert PUBLIC.signed_in is False
