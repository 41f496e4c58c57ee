"""The sender: the real firebase-admin client against a local fake FCM server.

Each test runs on a database of its own, because planning and sending work on
every due message, as they do in production.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from firebase_admin import exceptions, messaging

from tests.fakes.fcm import FakeFCM
from upscale_api import db
from upscale_api.notifications import queries, sender
from upscale_api.notifications.fcm import messaging_app

PROJECT = "demo-upscale"


@pytest.fixture
def app(fcm: FakeFCM) -> Any:
    return messaging_app(PROJECT, endpoint=fcm.url)


@pytest.fixture
async def pool(fresh_pool: db.Pool) -> AsyncIterator[db.Pool]:
    await fresh_pool.execute(
        "INSERT INTO cities (code, country, name, time_zone, languages) "
        "VALUES ('kranj', 'SI', '{\"en\": \"Kranj\"}', 'Europe/Ljubljana', '{sl,en}')"
    )
    yield fresh_pool


async def _resident(pool: db.Pool, *devices: str, time_zone: str = "Europe/Ljubljana") -> int:
    resident_id: int = await pool.fetchval(
        "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
        "SELECT $1, id, 'sl', $2 FROM cities WHERE code = 'kranj' RETURNING id",
        f"r-{uuid.uuid4().hex}",
        time_zone,
    )
    for fid in devices:
        await pool.execute(
            "INSERT INTO devices (installation_id, resident_id, city_id, platform, app_version) "
            "SELECT $1, $2, city_id, 'android', '1.0' FROM residents WHERE id = $2",
            fid,
            resident_id,
        )
    return resident_id


async def _notify(
    pool: db.Pool,
    resident_id: int,
    kind: str = "reminder",
    expires_in: timedelta = timedelta(hours=6),
    not_before: datetime | None = None,
) -> int:
    """A message as a producer writes it (due now unless ``not_before`` says otherwise)."""
    notification_id: int = await pool.fetchval(
        "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, not_before) "
        "SELECT id, city_id, $2, $3, 'Nov teden', 'Na kolo!', 'sl', now() + $4, coalesce($5, now()) "
        "FROM residents WHERE id = $1 RETURNING id",
        resident_id,
        kind,
        uuid.uuid4().hex,
        expires_in,
        not_before,
    )
    return notification_id


async def _quiet_hours_off(pool: db.Pool, resident_id: int, **settings: Any) -> None:
    """Quiet hours that never apply (start = end), so tests do not depend on the time of day."""
    await pool.execute(
        "INSERT INTO notification_settings (resident_id, quiet_start, quiet_end, daily_cap, reminders) "
        "VALUES ($1, '00:00', '00:00', $2, $3)",
        resident_id,
        settings.get("daily_cap", 3),
        settings.get("reminders", True),
    )


async def _status(pool: db.Pool, notification_id: int) -> tuple[str, str | None]:
    row = await pool.fetchrow("SELECT status, status_reason FROM notifications WHERE id = $1", notification_id)
    assert row is not None
    return row["status"], row["status_reason"]


async def _run(pool: db.Pool, app: Any, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    await sender.plan_due(pool, now)
    return await sender.send_batch(pool, app, now)


async def test_a_due_message_reaches_every_device_once(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-phone", "fid-tablet")
    await _quiet_hours_off(pool, resident)
    notification = await _notify(pool, resident)

    assert await _run(pool, app) == 2
    assert await _run(pool, app) == 0

    assert sorted(r.target for r in fcm.delivered()) == ["fid-phone", "fid-tablet"]
    message = fcm.sent_to("fid-phone")[0].message
    assert message["notification"] == {"title": "Nov teden", "body": "Na kolo!"}
    assert message["data"]["kind"] == "reminder"
    assert await _status(pool, notification) == ("sent", None)
    attempts = await pool.fetch(
        "SELECT outcome, fcm_message_id FROM notification_attempts WHERE notification_id = $1", notification
    )
    assert [a["outcome"] for a in attempts] == ["sent", "sent"] and all(a["fcm_message_id"] for a in attempts)


async def test_quiet_hours_defer_to_their_end_in_the_residents_time_zone(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-night")
    late_evening = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)  # 23:30 in Ljubljana (CET)
    notification = await _notify(pool, resident, not_before=late_evening - timedelta(minutes=5))

    await _run(pool, app, late_evening)

    status, reason = await _status(pool, notification)
    not_before = await pool.fetchval("SELECT not_before FROM notifications WHERE id = $1", notification)
    assert (status, reason) == ("pending", "deferred: quiet hours")
    assert not_before == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # 08:00 the next morning, local
    assert fcm.received == []


async def test_quiet_hours_across_a_dst_change(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-dst")
    evening = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 CET; clocks go forward at 02:00 that night
    notification = await _notify(pool, resident, not_before=evening - timedelta(minutes=5))
    await pool.execute(
        "UPDATE notifications SET expires_at = $2 WHERE id = $1", notification, evening + timedelta(days=1)
    )

    await _run(pool, app, evening)

    not_before = await pool.fetchval("SELECT not_before FROM notifications WHERE id = $1", notification)
    assert not_before == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST


async def test_opt_outs_drop_the_push_with_the_reason(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-quiet")
    await _quiet_hours_off(pool, resident, reminders=False)
    notification = await _notify(pool, resident)

    await _run(pool, app)

    assert await _status(pool, notification) == ("dropped", "opted out of reminder")
    assert fcm.received == []


async def test_the_daily_cap_defers(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-capped")
    await _quiet_hours_off(pool, resident, daily_cap=1)
    first, second = await _notify(pool, resident), await _notify(pool, resident)

    await _run(pool, app)
    await _run(pool, app)

    statuses = sorted([await _status(pool, first), await _status(pool, second)])
    assert statuses == [("pending", "deferred: daily cap of 1"), ("sent", None)]
    assert len(fcm.delivered()) == 1


async def test_expired_messages_are_not_sent(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-late")
    await _quiet_hours_off(pool, resident)
    notification = await _notify(pool, resident, expires_in=timedelta(seconds=-1))

    await _run(pool, app)

    assert await _status(pool, notification) == ("expired", "expired before it could be sent")
    assert fcm.received == []


async def test_an_unregistered_device_is_deactivated(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-gone", "fid-ok")
    await _quiet_hours_off(pool, resident)
    fcm.always("fid-gone", "unregistered")
    first = await _notify(pool, resident)

    await _run(pool, app)
    await _notify(pool, resident)
    await _run(pool, app)

    assert await pool.fetchval("SELECT active FROM devices WHERE installation_id = 'fid-gone'") is False
    assert len(fcm.sent_to("fid-gone")) == 1  # not tried again for the second message
    assert await _status(pool, first) == ("sent", None)  # the other device got it


async def test_quota_errors_are_retried_after_retry_after(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-busy")
    await _quiet_hours_off(pool, resident)
    fcm.retry_after_seconds = 120
    fcm.script("fid-busy", ["quota_exceeded"])
    notification = await _notify(pool, resident)
    now = datetime.now(UTC)

    await _run(pool, app, now)
    retry_at = await pool.fetchval(
        "SELECT next_attempt_at FROM notification_deliveries WHERE notification_id = $1", notification
    )
    nothing_yet = await sender.send_batch(pool, app, now + timedelta(seconds=60))
    later = await sender.send_batch(pool, app, now + timedelta(seconds=121))

    assert retry_at >= now + timedelta(seconds=120)
    assert (nothing_yet, later) == (0, 1)
    assert await _status(pool, notification) == ("sent", None)
    outcomes = await pool.fetch(
        "SELECT outcome FROM notification_attempts WHERE notification_id = $1 ORDER BY id", notification
    )
    assert [o["outcome"] for o in outcomes] == ["QUOTA_EXCEEDED", "sent"]


async def test_an_invalid_token_fails_and_deactivates(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-bad")
    await _quiet_hours_off(pool, resident)
    fcm.always("fid-bad", "invalid_argument")
    notification = await _notify(pool, resident)

    await _run(pool, app)

    assert await _status(pool, notification) == ("failed", None)
    assert (
        await pool.fetchval("SELECT deactivated_reason FROM devices WHERE installation_id = 'fid-bad'")
        == "INVALID_TOKEN"
    )


async def test_two_senders_at_once_send_each_message_once(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    devices = [f"fid-many-{i}" for i in range(40)]
    resident = await _resident(pool, *devices)
    await _quiet_hours_off(pool, resident)
    await _notify(pool, resident)
    await sender.plan_due(pool, datetime.now(UTC))

    counts = await asyncio.gather(*(sender.send_batch(pool, app, datetime.now(UTC), batch=15) for _ in range(4)))

    assert sum(counts) == 40
    assert sorted(r.target for r in fcm.received) == sorted(devices)


async def test_a_sender_killed_mid_batch_never_sends_twice(pool: db.Pool, app: Any, fcm: FakeFCM) -> None:
    resident = await _resident(pool, "fid-crash")
    await _quiet_hours_off(pool, resident)
    notification = await _notify(pool, resident)
    now = datetime.now(UTC)
    await sender.plan_due(pool, now)
    # A sender claims the batch and dies before recording what FCM answered.
    await pool.fetch(queries.CLAIM, now, sender.BATCH)

    assert await sender.send_batch(pool, app, now + timedelta(minutes=1)) == 0
    settled = await sender.fail_stale(pool, now + timedelta(minutes=11))

    assert settled == 1
    assert await _status(pool, notification) == ("failed", None)
    reason = await pool.fetchval("SELECT outcome FROM notification_attempts WHERE notification_id = $1", notification)
    assert reason == "SENDER_STOPPED"
    assert fcm.received == []


def test_a_timeout_before_the_request_left_is_retried_and_one_after_is_not() -> None:
    row = {"notification_id": 1, "installation_id": "fid-1", "attempts": 1}
    not_sent = exceptions.DeadlineExceededError("timed out", cause=httpx.ConnectTimeout("connect"))
    maybe_sent = exceptions.DeadlineExceededError("timed out", cause=httpx.ReadTimeout("read"))
    now = datetime.now(UTC)

    retried = sender._result(row, messaging.SendResponse(None, not_sent), now)
    given_up = sender._result(row, messaging.SendResponse(None, maybe_sent), now)

    assert (retried.status, retried.outcome) == ("pending", "NOT_SENT") and retried.next_attempt_at is not None
    assert (given_up.status, given_up.outcome) == ("failed", "DeadlineExceededError")
