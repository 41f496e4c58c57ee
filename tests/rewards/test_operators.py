"""What operators run: a partner's first key from the command line, the worker's rewards jobs, the demo partner."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import CAMPAIGNS, EMULATOR_HOST, settings_for_tests
from tests.rewards.conftest import MakePartner, reward
from upscale_api import db
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.demo.seed import DEMO_PARTNER, seed_demo
from upscale_api.worker import Worker


async def _upscale(*args: str, database_url: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "upscale_api",
        *args,
        env={"DATABASE_URL": database_url, "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_an_operator_creates_a_partners_key_on_the_command_line(
    make_partner: MakePartner, client: AsyncTestClient[Any], database_url: str
) -> None:
    partner = await make_partner()

    code, out, err = await _upscale("rewards", "key", partner.code, database_url=database_url)
    unknown = await _upscale("rewards", "key", "no-such-partner", database_url=database_url)

    assert code == 0, err
    key = out.strip()
    answer = await client.get("/v1/partner", headers={"Authorization": f"Bearer {key}"})
    assert (answer.status_code, answer.json()["code"]) == (200, partner.code)
    assert answer.json()["key"]["created_by"].startswith("operator:")
    assert unknown[0] == 1 and "no partner 'no-such-partner'" in unknown[2]


async def test_the_worker_expires_codes_and_gives_their_items_back(make_partner: MakePartner, pool: db.Pool) -> None:
    partner = await make_partner(reward(cost=1, stock=1))
    worker = Worker(pool, settings_for_tests())
    await pool.execute(
        "INSERT INTO redemptions (id, resident_id, city_id, reward_id, partner_id, cost, code, status, created_at, "
        "expires_at) SELECT gen_random_uuid(), (SELECT min(id) FROM residents), w.city_id, w.id, w.partner_id, 1, "
        "'ZZZZZ-00001', 'issued', now() - interval '31 days', now() - interval '1 day' FROM rewards w WHERE w.code = $1",
        partner.rewards[0],
    )
    await pool.execute("UPDATE rewards SET claimed = 1 WHERE code = $1", partner.rewards[0])

    await worker.expire_redemptions()

    row = await pool.fetchrow(
        "SELECT r.status, r.returned_at IS NOT NULL AS returned, w.claimed FROM redemptions r "
        "JOIN rewards w ON w.id = r.reward_id WHERE r.code = 'ZZZZZ-00001'"
    )
    assert (row["status"], row["returned"], row["claimed"]) == ("expired", True, 0)
    await worker.webhooks.aclose()


async def test_the_demo_has_a_kranj_partner_with_two_rewards(fresh_pool: db.Pool) -> None:
    await apply_definitions(fresh_pool, read_definitions(CAMPAIGNS))
    today = datetime.now(UTC).date()
    await seed_demo(fresh_pool, await Catalogue(fresh_pool).reload(), today=today)

    rows = await fresh_pool.fetch(
        "SELECT c.code AS city, w.code FROM rewards w JOIN partners p ON p.id = w.partner_id "
        "JOIN cities c ON c.id = w.city_id WHERE p.code = $1 AND w.active",
        DEMO_PARTNER,
    )

    assert [r["city"] for r in rows] == ["kranj", "kranj"]
