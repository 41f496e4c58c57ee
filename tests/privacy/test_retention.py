"""Retention: the worker's job deletes old history and erases long-inactive accounts, a notice first.

The job takes its clock as an argument; each test moves it forward instead of
waiting. Each test runs on a database of its own, because the job works on
every resident it finds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import NewDatabase
from tests.factories import Resident, assert_problem, settings_for_tests
from upscale_api import db, migrations
from upscale_api.app import create_app
from upscale_api.notifications.sender import plan_due
from upscale_api.privacy.retention import RetentionPolicy, apply_retention
from upscale_api.roles.service import grant_role
from upscale_api.worker import Worker

SETTINGS = settings_for_tests()
POLICY = RetentionPolicy.from_settings(SETTINGS)  # 365 / 90 / 180 days; 24 months and a 30-day notice
DEVICE = {"platform": "android", "app_version": "1.4.0"}


@pytest.fixture
async def own(new_database: NewDatabase) -> AsyncIterator[tuple[AsyncTestClient[Any], db.Pool]]:
    """The app and a pool on a database of the test's own."""
    url = await new_database()
    pool = await db.create_pool(url, SETTINGS)
    async with pool.acquire() as conn:
        await migrations.migrate(conn)
    async with AsyncTestClient(app=create_app(SETTINGS, database_url=url), raise_server_exceptions=False) as client:
        yield client, pool
    await pool.close()


async def _register(client: AsyncTestClient[Any], name: str) -> Resident:
    resident = Resident(uid=f"{name}-{uuid.uuid4().hex[:8]}", client=client)
    assert (await resident.put("/v1/me", json={"city": "kranj"})).status_code == 201
    assert (await resident.log()).status_code == 201
    assert (await resident.put(f"/v1/me/devices/fid-{resident.uid}", json=DEVICE)).status_code == 201
    return resident


async def _last_used_months_ago(pool: db.Pool, resident: Resident, months: int) -> None:
    """Everything the resident did happened ``months`` ago (what a long absence leaves in the database)."""
    then = datetime.now(UTC) - timedelta(days=round(months * 30.44))
    await pool.execute("UPDATE residents SET updated_at = $2 WHERE firebase_uid = $1", resident.uid, then)
    for table, column in (("action_logs", "recorded_at"), ("action_logs", "performed_at"), ("devices", "updated_at")):
        await pool.execute(
            f"UPDATE {table} t SET {column} = $2 FROM residents r WHERE r.id = t.resident_id AND r.firebase_uid = $1",
            resident.uid,
            then,
        )


async def test_an_inactive_account_is_told_first_then_erased_unless_used_again(
    own: tuple[AsyncTestClient[Any], db.Pool],
) -> None:
    client, pool = own
    active, gone, returning, staff = [await _register(client, n) for n in ("active", "gone", "returning", "staff")]
    await grant_role(pool, staff.uid, "coordinator", "kranj", granted_by="test")
    for resident in (gone, returning, staff):
        await _last_used_months_ago(pool, resident, 25)
    now = datetime.now(UTC)

    told = await apply_retention(pool, now, POLICY)

    assert (told.notices, told.erased) == (2, 0)
    for resident in (gone, returning):
        (notice,) = (await resident.get("/v1/me/notifications")).json()["items"]
        assert notice["data"] == {
            "notice": "inactive-account",
            "erase_on": (now + timedelta(days=30)).date().isoformat(),
        }
        assert "erase" in notice["body"] or "izbris" in notice["body"]
    for resident in (active, staff):
        assert (await resident.get("/v1/me/notifications")).json()["items"] == []
    # Opening the app registers the device again (forgotten after 180 days unused): the clock starts again.
    assert (await returning.put(f"/v1/me/devices/fid-{returning.uid}", json=DEVICE)).status_code == 201
    before_the_date = await apply_retention(pool, now + timedelta(days=29), POLICY)
    assert (before_the_date.notices_withdrawn, before_the_date.erased) == (1, 0)

    later = await apply_retention(pool, now + timedelta(days=31), POLICY)

    assert (later.notices, later.erased) == (0, 1)
    assert_problem(await gone.get("/v1/me"), 404, "not-registered")
    for resident in (active, returning, staff):
        assert (await resident.get("/v1/me")).status_code == 200
    # Erased like DELETE /v1/me: a tombstone that still counts, nothing that names the person.
    tombstone = await pool.fetchrow(
        "SELECT r.firebase_uid, r.erased_at, count(a.id) AS actions FROM residents r "
        "JOIN action_logs a ON a.resident_id = r.id WHERE r.erased_at IS NOT NULL GROUP BY r.id"
    )
    assert tombstone["firebase_uid"] is None and tombstone["actions"] == 1
    assert await pool.fetchval("SELECT count(*) FROM devices WHERE installation_id = $1", f"fid-{gone.uid}") == 0
    assert await pool.fetchval("SELECT count(*) FROM notifications n JOIN residents r ON r.id = n.resident_id "
                               "WHERE r.erased_at IS NOT NULL") == 0  # fmt: skip
    assert not await apply_retention(pool, now + timedelta(days=32), POLICY)  # nothing more to do


async def test_old_messages_attempts_and_devices_go_after_their_periods(
    own: tuple[AsyncTestClient[Any], db.Pool],
) -> None:
    client, pool = own
    resident = await _register(client, "resident")
    resident_id = await pool.fetchval("SELECT id FROM residents WHERE firebase_uid = $1", resident.uid)
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at) "
        "SELECT id, city_id, 'broadcast', 'hello', 'Hello', 'Text', 'en', $2 FROM residents WHERE id = $1",
        resident_id,
        now + timedelta(hours=12),
    )
    await plan_due(pool, now, push=False)  # inbox only (or held back by quiet hours until it expires)
    message = await pool.fetchval("SELECT id FROM notifications WHERE resident_id = $1", resident_id)
    await pool.execute(
        "INSERT INTO notification_attempts (notification_id, installation_id, outcome) VALUES ($1, $2, 'sent')",
        message,
        f"fid-{resident.uid}",
    )

    def counts() -> Any:
        return pool.fetchrow(
            "SELECT (SELECT count(*) FROM notifications WHERE resident_id = $1) AS messages, "
            "(SELECT count(*) FROM notification_attempts WHERE notification_id = $2) AS attempts, "
            "(SELECT count(*) FROM devices WHERE resident_id = $1) AS devices",
            resident_id,
            message,
        )

    assert tuple(await counts()) == (1, 1, 1)
    await apply_retention(pool, now + timedelta(days=89), POLICY)
    assert tuple(await counts()) == (1, 1, 1)
    await apply_retention(pool, now + timedelta(days=91), POLICY)
    assert tuple(await counts()) == (1, 0, 1)
    await apply_retention(pool, now + timedelta(days=181), POLICY)
    assert tuple(await counts()) == (1, 0, 0)
    assert (await resident.get("/v1/me/devices")).json() == []
    await apply_retention(pool, now + timedelta(days=366), POLICY)
    assert tuple(await counts()) == (0, 0, 0)
    assert (await resident.get("/v1/me/notifications")).json()["items"] == []
    assert (await resident.get("/v1/me")).status_code == 200  # the account itself stays


def test_the_worker_runs_retention_and_open_data_every_tick_under_their_locks(pool: db.Pool) -> None:
    worker = Worker(pool, SETTINGS)

    assert worker.scheduler.get_job("retention") is not None
    assert worker.scheduler.get_job("open_data") is not None


async def test_a_message_being_pushed_at_erasure_goes_once_its_outcome_is_recorded(
    own: tuple[AsyncTestClient[Any], db.Pool],
) -> None:
    client, pool = own
    resident = await _register(client, "leaving")
    resident_id = await pool.fetchval("SELECT id FROM residents WHERE firebase_uid = $1", resident.uid)
    message = await pool.fetchval(
        "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, status) "
        "SELECT id, city_id, 'broadcast', 'hello', 'Hello', 'Text', 'en', now() + interval '1 day', 'sending' "
        "FROM residents WHERE id = $1 RETURNING id",
        resident_id,
    )
    # A sender claimed it and is waiting for FCM.
    await pool.execute(
        "INSERT INTO notification_deliveries (notification_id, installation_id, status, attempts, claimed_at) "
        "VALUES ($1, $2, 'sending', 1, now())",
        message,
        f"fid-{resident.uid}",
    )

    assert (await resident.delete("/v1/me")).status_code == 204

    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE id = $1", message) == 1
    # The sender records the outcome, which refers to the message.
    await pool.execute("UPDATE notification_deliveries SET status = 'sent' WHERE notification_id = $1", message)
    await pool.execute(
        "INSERT INTO notification_attempts (notification_id, installation_id, outcome) VALUES ($1, $2, 'sent')",
        message,
        f"fid-{resident.uid}",
    )
    swept = await apply_retention(pool, datetime.now(UTC), POLICY)
    assert swept.messages_to_erased == 1
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE id = $1", message) == 0
    assert await pool.fetchval("SELECT count(*) FROM notification_attempts WHERE notification_id = $1", message) == 0
