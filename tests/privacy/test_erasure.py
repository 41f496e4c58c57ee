"""Erasing an account (``DELETE /v1/me``): the person is gone, every shared number stays to the cent.

The table-by-table test reads every column that holds a resident from
PostgreSQL's catalogue, so a table added later by any domain is checked too:
it fails until ``privacy/erasure.py`` says what becomes of that table.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import MakeCampaign, MakeResident, Score
from tests.factories import Resident, assert_problem, local_noon, settings_for_tests
from upscale_api import db
from upscale_api.opendata.service import Policy, publish_city
from upscale_api.privacy.erasure import TREATMENT_OF, Treatment
from upscale_api.privacy.service import resident_columns
from upscale_api.scoring import service as scoring

DEVICE = {"platform": "android", "app_version": "1.4.0", "registration_token": "token-of-the-phone"}
MESSAGE = {"title": {"sl": "Pozdrav", "en": "Hello"}, "body": {"sl": "Besedilo", "en": "Text"}}


async def _resident_id(pool: db.Pool, who: Resident) -> int:
    found: int | None = await pool.fetchval("SELECT id FROM residents WHERE firebase_uid = $1", who.uid)
    assert found is not None
    return found


async def _everything_counted(pool: db.Pool, campaign_code: str) -> dict[str, Any]:
    """Every running total, score and standing of Kranj and of the campaign, exactly as stored."""
    campaign_id = await pool.fetchval("SELECT id FROM campaigns WHERE code = $1", campaign_code)
    kranj = await pool.fetchval("SELECT id FROM cities WHERE code = 'kranj'")
    queries = {
        "city totals": "SELECT * FROM totals_daily WHERE campaign_id = 0 AND scope = 'city' AND scope_id = $2 "
        "AND $1::int IS NOT NULL ORDER BY 1, 2, 3, 4, 5",
        "campaign totals": "SELECT * FROM totals_daily WHERE campaign_id = $1 AND $2::int IS NOT NULL "
        "ORDER BY 1, 2, 3, 4, 5",
        "activity": "SELECT * FROM activity_daily WHERE (campaign_id = $1 OR (campaign_id = 0 AND scope_id = $2)) "
        "ORDER BY 1, 2, 3, 4",
        "scores": "SELECT campaign_id, resident_id, points, co2e_kg, actions, active_days, longest_streak "
        "FROM campaign_scores WHERE campaign_id = $1 AND $2::int IS NOT NULL ORDER BY resident_id",
        "standings": "SELECT scope, subject_id, score, points, co2e_kg, members, active_members FROM standings "
        "WHERE campaign_id = $1 AND $2::int IS NOT NULL ORDER BY scope, subject_id",
        "team progress": "SELECT p.* FROM team_progress p JOIN teams t ON t.id = p.team_id "
        "WHERE t.campaign_id = $1 AND $2::int IS NOT NULL ORDER BY 1, 2",
    }
    return {name: [tuple(r) for r in await pool.fetch(sql, campaign_id, kranj)] for name, sql in queries.items()}


async def test_erasing_an_account_leaves_every_total_as_it_was_to_the_cent(
    make_resident: MakeResident, make_campaign: MakeCampaign, coordinator: Resident, pool: db.Pool, score: Score
) -> None:
    campaign = await make_campaign(cities=["kranj"], question=[], challenge=[], team=[
        {"code": "school", "kind": "school", "name": "OŠ Test"}])  # fmt: skip
    leaving, staying = await make_resident("kranj", display_name="Leaving"), await make_resident("kranj")
    for who in (leaving, staying):
        joined = await who.post(f"/v1/campaigns/{campaign.code}/enrolment", json={"team": "school"})
        assert joined.status_code == 201, joined.text
        for days_ago, km in ((2, 12.3), (1, 7.7), (0, 3.1)):
            assert (await who.log(quantity=km, performed_at=local_noon(days_ago))).status_code == 201
    await score()
    stats_path, board_path = f"/v1/admin/campaigns/{campaign.code}/stats", f"/v1/campaigns/{campaign.code}/leaderboard"
    stats_before = (await coordinator.get(stats_path)).json()
    board_before = (await staying.get(board_path, params={"scope": "team"})).json()
    counted_before = await _everything_counted(pool, campaign.code)
    # The open aggregates as published a fortnight from now, when these weeks are final.
    later = datetime.now(UTC) + timedelta(days=15)
    kranj = await pool.fetchrow("SELECT id, code, name, time_zone, languages FROM cities WHERE code = 'kranj'")
    await publish_city(pool, kranj, Policy.from_settings(settings_for_tests()), later)
    published_before = await pool.fetchrow("SELECT digest, json_body FROM open_data_publications WHERE city_id = $1",
                                           kranj["id"])  # fmt: skip
    rows = json.loads(published_before["json_body"])["rows"]
    assert any(r["campaign"] == campaign.code and r["participants"] is None for r in rows)  # two: too few to show

    erased = await leaving.delete("/v1/me")

    assert erased.status_code == 204
    assert_problem(await leaving.get("/v1/me"), 404, "not-registered")
    assert (await leaving.delete("/v1/me")).status_code == 204  # again: harmless
    await score()
    await scoring.rescore(pool, datetime.now(UTC), campaign_id=await pool.fetchval(
        "SELECT id FROM campaigns WHERE code = $1", campaign.code))  # fmt: skip
    await score()
    assert await _everything_counted(pool, campaign.code) == counted_before
    assert (await coordinator.get(stats_path)).json() == stats_before
    board_after = (await staying.get(board_path, params={"scope": "team"})).json()
    assert board_after["top"] == board_before["top"]
    assert await publish_city(pool, kranj, Policy.from_settings(settings_for_tests()), later) is False
    published_after = await pool.fetchrow("SELECT digest, json_body FROM open_data_publications WHERE city_id = $1",
                                          kranj["id"])  # fmt: skip
    assert published_after == published_before


async def test_nothing_of_the_person_is_left_in_any_table(
    make_resident: MakeResident, make_campaign: MakeCampaign, coordinator: Resident, pool: db.Pool, score: Score
) -> None:
    name = f"Name-{uuid.uuid4().hex[:8]}"
    campaign = await make_campaign(cities=["kranj"], question=[], challenge=[], team=[], residents_create_teams=True)
    person = await make_resident("kranj", display_name=name)
    started = await person.post(f"/v1/campaigns/{campaign.code}/teams", json={"name": f"Team {uuid.uuid4().hex[:6]}"})
    assert started.status_code == 201, started.text
    installation = f"fid-{uuid.uuid4().hex}"
    assert (await person.put(f"/v1/me/devices/{installation}", json=DEVICE)).status_code == 201
    assert (await person.patch("/v1/me/notification-settings", json={"daily_cap": 5})).status_code == 200
    logged = await person.log()
    assert logged.status_code == 201
    assert (await person.log(performed_at=local_noon(1))).status_code == 201
    sent = await coordinator.post(f"/v1/admin/campaigns/{campaign.code}/broadcasts", json=MESSAGE)
    assert sent.json()["recipients"] == 1
    await score()
    resident_id = await _resident_id(pool, person)

    assert (await person.delete("/v1/me")).status_code == 204

    tombstone = await pool.fetchrow("SELECT * FROM residents WHERE id = $1", resident_id)
    assert tombstone["firebase_uid"] is None and tombstone["display_name"] is None
    assert tombstone["erased_at"] is not None
    columns = await resident_columns(pool)
    assert {c["table_name"] for c in columns} >= {"action_logs", "devices", "notifications", "role_grants"}
    unhandled = sorted({c["table_name"] for c in columns} - set(TREATMENT_OF))
    assert unhandled == [], "tables with a resident that privacy/erasure.py does not handle"
    left_behind = []
    for column in columns:
        table, name_of_column = column["table_name"], column["column_name"]
        value: object = person.uid if column["holds"] == "uid" else resident_id
        cast = "::text" if column["holds"] == "uid" else "::bigint"
        rows = await pool.fetchval(
            f'SELECT count(*) FROM "{table}" WHERE "{name_of_column}"{cast} = $1',
            value,
        )
        if rows and (column["holds"] == "uid" or TREATMENT_OF[table] is Treatment.DELETE):
            left_behind.append(f"{table}.{name_of_column}: {rows}")
    assert left_behind == []
    # No text anywhere holds the uid, the name or the device.
    texts = await pool.fetch(
        "SELECT table_name::text, column_name::text FROM information_schema.columns c "
        "WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'jsonb') "
        "AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_name = c.table_name "
        "AND t.table_schema = c.table_schema AND t.table_type = 'BASE TABLE')"
    )
    found = []
    for t in texts:
        for secret in (person.uid, name, installation):
            where = f'SELECT count(*) FROM "{t[0]}" WHERE "{t[1]}"::text LIKE $1'
            if await pool.fetchval(where, f"%{secret}%"):
                found.append(f"{t[0]}.{t[1]} holds {secret}")
    assert found == []
    # What stays is detached: the actions count, their exact times are gone.
    kept = await pool.fetch("SELECT performed_at, recorded_at, local_date FROM action_logs WHERE resident_id = $1",
                            resident_id)  # fmt: skip
    assert len(kept) == 2
    zone = ZoneInfo("Europe/Ljubljana")
    for row in kept:
        assert row["performed_at"] == row["recorded_at"]
        assert row["performed_at"].astimezone(zone).hour == 12 and row["performed_at"].astimezone(zone).minute == 0


async def test_a_deleted_sign_in_may_register_again_as_a_new_person(make_resident: MakeResident, pool: db.Pool) -> None:
    person = await make_resident("kranj", display_name="Before")
    assert (await person.log()).status_code == 201
    before = await _resident_id(pool, person)
    assert (await person.delete("/v1/me")).status_code == 204
    assert_problem(await person.get("/v1/me/actions"), 404, "not-registered")
    assert_problem(await person.log(), 404, "not-registered")

    again = await person.put("/v1/me", json={"city": "ljubljana"})

    assert again.status_code == 201
    assert await _resident_id(pool, person) != before
    assert await person.logged() == []
    assert (await person.get("/v1/me")).json()["display_name"] is None


async def test_erasing_a_coordinator_keeps_their_decisions_without_their_identity(
    make_resident: MakeResident, coordinator: Resident, other_coordinator: Resident, pool: db.Pool, score: Score
) -> None:
    resident = await make_resident("kranj")
    now = datetime.now(ZoneInfo("Europe/Ljubljana"))
    earlier_today = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    for _ in range(2):
        logged = await resident.log("cycle-instead-of-car", 60, performed_at=earlier_today.isoformat())
        assert logged.status_code == 201
    await score()
    entry = await pool.fetchval(
        "SELECT h.id FROM held_days h JOIN residents r ON r.id = h.resident_id WHERE r.firebase_uid = $1",
        resident.uid,
    )
    for decision in ("reject", "accept"):
        decided = await coordinator.post(f"/v1/admin/held-entries/{entry}/decision", json={"decision": decision})
        assert decided.status_code == 200

    assert (await coordinator.delete("/v1/me")).status_code == 204

    assert_problem(await coordinator.get("/v1/admin/held-entries"), 403, "forbidden")
    decisions = await pool.fetch("SELECT decided_by FROM held_day_decisions WHERE held_day_id = $1", entry)
    held = await pool.fetchval("SELECT decided_by FROM held_days WHERE id = $1", entry)
    assert len(decisions) == 2
    pseudonyms = {d["decided_by"] for d in decisions} | {held}
    assert len(pseudonyms) == 1
    (pseudonym,) = pseudonyms
    assert pseudonym.startswith("erased-") and coordinator.uid not in pseudonym
    # Kranj's remaining staff still read the whole trail, now without the name.
    await _grant_kranj(pool, other_coordinator)
    shown = (await other_coordinator.get(f"/v1/admin/held-entries/{entry}")).json()
    assert [d["decided_by"] for d in shown["decisions"]] == [pseudonym, pseudonym]


async def _grant_kranj(pool: db.Pool, staff: Resident) -> None:
    from upscale_api.roles.service import grant_role

    await grant_role(pool, staff.uid, "coordinator", "kranj", granted_by="test")
