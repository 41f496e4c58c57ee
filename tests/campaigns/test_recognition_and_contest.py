"""What coordinators see of a campaign's outcome: which teams are recognised in a
team challenge (members, members meeting the member rule, share, since when), the
cities and teams ranked by the campaign's declared measure, and its collective goals;
over the API and as CSV. Also: a team challenge's badge for every member or only for
those who met the member rule, and validation messages that say what is allowed."""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec

from tests.conftest import MakeCampaign, MakeResident, Score
from tests.factories import TEXT, TIME_ZONES, TODAY, Resident, assert_problem, campaign_definition, local_noon
from upscale_api import db
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.campaigns.structs import Campaign


async def _join(resident: Resident, campaign: Campaign, **body: Any) -> None:
    response = await resident.post(
        f"/v1/campaigns/{campaign.code}/enrolment", json={"baseline": {"car_km_per_week": 100}} | body
    )
    assert response.status_code in (200, 201), response.text


async def _enrolled_days_ago(pool: db.Pool, campaign: Campaign, days: int) -> None:
    await pool.execute(
        "UPDATE enrolments SET enrolled_at = now() - make_interval(days => $2), written_xid = pg_current_xact_id() "
        "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
        days,
    )


async def _cycle_on_days(resident: Resident, *days_ago: int, km: float = 5) -> None:
    for days in days_ago:
        logged = await resident.log("cycle-instead-of-car", km, performed_at=local_noon(days))
        assert logged.status_code == 201, logged.text


def _half_team(**rule: Any) -> dict[str, Any]:
    return {
        "code": "half-team",
        "title": {"sl": "Pol ekipe", "en": "Half the team"},
        "description": TEXT,
        "rule": {
            "kind": "team_participation",
            "share": 0.5,
            "member_rule": {"kind": "distinct_days", "categories": ["mobility"], "days": 2},
        }
        | rule,
    }


async def _two_teams(make_campaign: MakeCampaign, make_resident: MakeResident, pool: db.Pool, **rule: Any) -> Any:
    """A Kranj campaign with two teams of two: in the school one member cycles on two days (half the team
    meets the member rule), the other once; in the office one member cycles once."""
    campaign = await make_campaign(
        cities=["kranj"],
        team=[
            {"code": "school", "kind": "school", "name": "OŠ Orehek"},
            {"code": "office", "kind": "workplace", "name": "Občina Kranj"},
        ],
        challenge=[_half_team(**rule)],
        badge=[
            {
                "code": "recognised",
                "title": TEXT,
                "description": TEXT,
                "rule": {"kind": "challenge_met", "challenge": "half-team"},
            }
        ],
    )
    school = [await make_resident("kranj"), await make_resident("kranj")]
    office = [await make_resident("kranj"), await make_resident("kranj")]
    for member in school:
        await _join(member, campaign, team="school")
    for member in office:
        await _join(member, campaign, team="office")
    await _enrolled_days_ago(pool, campaign, 5)
    await _cycle_on_days(school[0], 1, 2)
    await _cycle_on_days(school[1], 1)
    await _cycle_on_days(office[0], 1)
    return campaign, school, office


async def test_coordinators_see_which_teams_are_recognised_with_members_share_and_since_when(
    make_campaign: MakeCampaign, make_resident: MakeResident, pool: db.Pool, score: Score, coordinator: Resident
) -> None:
    campaign, _, _ = await _two_teams(make_campaign, make_resident, pool)
    await score()

    response = await coordinator.get(f"/v1/admin/campaigns/{campaign.code}/recognition")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scored_at"] is not None
    (challenge,) = body["challenges"]
    assert challenge["challenge"] == "half-team"
    assert challenge["required_share"] == 0.5
    assert challenge["member_rule"] == {
        "kind": "distinct_days",
        "categories": ["mobility"],
        "days": 2,
        "action_types": [],
    }
    assert challenge["teams_met"] == 1
    school, office = challenge["teams"]
    assert school | {"met_since": None} == {
        "team": "school",
        "name": "OŠ Orehek",
        "kind": "school",
        "city": "kranj",
        "members": 2,
        "members_meeting_rule": 1,
        "share": 0.5,
        "met": True,
        "met_since": None,
    }
    assert school["met_since"] is not None
    assert (office["team"], office["members"], office["members_meeting_rule"], office["share"], office["met"]) == (
        "office",
        2,
        0,
        0.0,
        False,
    )
    assert office["met_since"] is None

    csv_response = await coordinator.get(f"/v1/admin/campaigns/{campaign.code}/recognition.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert [(r["team"], r["members_meeting_rule"], r["share"], r["met"]) for r in rows] == [
        ("school", "1", "0.5", "yes"),
        ("office", "0", "0.0", "no"),
    ]


async def test_another_citys_coordinator_sees_no_recognition_nor_contest(
    make_campaign: MakeCampaign, other_coordinator: Resident
) -> None:
    campaign = await make_campaign(cities=["kranj"])
    for path in ("recognition", "recognition.csv", "contest", "contest.csv"):
        response = await other_coordinator.get(f"/v1/admin/campaigns/{campaign.code}/{path}")
        assert_problem(response, 403, "forbidden")


async def test_a_team_badge_goes_to_every_member_or_only_to_those_who_met_the_member_rule(
    make_campaign: MakeCampaign, make_resident: MakeResident, pool: db.Pool, score: Score
) -> None:
    every, every_school, _ = await _two_teams(make_campaign, make_resident, pool)
    some, some_school, _ = await _two_teams(make_campaign, make_resident, pool, badge_to="members_meeting_rule")
    await score()

    async def badges(member: Resident, campaign: Campaign) -> list[str]:
        response = await member.get(f"/v1/me/campaigns/{campaign.code}")
        assert response.status_code == 200, response.text
        return [b["code"] for b in response.json()["badges"] if b["earned"]]

    assert await badges(every_school[0], every) == ["recognised"]
    assert await badges(every_school[1], every) == ["recognised"]  # every member of the recognised team
    assert await badges(some_school[0], some) == ["recognised"]
    assert await badges(some_school[1], some) == []  # met no member rule: no badge

    # Meeting the member rule later earns it then.
    await _cycle_on_days(some_school[1], 2)
    await score()
    assert await badges(some_school[1], some) == ["recognised"]


async def test_cities_and_teams_are_ranked_by_the_declared_measure_with_their_totals(
    make_campaign: MakeCampaign, make_resident: MakeResident, pool: db.Pool, score: Score, coordinator: Resident
) -> None:
    campaign = await make_campaign(
        cities=["kranj", "velenje"],
        ranking={"measure": "quantity", "action_types": ["cycle-instead-of-car"]},
    )
    kranj = [await make_resident("kranj"), await make_resident("kranj")]
    velenje = await make_resident("velenje")
    for resident in [*kranj, velenje]:
        await _join(resident, campaign)
    await _enrolled_days_ago(pool, campaign, 3)
    await _cycle_on_days(kranj[0], 1, km=10)
    await _cycle_on_days(kranj[1], 1, km=4)
    await _cycle_on_days(velenje, 1, km=30)
    walked = await kranj[1].log("walk-instead-of-car", 3, performed_at=local_noon(1))  # not a km cycled
    assert walked.status_code == 201
    await score()

    response = await coordinator.get(f"/v1/admin/campaigns/{campaign.code}/contest")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["measure"], body["unit"]) == ("quantity", "km")
    assert body["computed_at"] is not None
    assert [(c["code"], c["rank"], c["value"], c["members"]) for c in body["cities"]] == [
        ("velenje", 1, 30.0, 1),
        ("kranj", 2, 14.0, 2),
    ]
    # The city goal of the campaign (100 kg CO2e per city) for each city.
    assert sorted((g["challenge"], g["city"], g["target"], g["met_since"]) for g in body["goals"]) == [
        ("together", "kranj", 100.0, None),
        ("together", "velenje", 100.0, None),
    ]
    rows = list(
        csv.DictReader(io.StringIO((await coordinator.get(f"/v1/admin/campaigns/{campaign.code}/contest.csv")).text))
    )
    assert [(r["scope"], r["code"], r["rank"], r["value"], r["unit"]) for r in rows if r["scope"] == "city"] == [
        ("city", "velenje", "1", "30.0", "km"),
        ("city", "kranj", "2", "14.0", "km"),
    ]

    # Ranked by points per member instead: the standings are due again and rank by it.
    changed = msgspec.to_builtins(campaign) | {"ranking": {"measure": "points_per_member"}}
    async with pool.acquire() as conn, conn.transaction():
        _, problems = await apply_campaigns(conn, [msgspec.convert(changed, Campaign)], TIME_ZONES, "file", TODAY)
    assert problems == []
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM standings_due d JOIN campaigns k ON k.id = d.campaign_id WHERE k.code = $1",
            campaign.code,
        )
        == 1
    )
    await score()
    body = (await coordinator.get(f"/v1/admin/campaigns/{campaign.code}/contest")).json()
    assert (body["measure"], body["unit"]) == ("points_per_member", "points per member")
    # Kranj: (100 + 40 + 15 points) / 2 members; Velenje: 300 / 1.
    assert [(c["code"], c["value"]) for c in body["cities"]] == [("velenje", 300.0), ("kranj", 77.5)]


async def test_a_campaign_with_a_bad_ranking_or_rule_is_refused_with_the_allowed_values(
    coordinator: Resident, pool: db.Pool
) -> None:
    campaign = msgspec.to_builtins(campaign_definition(cities=["kranj"]))
    bad = campaign | {
        "ranking": {"measure": "km"},
        "challenge": [_half_team(share=50, member_rule={"kind": "collective", "target": 1})],
    }

    response = await coordinator.put(f"/v1/admin/campaigns/{campaign['code']}", json=bad)

    problem = assert_problem(response, 422, "validation-error")
    reasons = {e["field"]: e["reason"] for e in problem["errors"]}
    assert (
        reasons["ranking.measure"] == "'km' is not one of points_per_member, points, co2e_kg, quantity, participation"
    )
    assert reasons["challenge[0].rule.share"].startswith("must be a fraction above 0 and at most 1 (0.5 is half")
    assert reasons["challenge[0].rule.member_rule.kind"] == "'collective' is not one of quantity, distinct_days"
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE code = $1", campaign["code"]) == 0

    quantity_without_types = campaign | {"ranking": {"measure": "quantity"}}
    response = await coordinator.put(f"/v1/admin/campaigns/{campaign['code']}", json=quantity_without_types)
    assert_problem(response, 422, "validation-error", "ranking.action_types")
