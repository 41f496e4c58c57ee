"""Draining the outbox: batches sent until none is left, two at once, each delivery once."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fakes.fcm import FakeFCM
from upscale_api import db
from upscale_api.notifications import sender
from upscale_api.notifications.fcm import messaging_app


async def test_a_drain_sends_every_due_delivery_once_across_its_loops(fresh_pool: db.Pool, fcm: FakeFCM) -> None:
    await fresh_pool.execute(
        "INSERT INTO cities (code, country, name, time_zone, languages) "
        "VALUES ('kranj', 'SI', '{\"en\": \"Kranj\"}', 'Europe/Ljubljana', '{sl,en}')"
    )
    await fresh_pool.execute(
        "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
        "SELECT 'drain-' || g, id, 'sl', time_zone FROM generate_series(1, 45) g, cities"
    )
    await fresh_pool.execute(
        "INSERT INTO devices (installation_id, resident_id, city_id, platform, app_version) "
        "SELECT 'fid-drain-' || id, id, city_id, 'android', '1.0' FROM residents"
    )
    await fresh_pool.execute(
        "INSERT INTO notification_settings (resident_id, quiet_start, quiet_end, daily_cap) "
        "SELECT id, '00:00', '00:00', 3 FROM residents"
    )
    await fresh_pool.execute(
        "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, not_before) "
        "SELECT id, city_id, 'reminder', 'drain', 'Nov teden', 'Na kolo!', 'sl', now() + interval '1 hour', now() "
        "FROM residents"
    )
    now = datetime.now(UTC)
    await sender.plan_due(fresh_pool, now)
    app = messaging_app("demo-upscale-drain", endpoint=fcm.url)

    handled = await sender.drain(fresh_pool, app, now, loops=2, batch=10)

    assert handled == 45
    assert sorted(r.target or "" for r in fcm.received) == sorted(f"fid-drain-{i}" for i in range(1, 46))
    statuses = await fresh_pool.fetch("SELECT status, count(*) AS n FROM notifications GROUP BY status")
    assert [(r["status"], r["n"]) for r in statuses] == [("sent", 45)]
    assert await sender.drain(fresh_pool, app, now) == 0
