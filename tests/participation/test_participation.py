"""Residents in campaigns: seeing them, enrolling, leaving, and progress in every rule kind."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tests.conftest import MakeResident, Score
from tests.factories import TEXT, TODAY, ZONE, Resident, action, assert_problem, local_noon
from upscale_api import db
from upscale_api.campaigns.structs import Campaign


async def _progress(score: Score, resident: Resident, campaign: Campaign) -> dict[str, dict[str, Any]]:
    """Progress after the worker's next scoring run."""
    await score()
    response = await resident.get(f"/v1/me/campaigns/{campaign.code}")
    assert response.status_code == 200, response.text
    return {c["code"]: c for c in response.json()["challenges"]}


async def _enrol(resident: Resident, campaign: Campaign, **body: Any) -> Any:
    return await resident.post(
        f"/v1/campaigns/{campaign.code}/enrolment", json={"baseline": {"car_km_per_week": 100}} | body
    )


async def _team_of_two(
    make_resident: MakeResident, make_campaign: Any, pool: db.Pool
) -> tuple[Campaign, Resident, Resident]:
    """A team campaign and two residents in its team "school", enrolled three days ago."""
    campaign = await make_campaign(enrolment="team")
    members = await make_resident(), await make_resident()
    for member in members:
        await _enrol(member, campaign, team="school")
    await pool.execute(
        "UPDATE enrolments SET enrolled_at = now() - interval '3 days' "
        "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
    )
    return campaign, *members


async def test_residents_see_the_campaigns_of_their_city(make_resident: MakeResident, make_campaign: Any) -> None:
    campaign = await make_campaign()
    kranj, ljubljana = await make_resident("kranj", locale="sl"), await make_resident("ljubljana")

    listed = {c["code"]: c for c in (await kranj.get("/v1/campaigns")).json()}
    detail = (await kranj.get(f"/v1/campaigns/{campaign.code}")).json()

    assert listed[campaign.code]["title"] == "Kolesarski mesec"  # the resident's locale
    assert listed[campaign.code]["phase"] == "active" and listed[campaign.code]["enrolled"] is False
    assert campaign.code not in {c["code"] for c in (await ljubljana.get("/v1/campaigns")).json()}
    assert_problem(await ljubljana.get(f"/v1/campaigns/{campaign.code}"), 404, "not-found", "campaign")
    assert [t["code"] for t in detail["teams"]] == ["office", "school"]
    assert detail["questions"][0]["code"] == "car_km_per_week"
    assert {c["kind"] for c in detail["challenges"]} == {
        "quantity",
        "distinct_days",
        "team_participation",
        "collective",
        "personal",
    }


async def test_enrolling_leaving_and_enrolling_again(resident: Resident, make_campaign: Any) -> None:
    campaign = await make_campaign()

    first = await _enrol(resident, campaign)
    again = await _enrol(resident, campaign, team="school")
    left = await resident.delete(f"/v1/campaigns/{campaign.code}/enrolment")
    listed = {c["code"]: c for c in (await resident.get("/v1/campaigns")).json()}
    back = await _enrol(resident, campaign)

    assert (first.status_code, again.status_code, left.status_code, back.status_code) == (201, 200, 204, 201)
    assert again.json()["team"] == "school"
    assert listed[campaign.code]["enrolled"] is False
    assert_problem(await resident.get("/v1/me/campaigns/unknown-campaign"), 404, "not-found")


async def test_enrolment_rules_name_the_field(make_resident: MakeResident, make_campaign: Any) -> None:
    by_team = await make_campaign(enrolment="team")
    by_invite = await make_campaign(enrolment="invite", invite_code="TOPLO-2026")
    alice, bob, carol = await make_resident(), await make_resident(), await make_resident()

    assert_problem(await _enrol(alice, by_team), 422, "validation-error", "team")
    assert_problem(await _enrol(alice, by_team, team="nope"), 422, "validation-error", "team")
    assert_problem(await _enrol(alice, by_invite, invite_code="WRONG"), 422, "validation-error", "invite_code")
    assert (await _enrol(alice, by_invite, invite_code="toplo-2026")).status_code == 201
    missing = await alice.post(f"/v1/campaigns/{by_team.code}/enrolment", json={"team": "school"})
    assert_problem(missing, 422, "validation-error", "baseline.car_km_per_week")
    out_of_range = await _enrol(alice, by_team, team="school", baseline={"car_km_per_week": -5})
    assert_problem(out_of_range, 422, "validation-error", "baseline.car_km_per_week")
    # the school team takes at most 2 members
    assert (await _enrol(alice, by_team, team="school")).status_code == 201
    assert (await _enrol(bob, by_team, team="school")).status_code == 201
    assert (
        "full" in assert_problem(await _enrol(carol, by_team, team="school"), 422, "validation-error", "team")["detail"]
    )


async def test_team_invite_codes_enrol_into_the_team(resident: Resident, make_campaign: Any, pool: db.Pool) -> None:
    campaign = await make_campaign(enrolment="team")
    invite = await pool.fetchval(
        "SELECT t.invite_code FROM teams t JOIN campaigns k ON k.id = t.campaign_id WHERE k.code = $1 AND t.code = 'office'",
        campaign.code,
    )

    response = await _enrol(resident, campaign, team=invite.lower())

    assert response.status_code == 201
    listed = {c["code"]: c for c in (await resident.get("/v1/campaigns")).json()}
    assert listed[campaign.code]["team"] == "office"


async def test_quantity_and_distinct_days_progress(resident: Resident, make_campaign: Any, score: Score) -> None:
    campaign = await make_campaign()
    await _enrol(resident, campaign)
    await resident.post(
        "/v1/me/actions/batch",
        json={
            "actions": [
                action("cycle-instead-of-car", 30, performed_at=local_noon(0)),
                action("cycle-instead-of-car", 25, performed_at=local_noon(0)),
                action("walk-instead-of-car", 2, performed_at=local_noon(0)),
            ]
        },
    )

    progress = await _progress(score, resident, campaign)

    assert progress["week-50"]["met"] is True and progress["week-50"]["value"] == 55
    assert progress["week-50"]["current_window"] == 55 and progress["week-50"]["unit"] == "km"
    assert progress["days-3"]["value"] == 1 and progress["days-3"]["progress"] == pytest.approx(1 / 3, abs=1e-3)
    assert progress["days-3"]["met"] is False


async def test_a_challenge_is_no_longer_met_once_the_actions_behind_it_are_deleted(
    make_resident: MakeResident, make_campaign: Any, pool: db.Pool, score: Score
) -> None:
    campaign, cyclist, _ = await _team_of_two(make_resident, make_campaign, pool)
    ride = action("cycle-instead-of-car", 30, performed_at=local_noon(0))
    walks = [action("walk-instead-of-car", 1, performed_at=local_noon(days)) for days in (1, 0)]
    await cyclist.post("/v1/me/actions/batch", json={"actions": [ride, action("cycle-instead-of-car", 25), *walks]})
    met = await _progress(score, cyclist, campaign)

    for deleted in (ride, walks[0]):
        assert (await cyclist.delete(f"/v1/me/actions/{deleted['id']}")).status_code == 204
    fallen_back = await _progress(score, cyclist, campaign)

    assert (met["week-50"]["met"], met["half-team"]["met"], met["half-team"]["team_members_met"]) == (True, True, 1)
    assert (fallen_back["week-50"]["value"], fallen_back["week-50"]["met"]) == (25, False)
    assert (fallen_back["half-team"]["team_members_met"], fallen_back["half-team"]["met"]) == (0, False)


async def test_actions_before_enrolment_do_not_count(
    resident: Resident, make_campaign: Any, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign()
    await _enrol(resident, campaign)
    # enrolled two days ago; a back-dated action from three days ago stays out
    await pool.execute(
        "UPDATE enrolments SET enrolled_at = now() - interval '2 days' WHERE resident_id = "
        "(SELECT id FROM residents WHERE firebase_uid = $1)",
        resident.uid,
    )
    await resident.post(
        "/v1/me/actions/batch",
        json={
            "actions": [
                action("walk-instead-of-car", 1, performed_at=local_noon(3)),
                action("walk-instead-of-car", 1, performed_at=local_noon(2)),
                action("walk-instead-of-car", 1, performed_at=local_noon(1)),
            ]
        },
    )

    assert (await _progress(score, resident, campaign))["days-3"]["value"] == 2


async def test_a_personal_goal_comes_from_the_residents_answer(
    resident: Resident, make_campaign: Any, score: Score
) -> None:
    campaign = await make_campaign()
    await _enrol(resident, campaign, baseline={"car_km_per_week": 80})  # goal: 16 km a week
    await resident.log("cycle-instead-of-car", 10, performed_at=local_noon(0))

    before = (await _progress(score, resident, campaign))["less-car"]
    await resident.log("walk-instead-of-car", 6, performed_at=local_noon(0))
    after = (await _progress(score, resident, campaign))["less-car"]

    assert (before["target"], before["value"], before["met"]) == (16, 10, False)
    assert (after["value"], after["met"]) == (16, True)


async def test_team_participation_follows_its_members(
    make_resident: MakeResident, make_campaign: Any, pool: db.Pool, score: Score
) -> None:
    campaign, active, idle = await _team_of_two(make_resident, make_campaign, pool)
    await active.post(
        "/v1/me/actions/batch",
        json={
            "actions": [
                action("walk-instead-of-car", 1, performed_at=local_noon(1)),
                action("walk-instead-of-car", 1, performed_at=local_noon(0)),
            ]
        },
    )

    half = (await _progress(score, idle, campaign))["half-team"]
    await active.delete(f"/v1/campaigns/{campaign.code}/enrolment")
    after_leaving = (await _progress(score, idle, campaign))["half-team"]

    assert (half["team_members"], half["team_members_met"], half["value"], half["met"]) == (2, 1, 0.5, True)
    assert (after_leaving["team_members"], after_leaving["team_members_met"], after_leaving["met"]) == (1, 0, False)


async def test_a_collective_goal_per_city_in_a_campaign_across_cities(
    make_resident: MakeResident, make_campaign: Any, score: Score
) -> None:
    campaign = await make_campaign()
    kranj_a, kranj_b, velenje = (
        await make_resident("kranj"),
        await make_resident("kranj"),
        await make_resident("velenje"),
    )
    for r in (kranj_a, kranj_b, velenje):
        await _enrol(r, campaign)
    logged = [
        (await r.log("cycle-instead-of-car", 20, performed_at=local_noon(0))).json()["co2e_kg"]
        for r in (kranj_a, kranj_b)
    ]
    await velenje.log("cycle-instead-of-car", 50, performed_at=local_noon(0))

    together = (await _progress(score, kranj_a, campaign))["together"]

    assert together["value"] == pytest.approx(sum(logged), abs=1e-6)
    assert together["unit"] == "kg CO2e"


async def test_an_ended_campaign_takes_no_enrolments(resident: Resident, make_campaign: Any) -> None:
    ended = await make_campaign(
        starts_on=(TODAY - timedelta(days=20)).isoformat(), ends_on=(TODAY - timedelta(days=1)).isoformat()
    )

    assert_problem(await _enrol(resident, ended), 409, "rule-violation", "campaign")
    assert_problem(await resident.get(f"/v1/me/campaigns/{ended.code}"), 404, "not-found")


async def test_badges_are_earned_by_their_rules(
    resident: Resident, make_campaign: Any, pool: db.Pool, score: Score
) -> None:
    badges = [
        {"code": "first", "title": TEXT, "description": TEXT, "rule": {"kind": "first_action"}},
        {"code": "streak-3", "title": TEXT, "description": TEXT, "rule": {"kind": "streak", "days": 3}},
        {"code": "ten", "title": TEXT, "description": TEXT, "rule": {"kind": "actions_count", "actions": 10}},
        {
            "code": "week-done",
            "title": TEXT,
            "description": TEXT,
            "rule": {"kind": "challenge_met", "challenge": "week-50"},
        },
    ]
    campaign = await make_campaign(badge=badges)
    await _enrol(resident, campaign)
    await pool.execute(
        "UPDATE enrolments SET enrolled_at = now() - interval '5 days' "
        "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
    )
    await resident.post(
        "/v1/me/actions/batch",
        json={"actions": [action("walk-instead-of-car", 1, performed_at=local_noon(d)) for d in (2, 1, 0)]},
    )

    await score()
    response = (await resident.get(f"/v1/me/campaigns/{campaign.code}")).json()

    earned = {b["code"]: b["earned"] for b in response["badges"]}
    assert earned == {"first": True, "streak-3": True, "ten": False, "week-done": False}


async def test_residents_start_teams_where_the_campaign_allows(make_resident: MakeResident, make_campaign: Any) -> None:
    open_teams = await make_campaign(enrolment="team", residents_create_teams=True)
    closed = await make_campaign(enrolment="team")
    founder, friend = await make_resident(), await make_resident()
    answers = {"baseline": {"car_km_per_week": 50}}

    started = await founder.post(f"/v1/campaigns/{open_teams.code}/teams", json={"name": "Naša ulica"} | answers)
    joined = await _enrol(friend, open_teams, team=started.json()["team"])
    refused = await founder.post(f"/v1/campaigns/{closed.code}/teams", json={"name": "Naša ulica"} | answers)

    assert (started.status_code, joined.status_code) == (201, 201)
    teams = {t["name"]: t for t in (await friend.get(f"/v1/campaigns/{open_teams.code}")).json()["teams"]}
    assert teams["Naša ulica"]["members"] == 2
    assert_problem(refused, 403, "forbidden", "campaign")


async def test_the_last_day_counts_until_local_midnight(
    resident: Resident, make_campaign: Any, pool: db.Pool, score: Score
) -> None:
    # A campaign whose last day was yesterday (local time): yesterday's actions count, today's do not,
    # even late in the evening in Ljubljana when UTC is still on the same date.
    campaign = await make_campaign(
        starts_on=(TODAY - timedelta(days=5)).isoformat(), ends_on=(TODAY - timedelta(days=1)).isoformat()
    )
    starts_at, ends_at = await pool.fetchrow("SELECT starts_at, ends_at FROM campaigns WHERE code = $1", campaign.code)
    assert ends_at == datetime.combine(TODAY, time(), ZONE)  # local midnight after the last day
    assert starts_at == datetime.combine(TODAY - timedelta(days=5), time(), ZONE)
    await pool.execute(
        """
        INSERT INTO enrolments (campaign_id, resident_id, city_id, baseline, enrolled_at)
        SELECT k.id, r.id, r.city_id, '{"car_km_per_week": 10}', now() - interval '5 days'
        FROM campaigns k, residents r WHERE k.code = $1 AND r.firebase_uid = $2
        """,
        campaign.code,
        resident.uid,
    )
    last_evening = datetime.combine(TODAY - timedelta(days=1), time(23, 30), ZONE).astimezone(UTC).isoformat()
    await resident.post(
        "/v1/me/actions/batch",
        json={
            "actions": [
                action("walk-instead-of-car", 1, performed_at=last_evening),
                action("walk-instead-of-car", 1, performed_at=local_noon(0)),
            ]
        },
    )

    days = (await _progress(score, resident, campaign))["days-3"]

    assert days["value"] == 1
    listed = {c["code"]: c for c in (await resident.get("/v1/campaigns")).json()}
    assert listed[campaign.code]["phase"] == "ended"
