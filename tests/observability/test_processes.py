"""Real processes, stopped as an orchestrator stops them (SIGTERM): `upscale serve` and `upscale worker`.

The API answers 503 to what arrives once SIGTERM came, lets what is in flight
finish, and exits; the worker finishes the push batch FCM has, claims no other,
and exits long before a stale claim would be failed. Their logs, captured whole,
are JSON lines carrying a request id or a job and tick id, and hold no ID token,
e-mail address, display name or registration token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import NewDatabase
from tests.factories import CAMPAIGNS, EMULATOR_HOST, METRICS_TOKEN, action, token_for
from tests.fakes.fcm import FakeFCM
from tests.observability.conftest import SCRAPER, parse, value
from upscale_api import db, migrations
from upscale_api.notifications import sender

NAME = "Zala Skrivnostna"
EMAIL = "zala.skrivnostna@example.org"
REGISTRATION_TOKEN = "regtoken-" + "k3Y" * 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environ(database_url: str, **settings: str) -> dict[str, str]:
    return (
        {k: v for k, v in os.environ.items() if not k.startswith(("UPSCALE_", "FIREBASE_", "PROMETHEUS_"))}
        | {
            "DATABASE_URL": database_url,
            "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
            "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
            "UPSCALE_RATE_LIMIT_STORE": "off",
            "UPSCALE_LOG_LEVEL": "INFO",
            "UPSCALE_METRICS_TOKEN": METRICS_TOKEN,
        }
        | settings
    )


@dataclass
class Process:
    process: asyncio.subprocess.Process
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        """Every log line, each of which must be a JSON object."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    async def stop(self, seconds: float = 30) -> float:
        """SIGTERM, then the seconds until the process ended."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), seconds)
        return time.monotonic() - started


@contextlib.asynccontextmanager
async def upscale(command: str, environ: dict[str, str], log: Path) -> AsyncIterator[Process]:
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "upscale_api", command, env=environ, stdout=sink, stderr=sink
        )
    try:
        yield Process(process, log)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _ready(http: httpx.AsyncClient) -> None:
    for _ in range(300):
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/health/ready")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the API did not become ready")


async def _blocked_on_a_lock(conn: asyncpg.Connection[Any]) -> None:
    for _ in range(200):
        if await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'upscale-api' AND wait_event_type = 'Lock'"
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never waited for the lock")


async def test_the_api_finishes_requests_in_flight_refuses_new_ones_and_logs_no_secrets(
    database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    environ = _environ(database_url, UPSCALE_PORT=str(port), UPSCALE_SHUTDOWN_DRAIN_SECONDS="2")
    uid, other = f"shutdown-{uuid.uuid4().hex}", f"shutdown-{uuid.uuid4().hex}"
    token, other_token = token_for(uid), token_for(other)
    signed_in = {"Authorization": f"Bearer {token}"}
    async with (
        upscale("serve", environ, tmp_path / "api.log") as api,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        await _ready(http)
        # A whole resident's flow, errors included, for the logs.
        registered = await http.put("/v1/me", headers=signed_in, json={"city": "kranj", "display_name": NAME})
        assert registered.status_code == 201, registered.text
        other_me = {"city": "kranj", "display_name": EMAIL}
        assert (
            await http.put("/v1/me", headers={"Authorization": f"Bearer {other_token}"}, json=other_me)
        ).status_code == 201
        assert (await http.post("/v1/me/actions", headers=signed_in, json=action())).status_code == 201
        device = {"platform": "android", "app_version": "1.4.0", "registration_token": REGISTRATION_TOKEN}
        assert (await http.put("/v1/me/devices/fid-shutdown", headers=signed_in, json=device)).status_code == 201
        bad = await http.put("/v1/me", headers=signed_in, json={"city": "kranj", "display_name": NAME + "\x00"})
        assert bad.status_code == 422
        assert (await http.get("/v1/me", headers={"Authorization": f"Bearer {token}x"})).status_code == 401
        assert (await http.get("/metrics", headers=SCRAPER)).status_code == 200

        # A request waits for the resident's row, which the test holds, when SIGTERM comes.
        conn = await asyncpg.connect(database_url)
        try:
            lock = conn.transaction()
            await lock.start()
            await conn.execute("SELECT 1 FROM residents WHERE firebase_uid = $1 FOR UPDATE", uid)
            in_flight = asyncio.create_task(http.post("/v1/me/actions", headers=signed_in, json=action()))
            await _blocked_on_a_lock(conn)
            api.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as newcomer:
                refused = await newcomer.get("/v1/cities", headers={"X-Request-ID": "after-sigterm-1"})
                unready = await newcomer.get("/health/ready")
            await lock.rollback()
            finished = await in_flight
            stored = await conn.fetchval(
                "SELECT count(*) FROM action_logs a JOIN residents r ON r.id = a.resident_id WHERE r.firebase_uid = $1",
                uid,
            )
        finally:
            await conn.close()
        await asyncio.wait_for(api.process.wait(), 30)

    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/unavailable"
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["x-request-id"] == "after-sigterm-1"
    assert unready.status_code == 503
    assert finished.status_code == 201, finished.text
    assert stored == 2

    lines = api.lines()
    text = api.log.read_text()
    for secret in (token, other_token, NAME, EMAIL, REGISTRATION_TOKEN, "Skrivnostna"):
        assert secret not in text
    requests = [line for line in lines if line.get("event") == "request"]
    assert {"route": "/v1/me/devices/{installation_id}", "status": 201} in [
        {"route": r["route"], "status": r["status"]} for r in requests
    ]
    assert all(len(r["request_id"]) >= 1 for r in requests)
    assert {"request_id": "after-sigterm-1", "status": 503} in [
        {"request_id": r["request_id"], "status": r["status"]} for r in requests
    ]
    assert "fid-shutdown" not in [r["route"] for r in requests]


@pytest.fixture
async def crowd(new_database: NewDatabase) -> AsyncIterator[tuple[str, db.Pool]]:
    """A database of its own holding one message due for 1,200 phones (three batches)."""
    url = await new_database()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrations.migrate(conn)
        await conn.execute(
            "INSERT INTO cities (code, country, name, time_zone, languages) "
            "VALUES ('kranj', 'SI', '{\"en\": \"Kranj\"}', 'Europe/Ljubljana', '{sl,en}')"
        )
        await conn.execute(
            "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
            "SELECT 'crowd', id, 'sl', 'Europe/Ljubljana' FROM cities"
        )
        await conn.execute(
            "INSERT INTO devices (installation_id, resident_id, city_id, platform, app_version, registration_token) "
            "SELECT 'fid-crowd-' || i, r.id, r.city_id, 'android', '1.0', $1 || i FROM residents r, generate_series(1, 1200) i",
            REGISTRATION_TOKEN,
        )
        await conn.execute(
            "INSERT INTO notification_settings (resident_id, quiet_start, quiet_end, daily_cap) "
            "SELECT id, '00:00', '00:00', 5 FROM residents"
        )
        await conn.execute(
            "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at) "
            "SELECT id, city_id, 'reminder', 'crowd', 'Nov teden', 'Na kolo!', 'sl', now() + interval '6 hours' FROM residents"
        )
    yield url, pool  # type: ignore[misc]
    await pool.close()


async def test_the_worker_finishes_the_batch_fcm_has_and_claims_no_other(
    crowd: tuple[str, Any], tmp_path: Path
) -> None:
    url, pool = crowd
    metrics_port = _free_port()
    with FakeFCM(delay_seconds=0.3) as fcm:
        environ = _environ(
            url, UPSCALE_PUSH="fcm", UPSCALE_FCM_ENDPOINT=fcm.url, UPSCALE_WORKER_METRICS_PORT=str(metrics_port)
        )
        async with upscale("worker", environ, tmp_path / "worker.log") as worker:
            for _ in range(600):
                if fcm.received:
                    break
                await asyncio.sleep(0.05)
            assert fcm.received, "no batch was sent"
            async with httpx.AsyncClient(timeout=10) as http:
                scraped = await http.get(f"http://127.0.0.1:{metrics_port}/metrics", headers=SCRAPER)
                refused = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            stopped_in = await worker.stop()
        received = fcm.received

    deliveries = await pool.fetch(
        "SELECT status, attempts, count(*) AS n FROM notification_deliveries GROUP BY status, attempts ORDER BY status"
    )
    counts = {(d["status"], d["attempts"]): d["n"] for d in deliveries}
    # The batches FCM had (the sender keeps LOOPS of them in flight) are recorded whole (sent, or
    # failed when FCM's answer came too late); the last batch was never claimed; nothing is left
    # claimed, and no phone got it twice.
    in_flight = counts.get(("sent", 1), 0) + counts.get(("failed", 1), 0)
    assert counts.get(("sending", 1), 0) == 0
    assert in_flight in {sender.BATCH * loops for loops in range(1, sender.LOOPS + 1)}
    assert counts[("pending", 0)] == 1200 - in_flight > 0
    assert len(received) == len({r.target for r in received}) <= in_flight
    assert counts.get(("sent", 1), 0) == len([r for r in received if r.outcome == "ok"])
    assert stopped_in < 20  # a stale claim would wait 10 minutes

    assert scraped.status_code == 200 and refused.status_code == 401
    samples = parse(scraped.text)
    assert value(samples, "upscale_job_runs_total", job="score", outcome="ok") >= 1
    assert value(samples, "upscale_job_duration_seconds_count", job="deliver") >= 0

    text = worker.log.read_text()
    assert REGISTRATION_TOKEN not in text
    lines = worker.lines()
    tagged = [line for line in lines if line.get("job")]
    assert tagged, "no line names its job"
    assert all(line.get("tick") for line in tagged)
