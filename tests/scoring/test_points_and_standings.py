"""What participants see of the scoring jobs: points and their daily caps,
streaks in their own time zone, back-dated and deleted actions, leaderboards
with ties, and achievement messages sent once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import MakeCampaign, MakeResident, Score
from tests.factories import CAMPAIGNS, Resident, action, assert_problem, local_noon
from upscale_api import db
from upscale_api.actions.service import Policy, log_actions
from upscale_api.actions.structs import ActionIn
from upscale_api.campaigns.structs import Campaign
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.impact.service import impact_of
from upscale_api.scoring import service as scoring

CAPPED = [
    {"type": "cycle-instead-of-car", "points_per_unit": 10, "max_points_per_day": 100},
    {"type": "walk-instead-of-car", "points_per_unit": 5},
]


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


async def _score_of(resident: Resident, campaign: Campaign) -> dict[str, Any]:
    response = await resident.get(f"/v1/me/campaigns/{campaign.code}")
    assert response.status_code == 200, response.text
    score: dict[str, Any] = response.json()["score"]
    return score


async def test_points_follow_the_campaign_with_its_daily_cap_per_type(
    resident: Resident, make_campaign: MakeCampaign, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign(action=CAPPED)
    await _join(resident, campaign)
    await _enrolled_days_ago(pool, campaign, 3)
    await resident.post(
        "/v1/me/actions/batch",
        json={
            "actions": [
                action("cycle-instead-of-car", 6, performed_at=local_noon(1)),  # 60
                action("cycle-instead-of-car", 7, performed_at=local_noon(1)),  # +70, capped at 100 that day
                action("walk-instead-of-car", 4, performed_at=local_noon(1)),  # 20, no cap
                action("cycle-instead-of-car", 3, performed_at=local_noon(0)),  # 30
            ]
        },
    )

    await score()
    mine = await _score_of(resident, campaign)

    assert mine["points"] == 100 + 20 + 30
    assert mine["actions"] == 4
    assert mine["active_days"] == 2
    assert mine["current_streak_days"] == 2
    assert mine["rank"] == 1 and mine["ranked"] == 1


async def test_back_dated_and_deleted_actions_change_the_score_at_the_next_run(
    resident: Resident, make_campaign: MakeCampaign, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign()
    await _join(resident, campaign)
    await _enrolled_days_ago(pool, campaign, 5)
    today = (await resident.log("cycle-instead-of-car", 2, performed_at=local_noon(0))).json()
    await score()
    assert (await _score_of(resident, campaign))["points"] == 20

    # Synced from a phone that was offline: four days ago; and today's entry was a mistake.
    await resident.log("walk-instead-of-car", 3, performed_at=local_noon(4))
    await resident.delete(f"/v1/me/actions/{today['id']}")
    await score()

    mine = await _score_of(resident, campaign)
    assert mine["points"] == 15
    assert mine["actions"] == 1
    assert mine["current_streak_days"] == 0 and mine["longest_streak_days"] == 1


async def test_streaks_count_local_days_across_midnight_and_the_clock_change(fresh_pool: db.Pool) -> None:
    await apply_definitions(fresh_pool, read_definitions(CAMPAIGNS))
    snapshot = await Catalogue(fresh_pool).reload()
    uid = f"r-{uuid.uuid4().hex}"
    await fresh_pool.execute(
        "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
        "SELECT $1, id, 'sl', 'Europe/Ljubljana' FROM cities WHERE code = 'kranj'",
        uid,
    )
    # Summer time ends in Ljubljana at 03:00 on Sunday 25 October 2026. In UTC these
    # four moments fall on two days; in Ljubljana on three in a row.
    moments = [
        datetime(2026, 10, 24, 21, 30, tzinfo=UTC),  # Sat 23:30 CEST
        datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # Sun 00:30 CEST
        datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # Sun 23:30 CET
        datetime(2026, 10, 25, 23, 15, tzinfo=UTC),  # Mon 00:15 CET
    ]
    policy = Policy(backdate=timedelta(days=7), delete_grace=timedelta(hours=24))
    items = [ActionIn(id=uuid.uuid4(), action_type="walk-instead-of-car", quantity=1, performed_at=m) for m in moments]
    outcomes = await log_actions(fresh_pool, snapshot, policy, uid, items, moments[-1] + timedelta(minutes=1))
    assert [o.status for o in outcomes] == ["stored"] * 4

    await scoring.tick(fresh_pool, datetime.now(UTC))

    days = await fresh_pool.fetch(
        "SELECT local_date, actions FROM resident_days d JOIN residents r ON r.id = d.resident_id "
        "WHERE r.firebase_uid = $1 ORDER BY local_date",
        uid,
    )
    assert [(str(d["local_date"]), d["actions"]) for d in days] == [
        ("2026-10-24", 1),
        ("2026-10-25", 2),
        ("2026-10-26", 1),
    ]
    impact = await impact_of(fresh_pool, uid, moments[-1] + timedelta(hours=1))
    assert impact.longest_streak_days == 3 and impact.current_streak_days == 3


async def test_ties_share_a_rank_and_everyone_sees_their_own_entry(
    make_resident: MakeResident, make_campaign: MakeCampaign, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign(enrolment="team")
    ana, bor, cene, dana = [await make_resident(display_name=name) for name in ("Ana", "Bor", "Cene", "Dana")]
    for member, team in ((ana, "school"), (bor, "school"), (cene, "office"), (dana, "office")):
        await _join(member, campaign, team=team)
    await _enrolled_days_ago(pool, campaign, 2)
    for member, km in ((ana, 5), (bor, 5), (cene, 3)):
        await member.log("cycle-instead-of-car", km, performed_at=local_noon(0))

    await score()
    board = (await dana.get(f"/v1/campaigns/{campaign.code}/leaderboard", params={"limit": 2})).json()
    teams = (await ana.get(f"/v1/campaigns/{campaign.code}/leaderboard", params={"scope": "team"})).json()

    assert [(e["name"], e["rank"], e["points"]) for e in board["top"]] == [("Ana", 1, 50), ("Bor", 1, 50)]
    assert board["own"] == board["own"] | {"name": "Dana", "rank": 4, "points": 0, "you": True}
    assert board["entries_in_all"] == 4 and board["computed_at"] is not None and not board["final"]
    # Teams rank by points per member and show how many of their members take part.
    assert [(e["name"], e["rank"], e["score"], e["participation"]) for e in teams["top"]] == [
        ("OŠ Test", 1, 50, 1.0),
        ("Office", 2, 15, 0.5),
    ]
    assert teams["own"]["name"] == "OŠ Test" and teams["own"]["you"]
    # The top is shared between readers; each sees only their own entry marked.
    for reader, name in ((ana, "Ana"), (bor, "Bor"), (ana, "Ana")):
        top = (await reader.get(f"/v1/campaigns/{campaign.code}/leaderboard", params={"limit": 2})).json()["top"]
        assert [e["name"] for e in top if e["you"]] == [name]


async def test_ranks_move_without_rewriting_the_entries_whose_score_stayed(
    make_resident: MakeResident, make_campaign: MakeCampaign, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign()
    ana, bor, cene = [await make_resident(display_name=name) for name in ("Ana", "Bor", "Cene")]
    for member in (ana, bor, cene):
        await _join(member, campaign)
    await _enrolled_days_ago(pool, campaign, 2)
    for member, km in ((ana, 5), (bor, 3), (cene, 1)):
        await member.log("cycle-instead-of-car", km, performed_at=local_noon(0))
    await score()
    written = (
        "SELECT s.xmin::text FROM standings s JOIN residents r ON r.id = s.subject_id "
        "WHERE s.scope = 'individual' AND r.firebase_uid = $1"
    )
    ana_before = await pool.fetchval(written, ana.uid)

    await bor.log("cycle-instead-of-car", 5, performed_at=local_noon(0))
    await cene.delete(f"/v1/campaigns/{campaign.code}/enrolment")
    await score()
    board = (await ana.get(f"/v1/campaigns/{campaign.code}/leaderboard")).json()
    progress = (await ana.get(f"/v1/me/campaigns/{campaign.code}")).json()["score"]

    assert [(e["name"], e["rank"], e["points"]) for e in board["top"]] == [("Bor", 1, 80), ("Ana", 2, 50)]
    assert (board["own"]["rank"], board["entries_in_all"]) == (2, 2)
    assert (progress["rank"], progress["ranked"]) == (2, 2)
    assert await pool.fetchval(written, ana.uid) == ana_before  # her rank moved, her entry was not written
    assert (
        await pool.fetchval(  # Cene's entry left with him
            "SELECT count(*) FROM standings s JOIN campaigns k ON k.id = s.campaign_id "
            "WHERE k.code = $1 AND s.scope = 'individual'",
            campaign.code,
        )
        == 2
    )


async def test_standings_that_take_long_are_computed_again_after_ten_times_as_long(
    make_resident: MakeResident, make_campaign: MakeCampaign, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign()
    ana = await make_resident(display_name="Ana")
    await _join(ana, campaign)
    await ana.log("cycle-instead-of-car", 5, performed_at=local_noon(0))
    await score()
    # As if computing them had taken a minute, as a campaign of millions can.
    await pool.execute(
        "UPDATE standings_computed SET took = interval '1 minute' "
        "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
    )
    first = (await ana.get(f"/v1/campaigns/{campaign.code}/leaderboard")).json()

    await ana.log("cycle-instead-of-car", 5, performed_at=local_noon(0))
    await score()
    paced = (await ana.get(f"/v1/campaigns/{campaign.code}/leaderboard")).json()
    await pool.execute(
        "UPDATE standings_computed SET computed_at = computed_at - interval '10 minutes' "
        "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
    )
    await scoring.compute_standings(pool, datetime.now(UTC))
    later = (await ana.get(f"/v1/campaigns/{campaign.code}/leaderboard")).json()
    took = await pool.fetchval(
        "SELECT took FROM standings_computed WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
        campaign.code,
    )

    assert (paced["computed_at"], paced["own"]["points"]) == (first["computed_at"], first["own"]["points"])
    assert later["own"]["points"] == 2 * first["own"]["points"] > 0
    assert timedelta(0) < took < timedelta(seconds=1)  # measured again, so paced no longer


async def test_a_leaderboard_names_what_is_wrong_with_its_parameters(
    resident: Resident, make_campaign: MakeCampaign
) -> None:
    campaign = await make_campaign()
    url = f"/v1/campaigns/{campaign.code}/leaderboard"

    assert_problem(await resident.get(url, params={"scope": "galaxy"}), 422, "validation-error", "scope")
    assert_problem(await resident.get(url, params={"limit": 0}), 422, "validation-error", "limit")
    assert_problem(await resident.get("/v1/campaigns/no-such-campaign/leaderboard"), 404, "not-found")
    empty = (await resident.get(url)).json()
    assert empty["top"] == [] and empty["own"] is None


async def test_challenges_and_badges_are_announced_once(
    resident: Resident, make_campaign: MakeCampaign, pool: db.Pool, score: Score
) -> None:
    badge = {"code": "first", "title": {"sl": "Prvi korak", "en": "First step"}, "description": {"en": "x"}}
    campaign = await make_campaign(badge=[badge | {"rule": {"kind": "first_action"}}])
    await _join(resident, campaign)
    await _enrolled_days_ago(pool, campaign, 1)
    # Meets "50 km in a week" and the personal goal (a fifth of 100 car km a week).
    await resident.log("cycle-instead-of-car", 50, performed_at=local_noon(0))

    await score()
    await score()
    await resident.log("cycle-instead-of-car", 1, performed_at=local_noon(0))
    await score()

    inbox = (await resident.get("/v1/me/notifications")).json()["items"]
    achievements = sorted(n["title"] for n in inbox if n["kind"] == "achievement")
    assert achievements == ["Izziv opravljen: 50 km v tednu", "Izziv opravljen: Besedilo", "Nova značka: Prvi korak"]


async def _goal_campaign(make_campaign: MakeCampaign, scope: str) -> Campaign:
    """A campaign whose goal "Together" (1 kg CO2e of mobility, in each city or in all) gives a badge."""
    goal = {
        "code": "together",
        "title": {"sl": "Skupaj", "en": "Together"},
        "description": {"en": "x"},
        "rule": {"kind": "collective", "categories": ["mobility"], "target": 1, "measure": "co2e_kg", "scope": scope},
    }
    badge = {"code": "we-did-it", "title": {"sl": "Zmogli smo", "en": "We did it"}, "description": {"en": "x"}}
    return await make_campaign(
        challenge=[goal], badge=[badge | {"rule": {"kind": "challenge_met", "challenge": "together"}}]
    )


async def _achievements(resident: Resident) -> list[str]:
    inbox = (await resident.get("/v1/me/notifications")).json()["items"]
    return sorted(n["title"] for n in inbox if n["kind"] == "achievement")


TOLD = ["Nova značka: Zmogli smo", "Skupni cilj dosežen: Skupaj"]


async def test_a_city_goal_reached_tells_that_citys_participants_once(
    make_resident: MakeResident, make_campaign: MakeCampaign, score: Score
) -> None:
    campaign = await _goal_campaign(make_campaign, "city")
    cyclist, neighbour, elsewhere = (
        await make_resident("kranj"),
        await make_resident("kranj"),
        await make_resident("velenje"),
    )
    for resident in (cyclist, neighbour, elsewhere):
        await _join(resident, campaign)
    await cyclist.log("cycle-instead-of-car", 20, performed_at=local_noon(0))

    await score()
    await score()

    assert await _achievements(neighbour) == TOLD
    assert "Skupni cilj dosežen: Skupaj" in await _achievements(cyclist)
    assert await _achievements(elsewhere) == []


async def test_a_goal_of_many_participants_is_announced_in_spans_of_them_each_once(
    make_resident: MakeResident, make_campaign: MakeCampaign, pool: db.Pool
) -> None:
    campaign = await _goal_campaign(make_campaign, "campaign")
    everyone = [await make_resident(city) for city in ("kranj", "velenje", "kranj", "kranj", "velenje")]
    for resident in everyone:
        await _join(resident, campaign)
    await everyone[0].log("cycle-instead-of-car", 20, performed_at=local_noon(0))
    now = datetime.now(UTC)
    for _ in range(2):
        assert await scoring.tick(pool, now) is not None
        await scoring.compute_standings(pool, now)

    # The standings run only records the goal: the worker's goals job tells everyone.
    assert [await _achievements(r) for r in everyone] == [[]] * 5
    # Two resident ids per transaction: five participants take at least three.
    assert await scoring.announce_goals(pool, now, span=2) == 5 * 2  # a message and a badge each
    assert [await _achievements(r) for r in everyone] == [TOLD] * 5
    assert await pool.fetchval("SELECT count(*) FROM goal_announcements") == 0
    assert await scoring.announce_goals(pool, now, span=2) == 0

    # A span taken again (a transaction that failed after writing) writes nothing twice.
    await pool.execute(
        "INSERT INTO goal_announcements (challenge_id, scope_id, campaign_id, reached_at) "
        "SELECT ch.id, 0, ch.campaign_id, now() FROM challenges ch JOIN campaigns k ON k.id = ch.campaign_id "
        "WHERE k.code = $1",
        campaign.code,
    )
    await scoring.announce_goals(pool, now, span=2)
    assert [await _achievements(r) for r in everyone] == [TOLD] * 5
