"""Roles live in the database and are granted from the command line, never taken from the client."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from tests.factories import assert_problem, settings_for_tests, token_for
from upscale_api.auth import COORDINATOR, TokenVerifier, _unsigned_token
from upscale_api.db import Pool
from upscale_api.errors import EXCEPTION_HANDLERS
from upscale_api.roles.service import grant_role, grants_of, revoke_role

STUDY = "mobility-contest-2027-nudges"
"""The Kranj study of the definition files."""


async def test_grants_are_stored_once_and_can_be_revoked(pool: Pool) -> None:
    uid = f"staff-{uuid.uuid4().hex}"

    assert await grant_role(pool, uid, "coordinator", "kranj", granted_by="test") is True
    assert await grant_role(pool, uid, "coordinator", "kranj", granted_by="test") is False
    assert await grant_role(pool, uid, "researcher", None, granted_by="test", study=STUDY) is True
    assert [(g.role, g.city, g.study) for g in await grants_of(pool, uid)] == [
        ("coordinator", "kranj", None),
        ("researcher", None, STUDY),
    ]

    assert await revoke_role(pool, uid, "coordinator", "kranj") is True
    assert [(g.role, g.study) for g in await grants_of(pool, uid)] == [("researcher", STUDY)]


async def test_a_researcher_needs_a_known_study(pool: Pool) -> None:
    with pytest.raises(ValueError, match="needs a study"):
        await grant_role(pool, "x", "researcher", None, granted_by="test")
    with pytest.raises(ValueError, match="unknown study"):
        await grant_role(pool, "x", "researcher", None, granted_by="test", study="no-such-study")


async def test_a_coordinator_needs_a_known_city(pool: Pool) -> None:
    with pytest.raises(ValueError, match="needs a city"):
        await grant_role(pool, "x", "coordinator", None, granted_by="test")
    with pytest.raises(ValueError, match="unknown city"):
        await grant_role(pool, "x", "coordinator", "atlantis", granted_by="test")


async def test_a_role_route_answers_only_to_granted_users(database_url: str, pool: Pool) -> None:
    @get("/staff-only", guards=[COORDINATOR], sync_to_thread=False)
    def staff_only() -> str:
        return "ok"

    from upscale_api import db

    settings = settings_for_tests()

    async def open_pool(app: Litestar) -> None:
        app.state.pool = await db.create_pool(database_url, settings)

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    app = Litestar(
        [staff_only],
        on_startup=[open_pool],
        on_shutdown=[close_pool],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"token_verifier": TokenVerifier(settings)}),
    )
    uid = f"staff-{uuid.uuid4().hex}"
    # A role claim in the token means nothing: roles come from the database only.
    claimed = _unsigned_token(uid, settings.firebase_project_id, extra={"role": "admin", "admin": True})
    async with AsyncTestClient(app=app) as client:
        assert_problem(
            await client.get("/staff-only", headers={"Authorization": f"Bearer {claimed}"}), 403, "forbidden"
        )
        await grant_role(pool, uid, "coordinator", "velenje", granted_by="test")
        response = await client.get("/staff-only", headers={"Authorization": f"Bearer {token_for(uid)}"})
        assert response.status_code == 200
