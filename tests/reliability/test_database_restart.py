"""PostgreSQL restarted under load: while it is gone every request gets a 503 problem with
Retry-After, the service serves again by itself within 5 s of its return, and nothing it
acknowledged is lost.

The server is a PostgreSQL of this test's own, stopped as if the machine lost power
(``pg_ctl stop -m immediate``: no checkpoint, crash recovery at the next start) while 16
phones log actions as fast as they are answered, and started again two seconds later.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tests.reliability.clients import Phones, train_ride
from tests.servers import ApiServer, OwnServer, upscale_environment

RESIDENTS = 16
BACK_WITHIN_SECONDS = 5.0
DOWN_SECONDS = 2.0


async def test_requests_during_a_database_restart_get_503_and_the_service_recovers_without_losing_anything(
    own_server: OwnServer, own_database: str
) -> None:
    api = await asyncio.to_thread(ApiServer, upscale_environment(own_database))
    phones = Phones([api.url], concurrency=RESIDENTS)
    uids = [f"test-{uuid.uuid4().hex}" for _ in range(RESIDENTS)]
    loop = asyncio.get_running_loop()
    stopping = stopped = starting = started = 0.0
    logging = True

    async def keep_logging(index: int) -> None:
        while logging:
            await phones.log(phones.connections[index], uids[index], train_ride())

    async def restart() -> None:
        nonlocal stopping, stopped, starting, started, logging
        await asyncio.sleep(1.5)
        stopping = loop.time()
        await asyncio.to_thread(own_server.stop, "immediate")
        stopped = loop.time()
        await asyncio.sleep(DOWN_SECONDS)
        starting = loop.time()
        await asyncio.to_thread(own_server.start)
        started = loop.time()
        await asyncio.sleep(BACK_WITHIN_SECONDS + 1)
        logging = False

    try:
        await phones.register(uids)
        await asyncio.wait_for(asyncio.gather(restart(), *(keep_logging(i) for i in range(RESIDENTS))), timeout=90)
    finally:
        await phones.close()
        api.close()

    answers = phones.answers
    during = [a for a in answers if stopped <= a.at <= starting]
    assert during, "no request was answered while the database was down"
    assert {a.status for a in during} == {503}  # the process itself stayed up and answered
    assert all(a.problem_type and a.problem_type.endswith("/unavailable") for a in during)
    assert all(a.retry_after is not None and int(a.retry_after) > 0 for a in during)
    assert set(phones.statuses) <= {200, 201, 503}

    served_again = min(a.at for a in answers if a.at > started and a.status in (200, 201))
    assert served_again - started <= BACK_WITHIN_SECONDS
    assert any(a.status == 201 for a in answers if a.at < stopping)  # it was under load before

    conn = await asyncpg.connect(own_database)
    try:
        stored = await conn.fetchval(
            "SELECT array_agg(a.id::text) FROM action_logs a JOIN residents r ON r.id = a.resident_id "
            "WHERE r.firebase_uid = ANY($1::text[])",
            uids,
        )
    finally:
        await conn.close()
    assert len(stored) == len(set(stored)) == len(phones.acknowledged)  # every phone's action stored once
    assert set(stored) == set(phones.acknowledged)  # and nothing acknowledged was lost
