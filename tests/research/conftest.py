"""Studies for the research tests: a Kranj campaign with nudges and challenges, a study on it, consent."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeCampaign
from tests.factories import TEXT, Resident
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.research.store import apply_studies
from upscale_api.research.structs import Study
from upscale_api.roles.service import grant_role

MakeStudy = Callable[..., Awaitable[Study]]

NUDGES = [
    {"code": "every-day", "schedule": {"time": "12:00"}, "audience": "all", "title": TEXT, "body": TEXT},
    {"code": "social-norm", "schedule": {"time": "12:00"}, "audience": "all", "title": TEXT, "body": TEXT},
]
CHALLENGES = [
    {
        "code": "week-50",
        "title": TEXT,
        "description": TEXT,
        "rule": {"kind": "quantity", "action_types": ["cycle-instead-of-car"], "target": 50, "window": "week"},
    },
    {
        "code": "days-3",
        "title": TEXT,
        "description": TEXT,
        "rule": {"kind": "distinct_days", "categories": ["mobility"], "days": 3},
    },
]


@pytest.fixture
async def study_campaign(make_campaign: MakeCampaign) -> Campaign:
    """An active, open Kranj campaign without baseline questions, with two nudges and two challenges."""
    return await make_campaign(cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES)


def study_definition(campaign: str, **overrides: Any) -> Study:
    """A 1:1 study of ``campaign``: the treated arm gets the social-norm nudge half the time and sees days-3."""
    definition: dict[str, Any] = {
        "code": f"study-{uuid.uuid4().hex[:10]}",
        "title": {"sl": "Raziskava", "en": "A study"},
        "description": TEXT,
        "campaigns": [campaign],
        "seed": "test-seed-0001",
        "arm": [
            {"code": "control", "control": True, "title": TEXT},
            {
                "code": "treated",
                "title": TEXT,
                "nudges": ["social-norm"],
                "challenges": ["days-3"],
                "nudge_probability": 0.5,
            },
        ],
        "wave": [{"code": "baseline", "survey": "travel-habits", "opens": "enrolment", "remind_after_days": 1}],
        "export": {"k": 3, "min_cell": 3, "quasi_identifiers": ["city", "district"], "district_min_participants": 3},
    }
    return msgspec.convert(definition | overrides, Study)


@pytest.fixture
def make_study(pool: db.Pool) -> MakeStudy:
    """Factory: a study stored as if applied from a file (see ``study_definition``)."""

    async def make(campaign: str, **overrides: Any) -> Study:
        study = study_definition(campaign, **overrides)
        async with pool.acquire() as conn, conn.transaction():
            _, problems = await apply_studies(conn, [("kranj", study)], "file")
        assert problems == []
        return study

    return make


async def consent(resident: Resident, *purposes: str, granted: bool = True) -> dict[str, Any]:
    """Decide ``purposes`` on the versions in force, as the app does after showing them."""
    shown = {c["purpose"]: c["version"] for c in (await resident.get("/v1/me/consents")).json()["items"]}
    decisions = [{"purpose": p, "version": shown[p], "granted": granted} for p in purposes]
    response = await resident.put("/v1/me/consents", json={"decisions": decisions})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def enrol(resident: Resident, campaign: str) -> None:
    response = await resident.post(f"/v1/campaigns/{campaign}/enrolment", json={})
    assert response.status_code in (200, 201), response.text


async def researcher_of(study: str, client: AsyncTestClient[Any], pool: db.Pool) -> Resident:
    staff = Resident(uid=f"researcher-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, staff.uid, "researcher", None, granted_by="test", study=study)
    return staff


async def arm_of(pool: db.Pool, study: str, resident: Resident) -> Any:
    return await pool.fetchrow(
        "SELECT arm.code AS arm, a.probability, a.assigned_at, a.stratum, a.position FROM study_assignments a "
        "JOIN studies s ON s.id = a.study_id JOIN study_arms arm ON arm.id = a.arm_id "
        "JOIN residents r ON r.id = a.resident_id WHERE s.code = $1 AND r.firebase_uid = $2",
        study,
        resident.uid,
    )
