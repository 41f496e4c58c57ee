"""Two API processes and two workers against one PostgreSQL, as infra/ deploys them.

Each scoring tick runs once: the replicas race for every tick, and the one that loses
skips it. Push delivery is shared by both workers, and one of them is killed in the
middle of sending 10,000 messages: no message reaches FCM twice, and every message but
those the killed sender had in flight reaches it exactly once. Delivery is at most once
by design (docs/notifications.md): a message the killed sender had claimed may or may not
have left, so it is never sent again.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import io
import re
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.reliability.clients import Phones, train_ride
from tests.reliability.fcm_process import FcmProcess
from tests.servers import ApiServer, UpscaleProcess, upscale, upscale_environment
from upscale_api import db
from upscale_api.notifications import sender

RESIDENTS = 40
ACTIONS_PER_RESIDENT = 50
NOTIFICATIONS = 10_000
SENDER_IN_FLIGHT = sender.LOOPS * sender.BATCH  # what one sender process has claimed at most: two batches
KILL_AFTER_MESSAGES = 3_000
_SCORED = re.compile(r"scoring: (\d+) resident days")

# Every save of the scoring watermark takes a second longer: a tick holds its lock for at
# least that long, so a second replica's attempts (every half second) land inside it. Were
# the lock not exclusive, the second replica would score the same actions again.
SLOW_TICKS = """
CREATE FUNCTION slow_scoring_tick() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.job = 'scoring' THEN PERFORM pg_sleep(1); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER slow_scoring_tick BEFORE INSERT OR UPDATE ON job_watermarks
    FOR EACH ROW EXECUTE FUNCTION slow_scoring_tick();
"""

PUSH_RESIDENTS = """
WITH city AS (SELECT id, time_zone FROM cities WHERE code = 'kranj'),
residents AS (
    INSERT INTO residents (firebase_uid, city_id, locale, time_zone)
    SELECT 'push-' || g, city.id, 'sl', city.time_zone FROM generate_series(1, $1::int) g, city
    RETURNING id, city_id
), devices AS (
    INSERT INTO devices (installation_id, resident_id, city_id, platform, app_version)
    SELECT 'fid-push-' || id, id, city_id, 'android', '1.0' FROM residents
), settings AS (
    INSERT INTO notification_settings (resident_id, quiet_start, quiet_end, daily_cap)
    SELECT id, '00:00', '00:00', 20 FROM residents
)
INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, not_before)
SELECT id, city_id, 'reminder', 'reliability', 'Nov teden', 'Na kolo!', 'sl', now() + interval '1 hour', now()
FROM residents
"""


@dataclass
class Deployment:
    database_url: str
    apis: list[ApiServer]
    workers: list[UpscaleProcess]
    fcm: FcmProcess


@pytest.fixture(scope="module")
async def deployment(new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Deployment]:
    url = await new_database()
    fcm = FcmProcess()
    environ = upscale_environment(url, UPSCALE_SCORING_SECONDS="0.5", UPSCALE_PUSH="fcm", UPSCALE_FCM_ENDPOINT=fcm.url)
    await asyncio.to_thread(upscale, "migrate", environ=environ)
    apis = list(await asyncio.gather(*(asyncio.to_thread(ApiServer, environ, name=f"api-{i}") for i in (1, 2))))
    workers = [UpscaleProcess("worker", environ=environ, name=f"worker-{i}") for i in (1, 2)]
    yield Deployment(url, apis, workers, fcm)
    for process in [*apis, *workers]:
        process.close()
    fcm.stop()


def _scored_resident_days(output: str) -> int:
    return sum(int(days) for days in _SCORED.findall(output))


async def test_each_scoring_tick_runs_in_one_worker_only(deployment: Deployment) -> None:
    phones = Phones([api.url for api in deployment.apis], concurrency=16)
    uids = [f"test-{uuid.uuid4().hex}" for _ in range(RESIDENTS)]
    conn = await asyncpg.connect(deployment.database_url)
    try:
        await conn.execute(SLOW_TICKS)
        await phones.register(uids)
        # Hold the scoring lock while the actions are logged: both workers skip every tick.
        async with conn.transaction():
            await db.lock_for_transaction(conn, db.AdvisoryLock.SCORING)
            await phones.log_all([(uid, train_ride()) for _ in range(ACTIONS_PER_RESIDENT) for uid in uids])
            before = [len(worker.output()) for worker in deployment.workers]
        # Released: both race for the next tick, and keep trying every half second.

        deadline = time.monotonic() + 60
        scored = 0
        while scored < RESIDENTS and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            scored = sum(_scored_resident_days(w.output()[b:]) for w, b in zip(deployment.workers, before, strict=True))
        await asyncio.sleep(3)  # time for a second tick of the same actions to finish, were there one
        logged = [w.output()[b:] for w, b in zip(deployment.workers, before, strict=True)]
        await conn.execute("DROP TRIGGER slow_scoring_tick ON job_watermarks")
    finally:
        await conn.close()
        await phones.close()

    assert sum(_scored_resident_days(output) for output in logged) == RESIDENTS  # every resident's day, once
    assert all(worker.running() for worker in deployment.workers)
    # The city's running totals (added to by each tick) count every action once.
    report = await asyncio.to_thread(
        upscale, "report", "city", "kranj", "--format", "csv", environ=deployment.workers[0].environ
    )
    this_month = datetime.now(UTC).strftime("%Y-%m")
    (row,) = [r for r in csv.DictReader(io.StringIO(report.stdout)) if r["month"] == this_month]
    assert int(row["actions"]) == RESIDENTS * ACTIONS_PER_RESIDENT
    assert float(row["co2e_kg"]) == pytest.approx(sum(a["co2e_kg"] for a in phones.acknowledged.values()), rel=1e-9)


async def test_push_messages_reach_fcm_at_most_once_while_a_worker_is_killed_mid_drain(
    deployment: Deployment,
) -> None:
    fcm = deployment.fcm
    conn = await asyncpg.connect(deployment.database_url)
    try:
        await conn.execute(PUSH_RESIDENTS, NOTIFICATIONS)  # due now: both workers plan and send them
        killed, survivor = deployment.workers
        deadline = time.monotonic() + 60
        while fcm.count() < KILL_AFTER_MESSAGES and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        killed.kill()  # most likely in the middle of a batch: its claimed messages are partly sent

        # Done when every message is planned and none waits, and what is still `sending` is one
        # claim (a sender's claims share its run's start as `claimed_at`) that stays so: the killed
        # sender's, once the survivor recorded its last batch.
        deadline, last = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            counts = await conn.fetchrow(
                "SELECT count(*) AS planned, count(*) FILTER (WHERE status = 'pending') AS waiting, "
                "count(*) FILTER (WHERE status = 'sending') AS sending, "
                "count(DISTINCT claimed_at) FILTER (WHERE status = 'sending') AS claims "
                "FROM notification_deliveries WHERE installation_id LIKE 'fid-push-%'"
            )
            settled = counts["planned"] == NOTIFICATIONS and counts["waiting"] == 0 and counts["claims"] <= 1
            if settled and counts == last:
                break
            last = counts
        failures = await conn.fetch(
            "SELECT outcome, count(*) FROM notification_attempts WHERE outcome <> 'sent' GROUP BY outcome"
        )
        outcome = {
            row["status"]: set(row["fids"])
            for row in await conn.fetch(
                "SELECT status, array_agg(installation_id) AS fids FROM notification_deliveries "
                "WHERE installation_id LIKE 'fid-push-%' GROUP BY status"
            )
        }
    finally:
        await conn.close()

    received = collections.Counter(target for target, kind in fcm.delivered() if kind == "reminder")
    sent, in_flight = outcome.pop("sent", set()), outcome.pop("sending", set())
    timed_out = outcome.pop("failed", set())
    assert outcome == {}  # nothing pending or unplanned
    assert len(sent) + len(in_flight) + len(timed_out) == NOTIFICATIONS
    assert max(received.values()) == 1  # no message reached FCM twice
    assert all(received[fid] == 1 for fid in sent)  # every message recorded as sent reached it once
    # at most the two batches it works on at once, each message reached FCM once or not at all.
    # at most one batch, each of its messages reached FCM once or not at all.
    assert len(in_flight) <= SENDER_IN_FLIGHT
    assert set(received) <= sent | in_flight | timed_out
    # The one failure allowed is the SDK giving up on a request after its 10 s timeout, which
    # happens only on a machine too busy to send a batch of 500 in that time: such a message is
    # failed, never resent (it may have reached FCM), so it too reaches FCM at most once.
    assert {f["outcome"] for f in failures} <= {"DeadlineExceededError"}, [dict(f) for f in failures]
    if timed_out:
        warnings.warn(
            f"{len(timed_out)} of {NOTIFICATIONS} push messages timed out in the SDK (machine too busy); "
            f"{len(sent)} sent exactly once",
            stacklevel=1,
        )
    assert survivor.running() and not killed.running()
