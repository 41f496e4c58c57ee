"""/metrics: who may read it, and that each figure moves when what it counts happens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.factories import Resident, assert_problem, settings_for_tests
from tests.fakes.fcm import FakeFCM
from tests.observability.conftest import SCRAPER, scrape, value
from upscale_api import db
from upscale_api.app import create_app
from upscale_api.notifications import sender
from upscale_api.notifications.fcm import messaging_app
from upscale_api.roles.service import grant_role
from upscale_api.settings import load_settings
from upscale_api.worker import Worker


async def test_only_the_scraper_token_reads_the_metrics(
    client: AsyncTestClient[Any], make_resident: MakeResident, pool: db.Pool
) -> None:
    resident = await make_resident()
    admin = Resident(uid=f"admin-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, admin.uid, "admin", None, granted_by="test")
    refused = {
        "nobody": {},
        "a resident": resident.headers,
        "an admin": admin.headers,
        "a wrong token": {"Authorization": "Bearer " + "x" * 40},
        "the token without its scheme": {"Authorization": SCRAPER["Authorization"].removeprefix("Bearer ")},
    }

    for who, headers in refused.items():
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 401, who
        assert_problem(response, 401, "unauthenticated")
        assert "upscale_" not in response.text
    assert "upscale_http_requests_total" in (await client.get("/metrics", headers=SCRAPER)).text


async def test_the_metrics_are_not_part_of_the_api_document(client: AsyncTestClient[Any]) -> None:
    document = (await client.get("/schema/openapi.json")).json()

    assert "/metrics" not in document["paths"]


async def test_without_a_token_setting_there_are_no_metrics(database_url: str) -> None:
    settings = settings_for_tests(UPSCALE_METRICS_TOKEN="")
    async with AsyncTestClient(app=create_app(settings, database_url=database_url)) as other:
        response = await other.get("/metrics", headers=SCRAPER)

    assert response.status_code == 404


def test_a_short_metrics_token_stops_start_up() -> None:
    from upscale_api.settings import SettingsError

    with pytest.raises(SettingsError, match="UPSCALE_METRICS_TOKEN"):
        load_settings({"UPSCALE_METRICS_TOKEN": "short"})


async def test_requests_are_counted_by_route_template_and_status(
    client: AsyncTestClient[Any], resident: Resident
) -> None:
    installation_id = f"fid-{uuid.uuid4().hex}"
    route = "/v1/me/devices/{installation_id}"
    before = await scrape(client)

    assert (await resident.delete(f"/v1/me/devices/{installation_id}")).status_code == 404
    assert (await resident.delete(f"/v1/me/devices/{installation_id}")).status_code == 404
    text = (await client.get("/metrics", headers=SCRAPER)).text
    after = await scrape(client)

    counted = "upscale_http_requests_total"
    assert (
        value(after, counted, method="DELETE", route=route, status="404")
        == value(before, counted, method="DELETE", route=route, status="404") + 2
    )
    timed = "upscale_http_request_duration_seconds_count"
    assert value(after, timed, method="DELETE", route=route) == value(before, timed, method="DELETE", route=route) + 2
    assert installation_id not in text and resident.uid not in text


async def test_every_answer_carries_a_request_id_and_a_usable_one_is_kept(
    client: AsyncTestClient[Any], resident: Resident
) -> None:
    made = await resident.get("/v1/me")
    kept = await resident.get("/v1/me", headers={"X-Request-ID": "app-7f3a.42:retry-1"})
    replaced = await resident.get("/v1/me", headers={"X-Request-ID": "bad id\twith spaces"})
    refused = await client.get("/v1/me")

    assert len(made.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "app-7f3a.42:retry-1"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32
    assert refused.status_code == 401 and len(refused.headers["x-request-id"]) == 32


async def test_rate_limit_refusals_are_counted_by_limit(database_url: str, client: AsyncTestClient[Any]) -> None:
    settings = settings_for_tests(
        UPSCALE_RATE_LIMIT_STORE="memory", UPSCALE_RATE_LIMIT_ADDRESS="2/60", UPSCALE_RATE_LIMIT_PAUSE_SECONDS="0"
    )
    before = await scrape(client)
    async with AsyncTestClient(app=create_app(settings, database_url=database_url)) as limited:
        answers = [await limited.get("/v1/cities") for _ in range(3)]
        scraped = [(await limited.get("/metrics", headers=SCRAPER)).status_code for _ in range(3)]
    after = await scrape(client)

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "x-request-id" in answers[2].headers
    assert scraped == [200, 200, 200]  # the scraper is never limited
    rejections = "upscale_rate_limit_rejections_total"
    assert value(after, rejections, limit="address") == value(before, rejections, limit="address") + 1
    requests = "upscale_http_requests_total"
    assert (
        value(after, requests, method="GET", route="/v1/cities", status="429")
        == value(before, requests, method="GET", route="/v1/cities", status="429") + 1
    )


async def test_pool_connections_in_use_and_waiting_are_counted(client: AsyncTestClient[Any], database_url: str) -> None:
    small = await db.create_pool(database_url, settings_for_tests(UPSCALE_DB_POOL_MIN="1", UPSCALE_DB_POOL_MAX="3"))
    try:
        before = await scrape(client)
        async with small.acquire(), small.acquire():
            during = await scrape(client)
        after = await scrape(client)
    finally:
        await small.close()

    in_use = "upscale_db_pool_connections_in_use"
    assert value(during, in_use) == value(before, in_use) + 2
    assert value(after, in_use) == value(before, in_use)
    assert value(after, "upscale_db_pool_waiting") == 0


@pytest.fixture
async def outbox(fresh_pool: db.Pool) -> db.Pool:
    """An empty database with one resident who has a phone (installation id ``fid-metrics``)."""
    await fresh_pool.execute(
        "INSERT INTO cities (code, country, name, time_zone, languages) "
        "VALUES ('kranj', 'SI', '{\"en\": \"Kranj\"}', 'Europe/Ljubljana', '{sl,en}')"
    )
    resident_id = await fresh_pool.fetchval(
        "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
        "SELECT 'metrics-resident', id, 'sl', 'Europe/Ljubljana' FROM cities RETURNING id"
    )
    await fresh_pool.execute(
        "INSERT INTO devices (installation_id, resident_id, city_id, platform, app_version) "
        "SELECT 'fid-metrics', id, city_id, 'android', '1.0' FROM residents WHERE id = $1",
        resident_id,
    )
    await fresh_pool.execute(
        "INSERT INTO notification_settings (resident_id, quiet_start, quiet_end, daily_cap) VALUES ($1, '00:00', '00:00', 5)",
        resident_id,
    )
    return fresh_pool


async def _due_message(pool: db.Pool, waiting: timedelta) -> None:
    await pool.execute(
        "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, not_before) "
        "SELECT id, city_id, 'reminder', $1, 'Nov teden', 'Na kolo!', 'sl', now() + interval '6 hours', now() - $2::interval "
        "FROM residents",
        uuid.uuid4().hex,
        waiting,
    )


async def test_the_outbox_depth_and_the_oldest_due_message_are_sampled(
    outbox: db.Pool, client: AsyncTestClient[Any]
) -> None:
    worker = Worker(outbox, settings_for_tests())
    await _due_message(outbox, timedelta(minutes=30))
    await _due_message(outbox, timedelta(minutes=2))

    await worker.measure_outbox()
    waiting = await scrape(client)
    await sender.plan_due(outbox, datetime.now(UTC))  # both become deliveries to the phone, still due
    await worker.measure_outbox()
    planned = await scrape(client)
    await outbox.execute("UPDATE notification_deliveries SET status = 'sent'")
    await worker.measure_outbox()
    empty = await scrape(client)

    assert value(waiting, "upscale_outbox_due_messages") == 2
    assert 30 * 60 <= value(waiting, "upscale_outbox_oldest_due_age_seconds") < 31 * 60
    assert value(planned, "upscale_outbox_due_messages") == 2
    assert value(empty, "upscale_outbox_due_messages") == 0
    assert value(empty, "upscale_outbox_oldest_due_age_seconds") == 0


async def test_fcm_answers_are_counted_by_outcome(outbox: db.Pool, client: AsyncTestClient[Any]) -> None:
    await _due_message(outbox, timedelta(0))
    await sender.plan_due(outbox, datetime.now(UTC))
    before = await scrape(client)
    with FakeFCM() as fcm:
        fcm.always("fid-metrics", "unregistered")
        assert await sender.send_batch(outbox, messaging_app("demo-upscale", endpoint=fcm.url), datetime.now(UTC)) == 1
    after = await scrape(client)

    outcomes = "upscale_fcm_outcomes_total"
    assert value(after, outcomes, outcome="UNREGISTERED") == value(before, outcomes, outcome="UNREGISTERED") + 1
    assert value(after, outcomes, outcome="sent") == value(before, outcomes, outcome="sent")
