"""Coordinators manage their city's campaigns over the API and watch the numbers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident, Score
from tests.factories import TODAY, Resident, action, assert_problem, campaign_definition, local_noon
from upscale_api import db
from upscale_api.roles.service import grant_role


def _body(**overrides: Any) -> dict[str, Any]:
    return msgspec.to_builtins(campaign_definition(**overrides))  # type: ignore[no-any-return]


async def test_a_coordinator_creates_and_updates_a_campaign(coordinator: Resident, make_resident: MakeResident) -> None:
    body = _body(cities=["kranj"], team=[], challenge=[])
    path = f"/v1/admin/campaigns/{body['code']}"

    created = await coordinator.put(path, json=body)
    updated = await coordinator.put(path, json=body | {"description": {"sl": "Nov", "en": "New"}})
    stored = (await coordinator.get(path)).json()
    listed = [c["code"] for c in (await coordinator.get("/v1/admin/campaigns")).json()]
    resident = await make_resident("kranj", locale="en")
    resident_sees = [c["code"] for c in (await resident.get("/v1/campaigns")).json()]

    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["source"] == "api" and created.json()["phase"] == "active"
    assert updated.json()["definition"]["description"] == {"sl": "Nov", "en": "New"}
    assert stored["definition"]["description"] == {"sl": "Nov", "en": "New"}
    assert (await resident.get(path.replace("/admin", ""))).json()["description"] == "New"
    assert body["code"] in listed and body["code"] in resident_sees


def _scheduled(**overrides: Any) -> dict[str, Any]:
    """A campaign that has not started, so its cities may still change."""
    return _body(
        team=[],
        challenge=[],
        starts_on=(TODAY + timedelta(days=30)).isoformat(),
        ends_on=(TODAY + timedelta(days=60)).isoformat(),
        **overrides,
    )


async def test_a_coordinator_cannot_take_over_another_citys_campaign(
    coordinator: Resident, other_coordinator: Resident, make_resident: MakeResident, pool: db.Pool
) -> None:
    """What decides is the stored campaign's city, not the cities in the request body."""
    body = _scheduled(cities=["ljubljana"])
    path = f"/v1/admin/campaigns/{body['code']}"
    assert (await other_coordinator.put(path, json=body)).status_code == 201

    taken = await coordinator.put(path, json=body | {"cities": ["kranj"], "title": {"sl": "Moja", "en": "Mine"}})
    joined = await coordinator.put(path, json=body | {"cities": ["ljubljana", "kranj"]})

    assert_problem(taken, 403, "forbidden")
    assert_problem(joined, 403, "forbidden")
    stored = (await other_coordinator.get(path)).json()
    assert (stored["city"], stored["definition"]["cities"], stored["definition"]["title"]) == (
        "ljubljana",
        ["ljubljana"],
        body["title"],
    )
    in_kranj = [c["code"] for c in (await (await make_resident("kranj")).get("/v1/campaigns")).json()]
    in_ljubljana = [c["code"] for c in (await (await make_resident("ljubljana")).get("/v1/campaigns")).json()]
    assert body["code"] not in in_kranj and body["code"] in in_ljubljana


async def test_a_coordinator_cannot_reach_into_other_cities_with_a_new_campaign(
    coordinator: Resident, pool: db.Pool
) -> None:
    body = _scheduled(cities=["kranj", "ljubljana"])

    assert_problem(await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body), 403, "forbidden")
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE code = $1", body["code"]) == 0


async def test_only_an_admin_moves_a_campaign_to_another_city(
    client: AsyncTestClient[Any], pool: db.Pool, coordinator: Resident
) -> None:
    both = Resident(uid=f"coordinator-{uuid.uuid4().hex}", client=client)
    for city in ("kranj", "ljubljana"):
        await grant_role(pool, both.uid, "coordinator", city, granted_by="test")
    admin = Resident(uid=f"admin-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, admin.uid, "admin", None, granted_by="test")
    body = _scheduled(cities=["kranj"])
    path = f"/v1/admin/campaigns/{body['code']}"
    await coordinator.put(path, json=body)

    by_coordinator = await both.put(path, json=body | {"cities": ["ljubljana"]})
    by_admin = await admin.put(path, json=body | {"cities": ["ljubljana"]})

    assert_problem(by_coordinator, 403, "forbidden", "cities[0]")
    assert by_admin.status_code == 200, by_admin.text
    assert (await admin.get(path)).json()["city"] == "ljubljana"
    assert_problem(await coordinator.get(path), 403, "forbidden")


async def test_another_citys_coordinator_gets_403(coordinator: Resident, other_coordinator: Resident) -> None:
    body = _body(cities=["kranj"], team=[], challenge=[])
    await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body)

    for path in ("", "/teams", "/stats"):
        assert_problem(await other_coordinator.get(f"/v1/admin/campaigns/{body['code']}{path}"), 403, "forbidden")
    assert_problem(await other_coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body), 403, "forbidden")
    assert body["code"] not in [c["code"] for c in (await other_coordinator.get("/v1/admin/campaigns")).json()]


async def test_residents_without_a_role_get_403(resident: Resident) -> None:
    assert_problem(await resident.get("/v1/admin/campaigns"), 403, "forbidden")


async def test_an_admin_manages_every_city(client: AsyncTestClient[Any], pool: db.Pool, coordinator: Resident) -> None:
    admin = Resident(uid=f"admin-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, admin.uid, "admin", None, granted_by="test")
    body = _body(cities=["kranj"], team=[], challenge=[])
    await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body)

    seen = await admin.get(f"/v1/admin/campaigns/{body['code']}")
    listed = [c["code"] for c in (await admin.get("/v1/admin/campaigns")).json()]

    assert seen.status_code == 200 and seen.json()["city"] == "kranj"
    assert body["code"] in listed


async def test_bad_campaigns_are_refused_with_every_field(coordinator: Resident, pool: db.Pool) -> None:
    body = _body(cities=["kranj"])
    body["action"][0]["type"] = "teleport"
    body["challenge"][0]["rule"]["target"] = -5

    problem = assert_problem(
        await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body), 422, "validation-error"
    )
    wrong_code = await coordinator.put("/v1/admin/campaigns/another-code", json=_body(cities=["kranj"]))

    assert "challenge[0].rule.target" in {e["field"] for e in problem["errors"]}
    assert_problem(wrong_code, 422, "validation-error", "code")
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE code = $1", body["code"]) == 0


async def test_a_started_campaign_keeps_its_points(coordinator: Resident) -> None:
    body = _body(cities=["kranj"], team=[], challenge=[])
    await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body)
    body["action"][0]["points_per_unit"] = 99

    problem = assert_problem(
        await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body), 409, "rule-violation"
    )

    assert "earned already" in problem["detail"]


async def test_campaigns_from_files_are_changed_in_their_files(coordinator: Resident, pool: db.Pool) -> None:
    code = await pool.fetchval(
        "SELECT code FROM campaigns WHERE source = 'file' AND city_id = "
        "(SELECT id FROM cities WHERE code = 'kranj') LIMIT 1"
    )
    assert code is not None
    body = _body(
        code=code,
        cities=["kranj"],
        team=[],
        challenge=[],
        starts_on=(TODAY + timedelta(days=400)).isoformat(),
        ends_on=(TODAY + timedelta(days=430)).isoformat(),
    )

    problem = assert_problem(await coordinator.put(f"/v1/admin/campaigns/{code}", json=body), 409, "rule-violation")

    assert "created through the file" in problem["detail"]


async def test_stats_show_participation_and_savings(
    coordinator: Resident, make_resident: MakeResident, pool: db.Pool, score: Score
) -> None:
    body = _body(
        cities=["kranj"],
        enrolment="team",
        challenge=[],
        question=[],
        team=[{"code": "school", "kind": "school", "name": "OŠ Test"}],
    )
    assert (await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body)).status_code == 201
    active, idle = await make_resident("kranj"), await make_resident("kranj")
    for member in (active, idle):
        await member.post(f"/v1/campaigns/{body['code']}/enrolment", json={"team": "school"})
    cycled = (
        await active.post("/v1/me/actions", json=action("cycle-instead-of-car", 12, performed_at=local_noon(0)))
    ).json()
    await active.post("/v1/me/actions", json=action("walk-instead-of-car", 2, performed_at=local_noon(0)))
    await score()  # the figures are the scoring jobs'

    response = await coordinator.get(f"/v1/admin/campaigns/{body['code']}/stats")
    assert response.status_code == 200, response.text
    stats = response.json()
    teams = (await coordinator.get(f"/v1/admin/campaigns/{body['code']}/teams")).json()

    assert (stats["enrolled"], stats["left"], stats["active_residents"]) == (2, 0, 1)
    by_type = {t["action_type"]: t for t in stats["by_action_type"]}
    assert by_type["cycle-instead-of-car"]["quantity"] == 12
    assert by_type["cycle-instead-of-car"]["co2e_kg"] == pytest.approx(cycled["co2e_kg"], abs=1e-3)
    assert stats["by_day"][0]["active_residents"] == 1 and stats["by_day"][0]["actions"] == 2
    school = next(t for t in stats["teams"] if t["team"] == "school")
    assert (school["members"], school["active_members"], school["participation"]) == (2, 1, 0.5)
    assert stats["retention"][0]["size"] == 2 and stats["retention"][0]["active"] == 1
    assert {t["code"]: t["members"] for t in teams}["school"] == 2
    assert all(t["invite_code"] for t in teams)
    assert datetime.fromisoformat(stats["by_week"][0]["week"]).weekday() == 0


async def test_broadcasts_preview_then_reach_the_segments_inbox(
    coordinator: Resident, other_coordinator: Resident, make_resident: MakeResident, pool: db.Pool
) -> None:
    body = _body(
        cities=["kranj"],
        enrolment="team",
        challenge=[],
        question=[],
        team=[
            {"code": "school", "kind": "school", "name": "OŠ Test"},
            {"code": "office", "kind": "workplace", "name": "Office"},
        ],
    )
    await coordinator.put(f"/v1/admin/campaigns/{body['code']}", json=body)
    pupil, clerk = await make_resident("kranj", locale="sl"), await make_resident("kranj", locale="en")
    await pupil.post(f"/v1/campaigns/{body['code']}/enrolment", json={"team": "school"})
    await clerk.post(f"/v1/campaigns/{body['code']}/enrolment", json={"team": "office"})
    await clerk.post("/v1/me/actions", json=action("walk-instead-of-car", 1))
    message = {"title": {"sl": "Hvala!", "en": "Thank you!"}, "body": {"sl": "Odlično.", "en": "Great."}}
    path = f"/v1/admin/campaigns/{body['code']}/broadcasts"

    dry = (await coordinator.post(path, json=message | {"dry_run": True})).json()
    assert dry["recipients"] == 2 and dry["preview"]["sl"]["title"] == "Hvala!" and dry["dry_run"] is True
    assert (await pupil.get("/v1/me/notifications")).json()["items"] == []

    team_only = (await coordinator.post(path, json=message | {"segment": {"team": "school"}})).json()
    inactive = (await coordinator.post(path, json=message | {"segment": {"inactive_days": 3}, "dry_run": True})).json()

    assert team_only["recipients"] == 1 and inactive["recipients"] == 1
    assert [n["title"] for n in (await pupil.get("/v1/me/notifications")).json()["items"]] == ["Hvala!"]
    assert (await clerk.get("/v1/me/notifications")).json()["items"] == []
    assert_problem(
        await coordinator.post(path, json=message | {"segment": {"team": "nope"}}),
        422,
        "validation-error",
        "segment.team",
    )
    assert_problem(await other_coordinator.post(path, json=message), 403, "forbidden")
