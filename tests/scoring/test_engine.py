"""The scoring engine on a database of its own: incremental ticks equal a full
recomputation, each tick runs once across replicas, and a tick killed halfway
leaves nothing behind."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest

from tests.factories import settings_for_tests
from upscale_api import db
from upscale_api.actions.service import Policy, log_actions
from upscale_api.actions.structs import ActionIn
from upscale_api.catalogue.service import Snapshot
from upscale_api.consents import service as consents
from upscale_api.consents.structs import ConsentDecisionIn, ConsentsIn
from upscale_api.demo.seed import DEMO_CAMPAIGN, DEMO_STUDY
from upscale_api.research.store import apply_studies
from upscale_api.research.structs import Study
from upscale_api.scoring import service as scoring
from upscale_api.worker import Worker

POLICY = Policy(backdate=timedelta(days=7), delete_grace=timedelta(hours=24))
WIDER = Policy(backdate=timedelta(days=9), delete_grace=timedelta(hours=24))  # reaches a Monday a week back at noon

# Every table the jobs derive; rows with nothing left in them (a day whose only
# action was deleted) are equal to no row.
DERIVED = {
    "resident_days": "SELECT * FROM resident_days ORDER BY 1, 2, 3",
    "campaign_days": "SELECT * FROM campaign_days ORDER BY 1, 2, 3, 4",
    "campaign_scores": "SELECT campaign_id, resident_id, city_id, district_id, team_id, points, co2e_kg, actions, "
    "active_days, longest_streak, last_run_end, last_run_days FROM campaign_scores ORDER BY 1, 2",
    "totals_daily": "SELECT * FROM totals_daily WHERE actions <> 0 ORDER BY 1, 2, 3, 4, 5",
    "activity_daily": "SELECT * FROM activity_daily WHERE residents <> 0 ORDER BY 1, 2, 3, 4",
    "challenges_met": "SELECT challenge_id, resident_id FROM challenges_met ORDER BY 1, 2",
    "team_progress": "SELECT challenge_id, team_id, members, members_met, share, met_at IS NOT NULL "
    "FROM team_progress ORDER BY 1, 2",
    "earned_badges": "SELECT badge_id, resident_id FROM earned_badges ORDER BY 1, 2",
}


async def _derived(pool: db.Pool) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in await pool.fetch(sql)] for name, sql in DERIVED.items()}


async def _log(
    pool: db.Pool, snapshot: Snapshot, uid: str, *items: tuple[str, float, datetime], policy: Policy = POLICY
) -> list[uuid.UUID]:
    actions = [ActionIn(id=uuid.uuid4(), action_type=t, quantity=q, performed_at=at) for t, q, at in items]
    outcomes = await log_actions(pool, snapshot, policy, uid, actions, datetime.now(UTC))
    assert all(o.status == "stored" for o in outcomes), outcomes
    return [a.id for a in actions]


async def test_ticks_between_changes_equal_a_full_recomputation_either_way(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, snapshot = demo
    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    # New, back-dated and deleted actions, an enrolment that leaves and one that changes team.
    uid = await pool.fetchval("SELECT firebase_uid FROM residents WHERE firebase_uid LIKE 'demo-resident-%' LIMIT 1")
    ids = await _log(
        pool,
        snapshot,
        uid,
        ("cycle-instead-of-car", 12, now - timedelta(minutes=5)),
        ("walk-instead-of-car", 2, now - timedelta(days=3)),
    )
    await pool.execute(
        "UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() WHERE id = $1", ids[1]
    )
    await pool.execute(
        "UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() "
        "WHERE id IN (SELECT id FROM action_logs WHERE deleted_at IS NULL ORDER BY id LIMIT 50)"
    )
    # A day logged in two cities, as by a resident who moved that day: they count as active in each.
    two_days_ago = now - timedelta(days=2)
    moved = await _log(
        pool, snapshot, uid, ("cycle-instead-of-car", 3, two_days_ago), ("walk-instead-of-car", 1, two_days_ago)
    )
    await pool.execute(
        "UPDATE action_logs a SET city_id = (SELECT max(id) FROM cities WHERE id <> a.city_id), "
        "written_xid = pg_current_xact_id() FROM action_logs w "
        "WHERE w.id = $1 AND a.resident_id = w.resident_id AND a.local_date = w.local_date "
        "AND a.action_type_id = w.action_type_id",
        moved[1],
    )
    await pool.execute(
        "UPDATE enrolments SET left_at = now(), written_xid = pg_current_xact_id() "
        "WHERE resident_id IN (SELECT resident_id FROM enrolments ORDER BY resident_id LIMIT 3)"
    )
    await pool.execute(
        "UPDATE enrolments e SET team_id = (SELECT min(id) FROM teams t WHERE t.campaign_id = e.campaign_id), "
        "written_xid = pg_current_xact_id() "
        "WHERE resident_id IN (SELECT resident_id FROM enrolments ORDER BY resident_id DESC LIMIT 3)"
    )
    assert (await scoring.tick(pool, now)) is not None
    incremental = await _derived(pool)

    again = await scoring.tick(pool, now)
    assert again is not None and again.resident_days == 0 and again.participants == 0
    await scoring.rescore(pool, now, chunk=57)
    assert await _derived(pool) == incremental
    await scoring.rebuild(pool, now)
    assert await _derived(pool) == incremental
    after_rebuild = await scoring.tick(pool, now)
    assert after_rebuild is not None and after_rebuild.resident_days == 0 and after_rebuild.participants == 0
    assert incremental["resident_days"] and incremental["campaign_scores"] and incremental["totals_daily"]
    assert {row[1] for row in incremental["activity_daily"]} == {"campaign", "city", "district", "team"}
    cities_that_day = await pool.fetchval(
        "SELECT count(DISTINCT d.city_id) FROM resident_days d JOIN residents r ON r.id = d.resident_id "
        "WHERE r.firebase_uid = $1 AND d.local_date = (SELECT local_date FROM action_logs WHERE id = $2)",
        uid,
        moved[1],
    )
    assert cities_that_day == 2
    assert incremental["challenges_met"] and incremental["earned_badges"]


async def test_ticks_from_stored_history_equal_a_full_recomputation(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, snapshot = demo
    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    today = now.astimezone(ZoneInfo("Europe/Ljubljana")).date()
    cutoff = today - timedelta(days=today.weekday() or 7)  # the last Monday before today: within back-dating
    assert await scoring.history_due(pool, cutoff)
    ticks_between = []

    async def tick_between() -> None:
        ticks_between.append(await scoring.tick(pool, now))

    # In chunks of 37 residents, each followed by a tick, which finds nothing to do.
    assert await scoring.advance_history(pool, cutoff, chunk=37, between=tick_between)
    assert len(ticks_between) > 5 and all(t is not None and t.participants == 0 for t in ticks_between)
    assert not await scoring.history_due(pool, cutoff)
    with pytest.raises(ValueError, match="Monday"):
        await scoring.advance_history(pool, cutoff + timedelta(days=1))

    participants = await pool.fetch(
        "SELECT r.firebase_uid, r.id FROM history_scores h JOIN residents r ON r.id = h.resident_id "
        "JOIN campaigns k ON k.id = h.campaign_id WHERE k.code = $1 AND h.last_run_end = $2::date - 1 ORDER BY r.id",
        DEMO_CAMPAIGN,
        cutoff,
    )
    continuing, corrected = participants[0], participants[-1]
    # A participant short of 10 distinct days by no more than the days from the cut-off to today.
    days_since = [cutoff + timedelta(days=n) for n in range((today - cutoff).days + 1)]
    short = await pool.fetchrow(
        "SELECT r.firebase_uid, r.id, h.value FROM history_challenges h JOIN challenges ch ON ch.id = h.challenge_id "
        "JOIN residents r ON r.id = h.resident_id "
        "WHERE ch.code = 'ten-days' AND h.value BETWEEN $2 AND 9 AND NOT EXISTS (SELECT FROM campaign_days d "
        "WHERE d.campaign_id = ch.campaign_id AND d.resident_id = h.resident_id AND d.local_date >= $1) "
        "AND h.resident_id <> ALL($3) ORDER BY r.id LIMIT 1",
        cutoff,
        10 - len(days_since),
        [continuing["id"], corrected["id"]],
    )
    # A run of days that went up to the cut-off goes on over it; 10 distinct days are reached only with the
    # days since the cut-off added to those before; a day before the cut-off loses an action.
    zone = ZoneInfo("Europe/Ljubljana")
    at_cutoff = datetime.combine(cutoff, time(12), zone)
    await _log(pool, snapshot, continuing["firebase_uid"], ("walk-instead-of-car", 2, at_cutoff), policy=WIDER)
    await _log(pool, snapshot, continuing["firebase_uid"], ("cycle-instead-of-car", 5, now - timedelta(minutes=1)))
    for day in days_since[: 10 - int(short["value"])]:
        at = now if day == today else datetime.combine(day, time(12), zone)
        await _log(pool, snapshot, short["firebase_uid"], ("walk-instead-of-car", 2, at), policy=WIDER)
    await pool.execute(
        "UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() "
        "WHERE id = (SELECT id FROM action_logs WHERE resident_id = $1 AND local_date < $2 AND deleted_at IS NULL "
        "ORDER BY local_date DESC LIMIT 1)",
        corrected["id"],
        cutoff,
    )
    assert (await scoring.tick(pool, now)) is not None
    incremental = await _derived(pool)
    kept = await pool.fetch(
        "SELECT resident_id FROM history_scores WHERE resident_id = ANY($1)", [p["id"] for p in participants]
    )
    assert continuing["id"] in {r["resident_id"] for r in kept}  # scored from its history and the days since
    assert corrected["id"] not in {r["resident_id"] for r in kept}  # scored from all its days
    assert await pool.fetchval(
        "SELECT count(*) FROM challenges_met p JOIN challenges ch ON ch.id = p.challenge_id "
        "WHERE ch.code = 'ten-days' AND p.resident_id = $1",
        short["id"],
    )

    again = await scoring.tick(pool, now)
    assert again is not None and again.participants == 0
    await scoring.rebuild(pool, now)
    assert await pool.fetchval("SELECT count(*) FROM history_scores") == 0
    assert await _derived(pool) == incremental


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_changes_scored_tick_by_tick_equal_a_full_recomputation(
    demo: tuple[db.Pool, Snapshot], seed: int
) -> None:
    """Rounds of random changes, each scored by a tick, with the history advanced now and then: new
    and back-dated actions on both sides of the cut-off, days over the plausible limit and their
    review, deletions, residents who leave, come back and change team. The ticks must end where a
    full recomputation does."""
    pool, snapshot = demo
    rng = random.Random(seed)
    now = datetime.now(UTC)
    zone = ZoneInfo("Europe/Ljubljana")
    today = now.astimezone(zone).date()
    cutoff = today - timedelta(days=today.weekday() or 7)
    await scoring.tick(pool, now)
    # A dozen residents, so that their days collect several actions, go over the plausible limit and
    # reach their challenges.
    uids = [
        r["firebase_uid"]
        for r in await pool.fetch(
            "SELECT DISTINCT r.id, r.firebase_uid FROM residents r JOIN enrolments e ON e.resident_id = r.id "
            "ORDER BY r.id LIMIT 12"
        )
    ]
    most = {"cycle-instead-of-car": 100, "walk-instead-of-car": 30, "bus-instead-of-car": 150}
    stored = 0
    for _ in range(8):
        for _ in range(rng.randint(1, 6)):
            kind = rng.choice(list(most))
            # Mostly since the cut-off, where a participant's stored history is added to; now and then before.
            back = rng.randint(0, (today - cutoff).days) if rng.random() < 0.8 else rng.randint(0, 8)
            day = now - timedelta(days=back, hours=rng.randint(0, 6))
            action = ActionIn(id=uuid.uuid4(), action_type=kind, quantity=rng.randint(1, most[kind]), performed_at=day)
            # Over the day's hard limit an action is rejected, and nothing changes.
            outcomes = await log_actions(pool, snapshot, WIDER, rng.choice(uids), [action], datetime.now(UTC))
            stored += outcomes[0].status == "stored"
        await pool.execute(
            "UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() WHERE id IN "
            "(SELECT id FROM action_logs WHERE deleted_at IS NULL ORDER BY md5(id::text || $1) LIMIT $2)",
            str(rng.random()),
            rng.randint(0, 3),
        )
        await pool.execute(
            "UPDATE held_days SET status = $2, decided_quantity = quantity, decided_at = now(), "
            "written_xid = pg_current_xact_id() "
            "WHERE id IN (SELECT id FROM held_days WHERE status = 'pending' ORDER BY md5(id::text || $1) LIMIT 1)",
            str(rng.random()),
            rng.choice(["accepted", "rejected"]),
        )
        change = rng.choice(["leave", "return", "team", None])
        if change is not None:
            await pool.execute(
                "UPDATE enrolments e SET written_xid = pg_current_xact_id(), "
                "left_at = CASE $2 WHEN 'leave' THEN now() WHEN 'return' THEN NULL ELSE left_at END, "
                "team_id = CASE WHEN $2 = 'team' THEN (SELECT t.id FROM teams t WHERE t.campaign_id = e.campaign_id "
                "ORDER BY md5(t.id::text || $1) LIMIT 1) ELSE team_id END "
                "WHERE (campaign_id, resident_id) = "
                "(SELECT campaign_id, resident_id FROM enrolments ORDER BY md5(resident_id::text || $1) LIMIT 1)",
                str(rng.random()),
                change,
            )
        if rng.random() < 0.4:
            await scoring.advance_history(pool, cutoff, chunk=rng.choice([50, 400]))
        assert await scoring.tick(pool, now) is not None

    assert stored
    incremental = await _derived(pool)
    await scoring.rebuild(pool, now)
    assert await _derived(pool) == incremental


async def test_ticks_equal_a_full_recomputation_where_a_study_decides_challenges(
    demo: tuple[db.Pool, Snapshot],
) -> None:
    """The demo study's reminder arm also gets ten-days and half-the-team: participants of the control
    arm and residents outside the study lose those successes once their campaign is scored again,
    both by the statement a tick runs and by a rebuild's; a participant who withdraws research
    consent loses them at the next tick and gets them back with consent, and the ticks end where a
    full recomputation does."""
    pool, _ = demo
    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    everyone = set(await _successes(pool))
    stored = await pool.fetchval("SELECT definition FROM studies WHERE code = $1", DEMO_STUDY)
    study = msgspec.convert(stored, Study)
    arms = [a if a.control else msgspec.structs.replace(a, challenges=["ten-days", "half-the-team"]) for a in study.arm]
    async with pool.acquire() as conn, conn.transaction():
        assert (await apply_studies(conn, [("kranj", msgspec.structs.replace(study, arm=arms))], "demo"))[1] == []

    # What arms get changed: the campaign is scored again, in chunks as ticks are.
    campaign_id = await pool.fetchval("SELECT id FROM campaigns WHERE code = $1", DEMO_CAMPAIGN)
    await scoring.rescore(pool, now, campaign_id=campaign_id, chunk=57)
    rescored = await _derived(pool)
    await scoring.rebuild(pool, now)
    assert await _derived(pool) == rescored

    reminded = {
        r["id"]
        for r in await pool.fetch(
            "SELECT a.resident_id AS id FROM study_assignments a JOIN study_arms arm ON arm.id = a.arm_id "
            "JOIN current_consents cc ON cc.resident_id = a.resident_id AND cc.purpose = 'research' "
            "WHERE arm.code = 'evening-reminder'"
        )
    }
    kept = set(await _successes(pool))
    assert kept == {(code, resident) for code, resident in everyone if resident in reminded}
    assert kept and everyone - kept  # the reminder arm met some, the others had met some
    code, withdrawing = sorted(kept)[0]
    uid = await pool.fetchval("SELECT firebase_uid FROM residents WHERE id = $1", withdrawing)
    version = await pool.fetchval("SELECT max(version) FROM consent_documents WHERE purpose = 'research'")
    settings = settings_for_tests()
    for granted in (False, True):
        decision = ConsentsIn(decisions=[ConsentDecisionIn(purpose="research", version=version, granted=granted)])
        await consents.decide(pool, settings, uid, decision, now)
        assert (await scoring.tick(pool, now)) is not None
        assert ((code, withdrawing) in await _successes(pool)) is granted
        incremental = await _derived(pool)
        await scoring.rebuild(pool, now)
        assert await _derived(pool) == incremental


async def _successes(pool: db.Pool) -> list[tuple[str, int]]:
    """Who met the demo campaign's ten-days and half-the-team (its member rule)."""
    rows = await pool.fetch(
        "SELECT ch.code, p.resident_id FROM challenges_met p JOIN challenges ch ON ch.id = p.challenge_id "
        "JOIN campaigns k ON k.id = ch.campaign_id WHERE k.code = $1 AND ch.code IN ('ten-days', 'half-the-team')",
        DEMO_CAMPAIGN,
    )
    return [(r["code"], r["resident_id"]) for r in rows]


async def test_the_worker_stores_the_history_once_per_cut_off(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, _ = demo
    worker = Worker(pool, settings_for_tests(UPSCALE_PUSH="off"))
    await worker.score()
    await worker.history()
    stored = await pool.fetch("SELECT DISTINCT cutoff FROM history_scores")
    assert len(stored) == 1 and stored[0]["cutoff"].weekday() == 0
    assert stored[0]["cutoff"] <= datetime.now(UTC).date() - timedelta(days=9)
    assert await pool.fetchval("SELECT count(*) FROM history_challenges")
    # Nothing to do until the cut-off moves: the rows are not written again.
    xmin = await pool.fetchval("SELECT max(xmin::text::bigint) FROM history_scores")
    await worker.history()
    assert await pool.fetchval("SELECT max(xmin::text::bigint) FROM history_scores") == xmin
    # A rescore recomputes every participant from all their days, dropping their history: stored again.
    await scoring.rescore(pool, datetime.now(UTC))
    assert not await pool.fetchval("SELECT count(*) FROM history_scores")
    await worker.history()
    assert await pool.fetchval("SELECT count(*) FROM history_scores")


async def test_a_history_with_no_days_before_the_cut_off_is_stored_once(fresh_pool: db.Pool) -> None:
    cutoff = scoring.history_cutoff(datetime.now(UTC).date(), 7)
    assert await scoring.history_due(fresh_pool, cutoff)
    assert await scoring.advance_history(fresh_pool, cutoff) == 0
    assert not await scoring.history_due(fresh_pool, cutoff)
    assert await scoring.history_due(fresh_pool, cutoff + timedelta(days=7))
    await scoring.rebuild(fresh_pool, datetime.now(UTC))
    assert await scoring.history_due(fresh_pool, cutoff)


async def test_an_advance_a_rescore_overlapped_is_not_complete(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, _ = demo
    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    cutoff = scoring.history_cutoff(now.date(), 7)
    chunks = 0

    async def rescore_after_the_first_chunk() -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:  # the first chunk's rows are stored, and the rescore drops them
            await scoring.rescore(pool, now)

    assert await scoring.advance_history(pool, cutoff, chunk=100, between=rescore_after_the_first_chunk)
    assert chunks > 2
    assert await scoring.history_due(pool, cutoff)
    await scoring.advance_history(pool, cutoff, chunk=100)
    assert not await scoring.history_due(pool, cutoff)


async def test_the_worker_scores_stores_the_history_and_ranks_as_it_starts(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, _ = demo
    worker = Worker(
        pool,
        settings_for_tests(UPSCALE_PUSH="off", UPSCALE_SCORING_SECONDS="3600", UPSCALE_STANDINGS_SECONDS="3600"),
    )
    worker.start()
    try:
        for _ in range(100):
            if await pool.fetchval(
                "SELECT (SELECT count(*) FROM history_scores) > 0 AND (SELECT count(*) FROM standings) > 0"
            ):
                break
            await asyncio.sleep(0.1)
    finally:
        worker.stop()

    assert await pool.fetchval("SELECT count(*) FROM campaign_scores")
    assert await pool.fetchval("SELECT count(*) FROM history_scores")
    # The leaderboards are there too, not an interval after the first tick.
    assert await pool.fetchval("SELECT count(*) FROM standings")


async def test_a_days_amounts_add_up_exactly_to_the_millionth(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, snapshot = demo
    now = datetime.now(UTC)
    uid = await pool.fetchval("SELECT firebase_uid FROM residents WHERE firebase_uid LIKE 'demo-resident-%' LIMIT 1")
    day = now - timedelta(days=6)
    await _log(pool, snapshot, uid, *(("cycle-instead-of-car", km, day) for km in (0.7, 0.6, 2.3, 1.1)))
    await scoring.tick(pool, now)
    stored = await pool.fetchrow(
        "SELECT d.quantity, d.co2e_kg, sum(a.quantity::numeric) AS logged_km, sum(a.co2e_kg::numeric) AS logged_kg "
        "FROM resident_days d JOIN action_types t ON t.id = d.action_type_id "
        "JOIN residents r ON r.id = d.resident_id "
        "JOIN action_logs a ON a.resident_id = d.resident_id AND a.local_date = d.local_date "
        "AND a.action_type_id = d.action_type_id AND a.deleted_at IS NULL "
        "WHERE r.firebase_uid = $1 AND t.code = 'cycle-instead-of-car' "
        "AND d.local_date = (SELECT max(local_date) FROM action_logs WHERE resident_id = r.id AND performed_at = $2) "
        "GROUP BY d.quantity, d.co2e_kg",
        uid,
        day,
    )
    # As floats, 0.7 + 0.6 + 2.3 + 1.1 is 4.699999999999999: the day keeps the sum of what was logged.
    assert stored["quantity"] == stored["logged_km"] and stored["logged_km"] >= Decimal("4.7")
    assert stored["co2e_kg"] == stored["logged_kg"] > 0


async def test_two_workers_started_at_once_do_each_tick_once(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, _ = demo
    now = datetime.now(UTC)

    first, second = await asyncio.gather(scoring.tick(pool, now), scoring.tick(pool, now))

    reports = [r for r in (first, second) if r is not None]
    assert sum(r.resident_days for r in reports) == await pool.fetchval(
        "SELECT count(DISTINCT (resident_id, local_date)) FROM action_logs"
    )
    messages = await pool.fetchval("SELECT count(*) FROM notifications WHERE kind = 'achievement'")
    assert messages > 0
    assert messages == await pool.fetchval(
        "SELECT count(DISTINCT (resident_id, dedupe_key)) FROM notifications WHERE kind = 'achievement'"
    )


async def _kill_a_tick_waiting_for(pool: db.Pool, now: datetime, table: str) -> None:
    """Lock ``table``, start a tick, terminate the backend that waits for the lock, and see the tick fail."""
    async with pool.acquire() as blocker, blocker.transaction():
        await blocker.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        running = asyncio.create_task(scoring.tick(pool, now))
        for _ in range(200):
            waiting = await pool.fetchval(
                "SELECT pid FROM pg_locks WHERE NOT granted AND relation = $1::regclass LIMIT 1", table
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, f"the tick never reached {table}"
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", waiting)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)):  # its connection was killed under it
            await running


async def _next_tick_then_a_rebuild(pool: db.Pool, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
    """Tick, check that a full recomputation finds the same, and return what the tick left."""
    report = await scoring.tick(pool, now)
    assert report is not None and report.resident_days > 0
    after_tick = await _derived(pool)
    await scoring.rebuild(pool, now)
    assert await _derived(pool) == after_tick
    return after_tick


async def test_a_tick_killed_halfway_leaves_nothing_and_the_next_one_does_it_all(
    demo: tuple[db.Pool, Snapshot],
) -> None:
    pool, _ = demo
    now = datetime.now(UTC)
    # A part of the tick gets as far as the campaign scores, then waits for a lock and is killed there.
    await _kill_a_tick_waiting_for(pool, now, "campaign_scores")

    assert await pool.fetchval("SELECT count(*) FROM campaign_scores") == 0
    assert await pool.fetchval("SELECT count(*) FROM job_watermarks") == 0

    after_ticks = await _next_tick_then_a_rebuild(pool, now)
    assert after_ticks["campaign_scores"]


async def test_parts_done_before_a_tick_is_killed_are_added_up_once_by_the_next(
    demo: tuple[db.Pool, Snapshot],
) -> None:
    pool, _ = demo
    now = datetime.now(UTC)
    # Every part commits; the fold waits for a lock to add up the totals and is killed there.
    await _kill_a_tick_waiting_for(pool, now, "totals_daily")

    assert await pool.fetchval("SELECT count(*) FROM campaign_scores") > 0  # the parts' own rows are in
    assert await pool.fetchval("SELECT count(*) FROM totals_daily") == 0  # the shared sums are not
    assert await pool.fetchval("SELECT count(*) FROM job_watermarks") == 0

    after_ticks = await _next_tick_then_a_rebuild(pool, now)
    assert after_ticks["totals_daily"]


async def test_team_counts_moved_by_a_killed_tick_are_moved_once_by_the_next(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, _ = demo
    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    # Team members lose what they had met: their teams' counts move down by one each.
    await pool.execute(
        "UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() WHERE resident_id IN "
        "(SELECT resident_id FROM enrolments WHERE team_id IS NOT NULL ORDER BY resident_id LIMIT 12)"
    )
    await _kill_a_tick_waiting_for(pool, now, "totals_daily")
    assert await pool.fetchval("SELECT count(*) FROM scoring_team_flips WHERE delta = -1") > 0

    after_ticks = await _next_tick_then_a_rebuild(pool, now)  # the counts equal a recount of every team
    assert after_ticks["team_progress"]


async def test_a_campaign_result_is_taken_once_after_late_logs_can_no_longer_arrive(
    demo: tuple[db.Pool, Snapshot],
) -> None:
    pool, _ = demo
    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    await scoring.compute_standings(pool, now)
    campaign_id = await pool.fetchval("SELECT id FROM campaigns WHERE code = 'demo-kranj-active-travel'")
    ends_at = await pool.fetchval("SELECT ends_at FROM campaigns WHERE id = $1", campaign_id)
    grace = timedelta(days=7)

    assert await scoring.take_results(pool, ends_at + grace - timedelta(seconds=1), grace) == []
    assert await scoring.take_results(pool, ends_at + grace, grace) == [campaign_id]
    assert await scoring.take_results(pool, ends_at + grace + timedelta(days=1), grace) == []

    result = await pool.fetchval("SELECT result FROM campaign_results WHERE campaign_id = $1", campaign_id)
    assert result["participants"] == await pool.fetchval(
        "SELECT count(*) FROM enrolments WHERE campaign_id = $1 AND left_at IS NULL", campaign_id
    )
    assert [e["rank"] for e in result["standings"]["individual"]][:1] == [1]
    assert await pool.fetchval("SELECT final FROM standings_computed WHERE campaign_id = $1", campaign_id)
    # Scores that still change afterwards (a rescore) leave the final standings as they were.
    await pool.execute("INSERT INTO standings_due (campaign_id) VALUES ($1) ON CONFLICT DO NOTHING", campaign_id)
    assert await scoring.compute_standings(pool, now) == 0
    assert await pool.fetchval("SELECT final FROM standings_computed WHERE campaign_id = $1", campaign_id)
