"""Scheduled campaign nudges become outbox messages: right people, right language, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import TEXT, TIME_ZONES, action, campaign_definition
from upscale_api import db
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.db import AdvisoryLock
from upscale_api.notifications.producers import produce_campaign_events, produce_nudges, produce_weekly_summaries
from upscale_api.worker import run_once

ZONE = ZoneInfo("Europe/Ljubljana")
TODAY = datetime.now(ZONE).date()
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, ZONE).astimezone(UTC)


@pytest.fixture
async def campaign(pool: db.Pool) -> Any:
    nudges = [
        {
            "code": "monday-morning",
            "schedule": {"weekday": WEEKDAYS[TODAY.weekday()], "time": "07:30"},
            "audience": "inactive_this_week",
            "title": {"sl": "Nov teden", "en": "A new week"},
            "body": {"sl": "Na kolo!", "en": "Get on your bike!"},
        },
        {"code": "daily", "schedule": {"time": "18:00"}, "audience": "all", "title": {"en": "Evening"}, "body": TEXT},
    ]
    definition = campaign_definition(nudge=nudges)
    async with pool.acquire() as conn, conn.transaction():
        await apply_campaigns(conn, [definition], TIME_ZONES, "file", TODAY)
    return definition


async def _messages(pool: db.Pool, campaign: Any) -> list[Any]:
    return await pool.fetch(
        "SELECT r.firebase_uid AS uid, n.title, n.dedupe_key, n.data FROM notifications n "
        "JOIN residents r ON r.id = n.resident_id JOIN campaigns k ON k.id = n.campaign_id "
        "WHERE k.code = $1 ORDER BY n.id",
        campaign.code,
    )


async def test_a_nudge_goes_to_its_audience_once_in_their_language(
    make_resident: Any, campaign: Any, pool: db.Pool
) -> None:
    slovene, english, active = (
        await make_resident(locale="sl"),
        await make_resident(locale="en"),
        await make_resident(),
    )
    for resident in (slovene, english, active):
        await resident.post(f"/v1/campaigns/{campaign.code}/enrolment", json={"baseline": {"car_km_per_week": 10}})
    await active.post("/v1/me/actions", json=action("walk-instead-of-car", 1))

    await produce_nudges(pool, _at(TODAY, time(7, 29)))
    before = len(await _messages(pool, campaign))
    await produce_nudges(pool, _at(TODAY, time(7, 35)))
    first = len(await _messages(pool, campaign))
    await produce_nudges(pool, _at(TODAY, time(7, 40)))
    again = len(await _messages(pool, campaign))

    messages = [m for m in await _messages(pool, campaign) if m["data"]["nudge"] == "monday-morning"]
    assert (before, first, again) == (0, 2, 2)
    assert {(m["uid"], m["title"]) for m in messages} == {(slovene.uid, "Nov teden"), (english.uid, "A new week")}
    assert all(m["dedupe_key"].endswith(TODAY.isoformat()) for m in messages)


async def test_english_is_the_fallback_and_late_nudges_are_skipped(
    make_resident: Any, campaign: Any, pool: db.Pool
) -> None:
    resident = await make_resident(locale="sl")
    await resident.post(f"/v1/campaigns/{campaign.code}/enrolment", json={"baseline": {"car_km_per_week": 10}})

    await produce_nudges(pool, _at(TODAY, time(19, 30)))  # more than an hour after 18:00
    too_late = len(await _messages(pool, campaign))
    await produce_nudges(pool, _at(TODAY, time(18, 5)))

    evening = [m for m in await _messages(pool, campaign) if m["data"]["nudge"] == "daily"]
    assert (too_late, len(evening)) == (0, 1)
    assert evening[0]["title"] == "Evening"  # no Slovene title: English


async def test_a_job_runs_in_one_replica_at_a_time(pool: db.Pool) -> None:
    ran: list[str] = []

    async def slow() -> None:
        ran.append("first")
        assert await run_once(pool, AdvisoryLock.NUDGES, second) is False  # held by the first replica

    async def second() -> None:
        ran.append("second")

    assert await run_once(pool, AdvisoryLock.NUDGES, slow) is True
    assert ran == ["first"]
    assert await run_once(pool, AdvisoryLock.NUDGES, second) is True


async def test_the_weekly_summary_fills_in_the_residents_numbers(make_resident: Any, pool: db.Pool) -> None:
    slovene, english, idle = (
        await make_resident(locale="sl"),
        await make_resident(locale="en"),
        await make_resident(locale="sl"),
    )
    last_monday = TODAY - timedelta(days=TODAY.weekday() + 7)
    for resident in (slovene, english):
        await pool.execute(
            """
            INSERT INTO action_logs (id, resident_id, city_id, action_type_id, quantity, performed_at, local_date,
                                     baseline_factor_id, co2e_kg)
            SELECT gen_random_uuid(), r.id, r.city_id, t.id, 1, $2, $3, f.id, 1.25
            FROM residents r, action_types t, emission_factors f, generate_series(1, 2)
            WHERE r.firebase_uid = $1 AND t.code = 'walk-instead-of-car' AND f.code = t.baseline_factor
              AND f.version = 1
            """,
            resident.uid,
            _at(last_monday, time(12)),
            last_monday,
        )
    monday_morning = _at(TODAY - timedelta(days=TODAY.weekday()), time(9, 5))

    await produce_weekly_summaries(pool, monday_morning)
    await produce_weekly_summaries(pool, monday_morning + timedelta(hours=1))

    rows = await pool.fetch(
        "SELECT r.firebase_uid AS uid, n.title, n.body FROM notifications n JOIN residents r ON r.id = n.resident_id "
        "WHERE n.kind = 'weekly_summary' AND r.firebase_uid = ANY($1::text[])",
        [slovene.uid, english.uid, idle.uid],
    )
    by_uid = {r["uid"]: r for r in rows}
    assert set(by_uid) == {slovene.uid, english.uid}
    assert by_uid[slovene.uid]["title"] == "Vaš teden: 2,5 kg CO₂e manj"
    assert by_uid[english.uid]["title"] == "Your week: 2.5 kg CO₂e saved"
    assert "2 sustainable actions on 1 days" in by_uid[english.uid]["body"]


async def test_participants_hear_when_a_campaign_starts_and_ends(make_resident: Any, pool: db.Pool) -> None:
    definition = campaign_definition(starts_on=TODAY.isoformat(), ends_on=(TODAY + timedelta(days=6)).isoformat())
    async with pool.acquire() as conn, conn.transaction():
        await apply_campaigns(conn, [definition], TIME_ZONES, "file", TODAY)
    resident = await make_resident(locale="sl")
    await resident.post(f"/v1/campaigns/{definition.code}/enrolment", json={"baseline": {"car_km_per_week": 10}})
    start = _at(TODAY, time(0, 0))
    end = _at(TODAY + timedelta(days=7), time(0, 0))

    for moment in (start + timedelta(minutes=1), start + timedelta(hours=2), end + timedelta(minutes=1)):
        await produce_campaign_events(pool, moment)

    titles = [m["title"] for m in await _messages(pool, definition)]
    assert titles == ["Začelo se je: Kolesarski mesec", "Konec: Kolesarski mesec"]
