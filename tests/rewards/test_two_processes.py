"""Redemptions racing through two API processes on one database: the last item and the last points
go exactly once, and one redemption id sent to both is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.factories import CAMPAIGNS, EMULATOR_HOST, Resident
from tests.rewards.conftest import MakePartner, balance, reward
from upscale_api import db

MakeEarner = Callable[[int], Awaitable[Resident]]
RACERS = 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
async def two_processes(database_url: str) -> AsyncIterator[list[str]]:
    """Two `upscale serve` processes on the test database, each with its own connection pool."""
    ports = [_free_port(), _free_port()]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("UPSCALE_", "FIREBASE_"))} | {
        "DATABASE_URL": database_url,
        "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
        "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
        "UPSCALE_RATE_LIMIT_STORE": "off",
    }
    servers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "upscale_api",
            "serve",
            env=environ | {"UPSCALE_PORT": str(port)},
            stderr=asyncio.subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for url in urls:
                for _ in range(600):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{url}/health/ready")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail(f"{url} did not start")
        yield urls
    finally:
        for server in servers:
            server.terminate()
            await server.wait()


async def _race(urls: list[str], calls: list[tuple[Resident, dict[str, Any]]]) -> list[httpx.Response]:
    """Send every redemption at once, alternately to each process, each on a connection of its own."""
    clients = [httpx.AsyncClient(base_url=urls[i % len(urls)], timeout=30) for i in range(len(calls))]
    try:
        return await asyncio.gather(
            *(
                client.post("/v1/me/redemptions", json=body, headers=resident.headers)
                for client, (resident, body) in zip(clients, calls, strict=True)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


async def _stored(pool: db.Pool, reward_code: str) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM redemptions r WHERE r.reward_id = w.id) AS redemptions, w.claimed "
        "FROM rewards w WHERE w.code = $1",
        reward_code,
    )
    return row["redemptions"], row["claimed"]


async def test_the_last_item_goes_to_exactly_one_of_many_racing_residents(
    two_processes: list[str], make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=50, stock=1))
    residents = [await make_earner(100) for _ in range(RACERS)]

    answers = await _race(
        two_processes, [(r, {"id": str(uuid.uuid4()), "reward": partner.rewards[0]}) for r in residents]
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (RACERS - 1), [a.text for a in answers]
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {"/problems/out-of-stock"}
    assert await _stored(pool, partner.rewards[0]) == (1, 1)
    assert sorted([(await balance(r))["spent"] for r in residents]) == [0] * (RACERS - 1) + [50]


async def test_the_last_points_are_spent_exactly_once(
    two_processes: list[str], make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=100))
    resident = await make_earner(100)

    answers = await _race(
        two_processes, [(resident, {"id": str(uuid.uuid4()), "reward": partner.rewards[0]}) for _ in range(RACERS)]
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (RACERS - 1), [a.text for a in answers]
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {"/problems/insufficient-points"}
    assert await balance(resident) == {"city": "kranj", "earned": 100, "spent": 100, "available": 0, "owed": 0}
    assert await _stored(pool, partner.rewards[0]) == (1, 1)


async def test_one_redemption_id_sent_to_both_processes_is_stored_once(
    two_processes: list[str], make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=10))
    resident = await make_earner(100)
    body = {"id": str(uuid.uuid4()), "reward": partner.rewards[0]}

    answers = await _race(two_processes, [(resident, body)] * RACERS)

    assert sorted(a.status_code for a in answers) == [200] * (RACERS - 1) + [201]
    assert len({a.json()["code"] for a in answers}) == 1
    assert await _stored(pool, partner.rewards[0]) == (1, 1)
    assert (await balance(resident))["spent"] == 10
