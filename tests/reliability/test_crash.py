"""An API process killed outright loses nothing a phone logged, and stores nothing twice.

Phones log 10,000 actions, each with an id of its own, and send each again after a lost
connection until the service acknowledges it. Meanwhile the API process is killed with
SIGKILL twice, in the middle of requests, and started again on the same port.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tests.reliability.clients import Phones, train_ride
from tests.servers import ApiServer, upscale_environment

RESIDENTS = 25
ACTIONS_PER_RESIDENT = 400  # 10,000 in all
KILL_AFTER = (3_000, 6_500)  # acknowledged actions


async def test_every_action_is_stored_exactly_once_while_the_api_process_is_killed_twice(
    migrated_database: str,
) -> None:
    api = await asyncio.to_thread(ApiServer, upscale_environment(migrated_database))
    phones = Phones([api.url], concurrency=32)
    uids = [f"test-{uuid.uuid4().hex}" for _ in range(RESIDENTS)]
    actions = [(uid, train_ride()) for _ in range(ACTIONS_PER_RESIDENT) for uid in uids]
    kills = 0

    async def kill_twice() -> None:
        nonlocal kills
        for threshold in KILL_AFTER:
            while len(phones.acknowledged) < threshold:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            api.kill()
            kills += 1
            await asyncio.to_thread(api.start)

    try:
        await phones.register(uids)
        await asyncio.wait_for(asyncio.gather(phones.log_all(actions), kill_twice()), timeout=240)
    finally:
        await phones.close()
        api.close()

    assert kills == 2
    assert phones.statuses[None] > 0  # requests were cut off by the kills and sent again
    assert len(phones.acknowledged) == len(actions) == 10_000
    conn = await asyncpg.connect(migrated_database)
    try:
        stored = await conn.fetchval(
            "SELECT array_agg(a.id::text) FROM action_logs a "
            "JOIN residents r ON r.id = a.resident_id WHERE r.firebase_uid = ANY($1::text[])",
            uids,
        )
    finally:
        await conn.close()
    assert len(stored) == 10_000  # nothing stored twice, nothing extra
    assert set(stored) == {body["id"] for _, body in actions}  # nothing lost
    # What each phone was told is what is stored: a retry of a stored action got that same record.
    assert all(phones.acknowledged[body["id"]]["id"] == body["id"] for _, body in actions)
