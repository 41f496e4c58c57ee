"""Scoring judges a participant only in the challenges their arm gets: a challenge hidden from
them is never met, never earns its badge and never sends a message, also as a team member, and
what their team or city reaches together in it is not theirs either."""

from __future__ import annotations

from typing import Any

from tests.conftest import MakeCampaign, MakeResident, Score
from tests.factories import TEXT, Resident, action, local_noon
from tests.research.conftest import CHALLENGES, NUDGES, MakeStudy, arm_of, consent, enrol
from upscale_api import db
from upscale_api.campaigns.structs import Campaign

BADGES = [
    {"code": "three-days", "title": TEXT, "description": TEXT, "rule": {"kind": "challenge_met", "challenge": "days-3"}}
]
HALF_TEAM = {
    "code": "half-team",
    "title": TEXT,
    "description": TEXT,
    "rule": {
        "kind": "team_participation",
        "share": 0.5,
        "member_rule": {"kind": "distinct_days", "categories": ["mobility"], "days": 2},
    },
}


async def _arms(pool: db.Pool, study: str, *residents: Resident) -> dict[str, Resident]:
    """The residents by the arm they were assigned to; each arm once."""
    by_arm = {(await arm_of(pool, study, r))["arm"]: r for r in residents}
    assert by_arm.keys() == {"control", "treated"}
    return by_arm


async def _enrolled_days_ago(pool: db.Pool, campaign: Campaign, days: int) -> None:
    """Everyone enrolled in ``campaign`` joined ``days`` ago, so that their back-dated days count."""
    await pool.execute(
        "UPDATE enrolments SET enrolled_at = now() - make_interval(days => $2) "
        "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
        days,
    )


async def _log_days(resident: Resident, days: int) -> None:
    """A mobility action on each of the last ``days`` days, and 50 km cycled today."""
    actions = [action("walk-instead-of-car", 1, performed_at=local_noon(n)) for n in range(days)]
    actions.append(action("cycle-instead-of-car", 50, performed_at=local_noon(0)))
    response = await resident.post("/v1/me/actions/batch", json={"actions": actions})
    assert response.status_code == 200, response.text


async def _met(pool: db.Pool, campaign: Campaign, resident: Resident) -> set[str]:
    """The challenges stored as met by the resident (what badges and team counts are made from)."""
    rows = await pool.fetch(
        "SELECT ch.code FROM challenges_met p JOIN challenges ch ON ch.id = p.challenge_id "
        "JOIN campaigns k ON k.id = ch.campaign_id JOIN residents r ON r.id = p.resident_id "
        "WHERE k.code = $1 AND r.firebase_uid = $2",
        campaign.code,
        resident.uid,
    )
    return {row["code"] for row in rows}


async def _mine(resident: Resident, campaign: Campaign) -> dict[str, Any]:
    response = await resident.get(f"/v1/me/campaigns/{campaign.code}")
    assert response.status_code == 200, response.text
    mine: dict[str, Any] = response.json()
    return mine


async def _told_of(resident: Resident) -> list[str]:
    """The challenges and badges the resident's achievement messages are about, in code order."""
    items = (await resident.get("/v1/me/notifications")).json()["items"]
    return sorted(m["data"].get("challenge") or m["data"]["badge"] for m in items if m["kind"] == "achievement")


async def test_only_the_arm_that_gets_a_challenge_meets_it_earns_its_badge_and_is_told(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign(
        cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES, badge=BADGES
    )
    study = await make_study(campaign.code, block_multiplier=1)  # blocks of two: one of each arm
    participants = [await make_resident() for _ in range(2)]
    for resident in participants:
        await consent(resident, "research")
        await enrol(resident, campaign.code)
    arms = await _arms(pool, study.code, *participants)
    outsider = await make_resident()  # no research consent: gets what the control arm gets
    await enrol(outsider, campaign.code)
    await _enrolled_days_ago(pool, campaign, 3)
    for resident in (*participants, outsider):
        await _log_days(resident, 3)  # enough for days-3 (3 days) and week-50 (50 km)

    await score()

    treated = await _mine(arms["treated"], campaign)
    progress = {c["code"]: c for c in treated["challenges"]}
    assert (progress["days-3"]["met"], progress["days-3"]["value"]) == (True, 3)
    assert {b["code"]: b["earned"] for b in treated["badges"]} == {"three-days": True}
    assert await _met(pool, campaign, arms["treated"]) == {"week-50", "days-3"}
    assert await _told_of(arms["treated"]) == ["days-3", "three-days", "week-50"]
    for hidden_from in (arms["control"], outsider):
        mine = await _mine(hidden_from, campaign)
        assert [c["code"] for c in mine["challenges"]] == ["week-50"] and mine["challenges"][0]["met"] is True
        assert {b["code"]: b["earned"] for b in mine["badges"]} == {"three-days": False}
        assert await _met(pool, campaign, hidden_from) == {"week-50"}
        assert await _told_of(hidden_from) == ["week-50"]


async def test_withdrawing_research_consent_drops_a_challenge_the_control_arm_does_not_get_until_consent_returns(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign(cities=["kranj"], team=[], question=[], challenge=CHALLENGES, nudge=NUDGES)
    study = await make_study(campaign.code, block_multiplier=1)
    participants = [await make_resident() for _ in range(2)]
    for resident in participants:
        await consent(resident, "research")
        await enrol(resident, campaign.code)
    treated = (await _arms(pool, study.code, *participants))["treated"]
    await _enrolled_days_ago(pool, campaign, 3)
    await _log_days(treated, 3)
    await score()
    assert await _met(pool, campaign, treated) == {"week-50", "days-3"}

    await consent(treated, "research", granted=False)  # outside the study now: the control arm's challenges
    await score()
    withdrawn = await _met(pool, campaign, treated)
    await consent(treated, "research")  # the same arm again
    await score()

    assert withdrawn == {"week-50"}
    assert await _met(pool, campaign, treated) == {"week-50", "days-3"}
    assert await _told_of(treated) == ["days-3", "week-50"]  # a success met again is not announced again


async def test_a_member_whose_arm_does_not_get_a_team_challenge_does_not_count_towards_it(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, score: Score
) -> None:
    team = [{"code": "street", "kind": "other", "name": "Naša ulica"}]
    campaign = await make_campaign(
        cities=["kranj"], enrolment="team", team=team, question=[], challenge=[*CHALLENGES, HALF_TEAM], nudge=NUDGES
    )
    arms = [
        {"code": "control", "control": True, "title": TEXT},
        {"code": "treated", "title": TEXT, "challenges": ["half-team"]},
    ]
    study = await make_study(campaign.code, arm=arms, block_multiplier=1)
    members = [await make_resident() for _ in range(2)]
    for member in members:
        await consent(member, "research")
        response = await member.post(f"/v1/campaigns/{campaign.code}/enrolment", json={"team": "street"})
        assert response.status_code == 201, response.text
    by_arm = await _arms(pool, study.code, *members)
    await _enrolled_days_ago(pool, campaign, 2)
    for member in members:
        await _log_days(member, 2)  # both do what the member rule asks

    await score()

    half_team = {c["code"]: c for c in (await _mine(by_arm["treated"], campaign))["challenges"]}["half-team"]
    # the control member is not among the members the team rule is for: 1 of 1
    assert (half_team["team_members"], half_team["team_members_met"], half_team["met"]) == (1, 1, True)
    assert "half-team" in await _met(pool, campaign, by_arm["treated"])
    assert "half-team" not in await _met(pool, campaign, by_arm["control"])
    assert "half-team" not in [c["code"] for c in (await _mine(by_arm["control"], campaign))["challenges"]]


WHOLE_TEAM = {
    "code": "whole-team",
    "title": TEXT,
    "description": TEXT,
    "rule": {
        "kind": "team_participation",
        "share": 1,
        "member_rule": {"kind": "distinct_days", "categories": ["mobility"], "days": 2},
    },
}
TOGETHER = {
    "code": "together",
    "title": TEXT,
    "description": TEXT,
    "rule": {"kind": "collective", "action_types": ["cycle-instead-of-car"], "measure": "quantity", "target": 50},
}


def _only_treated_get(challenge: str) -> list[dict[str, Any]]:
    """A study's arms of which only the treated one gets ``challenge``."""
    return [
        {"code": "control", "control": True, "title": TEXT},
        {"code": "treated", "title": TEXT, "challenges": [challenge]},
    ]


def _badge_for(challenge: str) -> dict[str, Any]:
    return {
        "code": f"{challenge}-badge",
        "title": TEXT,
        "description": TEXT,
        "rule": {"kind": "challenge_met", "challenge": challenge},
    }


async def _by_arm(pool: db.Pool, study: str, residents: list[Resident]) -> dict[str, list[Resident]]:
    """The residents grouped by the arm they were assigned to."""
    groups: dict[str, list[Resident]] = {}
    for resident in residents:
        groups.setdefault((await arm_of(pool, study, resident))["arm"], []).append(resident)
    return groups


async def _team_of_four(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool
) -> tuple[Campaign, dict[str, list[Resident]]]:
    """A team campaign whose "whole-team" rule only the treated arm gets, and its one team of four
    consenting members by arm, two in each, enrolled two days ago."""
    team = [{"code": "street", "kind": "other", "name": "Naša ulica"}]
    campaign = await make_campaign(
        cities=["kranj"],
        enrolment="team",
        team=team,
        question=[],
        challenge=[*CHALLENGES, WHOLE_TEAM],
        nudge=NUDGES,
        badge=[_badge_for("whole-team")],
    )
    study = await make_study(campaign.code, arm=_only_treated_get("whole-team"), block_multiplier=1)  # blocks of two
    members = [await make_resident() for _ in range(4)]
    for member in members:
        await consent(member, "research")
        response = await member.post(f"/v1/campaigns/{campaign.code}/enrolment", json={"team": "street"})
        assert response.status_code == 201, response.text
    arms = await _by_arm(pool, study.code, members)
    assert {arm: len(group) for arm, group in arms.items()} == {"control": 2, "treated": 2}
    await _enrolled_days_ago(pool, campaign, 2)
    return campaign, arms


async def _whole_team(member: Resident, campaign: Campaign) -> tuple[int, int, bool]:
    """The member's team's members, members meeting the member rule, and whether it met "whole-team"."""
    rule = {c["code"]: c for c in (await _mine(member, campaign))["challenges"]}["whole-team"]
    return rule["team_members"], rule["team_members_met"], rule["met"]


async def test_a_team_rule_met_by_the_team_is_told_and_badged_only_to_the_members_whose_arm_gets_it(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, score: Score
) -> None:
    campaign, arms = await _team_of_four(make_resident, make_campaign, make_study, pool)
    for member in arms["treated"]:
        await _log_days(member, 2)  # the member rule: two days with a mobility action
    await _log_days(arms["control"][0], 2)  # one control member does it too; the other does nothing

    await score()

    # "whole-team" asks every member: of the two it is for, both met it (the control members do not count)
    for member in arms["treated"]:
        assert await _whole_team(member, campaign) == (2, 2, True)
        assert {b["code"]: b["earned"] for b in (await _mine(member, campaign))["badges"]} == {"whole-team-badge": True}
        assert await _told_of(member) == ["week-50", "whole-team", "whole-team-badge"]
    for member, told in zip(arms["control"], (["week-50"], []), strict=True):
        mine = await _mine(member, campaign)
        assert "whole-team" not in [c["code"] for c in mine["challenges"]]
        assert {b["code"]: b["earned"] for b in mine["badges"]} == {"whole-team-badge": False}
        assert await _told_of(member) == told


async def test_a_member_leaving_the_arm_that_gets_a_team_rule_leaves_its_members(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, score: Score
) -> None:
    campaign, arms = await _team_of_four(make_resident, make_campaign, make_study, pool)
    staying, leaving = arms["treated"]
    await _log_days(staying, 2)  # one of the two members the rule is for meets the member rule
    await score()
    assert await _whole_team(staying, campaign) == (2, 1, False)

    await consent(leaving, "research", granted=False)  # outside the study: the control arm's challenges
    await score()

    assert await _whole_team(staying, campaign) == (1, 1, True)
    assert await _told_of(staying) == ["week-50", "whole-team", "whole-team-badge"]
    assert await _told_of(leaving) == []


async def test_a_collective_goal_reached_is_told_and_badged_only_to_the_participants_whose_arm_gets_it(
    make_resident: MakeResident, make_campaign: MakeCampaign, make_study: MakeStudy, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign(
        cities=["kranj"],
        team=[],
        question=[],
        challenge=[*CHALLENGES, TOGETHER],
        nudge=NUDGES,
        badge=[_badge_for("together")],
    )
    study = await make_study(campaign.code, arm=_only_treated_get("together"), block_multiplier=1)
    participants = [await make_resident() for _ in range(2)]
    for resident in participants:
        await consent(resident, "research")
        await enrol(resident, campaign.code)
    arms = await _arms(pool, study.code, *participants)
    outsider = await make_resident()  # no research consent: the control arm's challenges
    await enrol(outsider, campaign.code)
    await _enrolled_days_ago(pool, campaign, 1)
    await _log_days(arms["control"], 1)  # 50 km cycled today: the goal of 50 km is reached

    await score()

    assert await _told_of(arms["treated"]) == ["together", "together-badge"]
    assert {b["code"]: b["earned"] for b in (await _mine(arms["treated"], campaign))["badges"]} == {
        "together-badge": True
    }
    assert await _told_of(arms["control"]) == ["week-50"]  # reached it, but the goal is not theirs
    assert await _told_of(outsider) == []
    for hidden_from in (arms["control"], outsider):
        assert {b["code"]: b["earned"] for b in (await _mine(hidden_from, campaign))["badges"]} == {
            "together-badge": False
        }
    pending = await pool.fetchval(
        "SELECT count(*) FROM goal_announcements g JOIN challenges ch ON ch.id = g.challenge_id "
        "JOIN campaigns k ON k.id = ch.campaign_id WHERE k.code = $1",
        campaign.code,
    )
    assert pending == 0  # announced through every participant, the hidden ones passed over
