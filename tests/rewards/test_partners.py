"""Partners check and accept codes with their own API key, see only their own redemptions, and rotate keys."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Resident, assert_problem
from tests.rewards.conftest import MakePartner, Partner, balance, redeem, reward
from upscale_api import db
from upscale_api.rewards.service import expire_codes

MakeEarner = Callable[[int], Awaitable[Resident]]


@pytest.fixture
async def two_partners(make_partner: MakePartner) -> tuple[Partner, Partner]:
    return await make_partner(reward(cost=50, stock=5)), await make_partner(reward(cost=50))


async def _code(resident: Resident, partner: Partner) -> dict[str, Any]:
    answer = await redeem(resident, partner.rewards[0])
    assert answer.status_code == 201, answer.text
    redemption: dict[str, Any] = answer.json()
    return redemption


# --- Who may call the partner API: one row per operation, four callers ---------------------

PARTNER_CALLERS = ("own key", "another partner's key", "no key", "a resident's token")
PARTNER_TABLE: dict[str, tuple[int, int, int, int]] = {
    "GET /v1/partner": (200, 200, 401, 401),
    "GET /v1/partner/redemptions": (200, 200, 401, 401),
    # Another partner's code does not exist for them.
    "GET /v1/partner/redemptions/{code}": (200, 404, 401, 401),
    "POST /v1/partner/redemptions/{code}/use": (200, 404, 401, 401),
    "POST /v1/partner/keys": (201, 201, 401, 401),
}


async def test_every_partner_operation_is_in_the_partner_table(client: AsyncTestClient[Any]) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    partner_operations = sorted(
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == [{"partnerKey": []}]
    )
    assert partner_operations == sorted(PARTNER_TABLE)


@pytest.mark.parametrize("operation", sorted(PARTNER_TABLE))
async def test_who_may_call_the_partner_api(
    operation: str,
    client: AsyncTestClient[Any],
    make_partner: MakePartner,
    make_earner: MakeEarner,
    pool: db.Pool,
) -> None:
    own, other = await make_partner(), await make_partner()
    resident = await make_earner(100)
    redemption = await _code(resident, own)
    method, template = operation.split(" ")
    path = template.format(code=redemption["code"])
    headers = {
        "own key": own.headers,
        "another partner's key": other.headers,
        "no key": {},
        "a resident's token": resident.headers,
    }

    got = {}
    for caller in ("no key", "a resident's token", "another partner's key", "own key"):
        answer = await client.request(method, path, headers=headers[caller])
        got[caller] = answer.status_code
        if caller != "own key":  # what the caller sent in the path comes back only as the problem's instance
            shown = answer.text.replace(path, "")
            assert redemption["id"] not in shown and redemption["code"] not in shown
        if answer.status_code == 401:
            assert answer.headers["www-authenticate"] == "Bearer"

    assert got == dict(zip(PARTNER_CALLERS, PARTNER_TABLE[operation], strict=True))
    status = await pool.fetchval("SELECT status FROM redemptions WHERE id = $1", uuid.UUID(redemption["id"]))
    assert status == ("used" if operation.endswith("/use") else "issued")


# --- Codes ---------------------------------------------------------------------------------


async def test_a_code_is_used_once(two_partners: tuple[Partner, Partner], make_earner: MakeEarner) -> None:
    partner, _ = two_partners
    redemption = await _code(await make_earner(100), partner)
    typed = redemption["code"].lower().replace("-", "")  # as someone types it at the till

    checked = await partner.get(f"/v1/partner/redemptions/{typed}")
    used = await partner.post(f"/v1/partner/redemptions/{typed}/use")
    again = await partner.post(f"/v1/partner/redemptions/{redemption['code']}/use")

    assert (checked.json()["valid"], checked.json()["status"], checked.json()["reward"]) == (
        True,
        "issued",
        partner.rewards[0],
    )
    assert (used.status_code, used.json()["status"], used.json()["valid"]) == (200, "used", False)
    assert_problem(again, 409, "code-used")
    assert again.json()["detail"].startswith("code: used at ")


async def test_a_partner_can_neither_see_nor_use_another_partners_code(
    two_partners: tuple[Partner, Partner], make_earner: MakeEarner, pool: db.Pool
) -> None:
    mine, theirs = two_partners
    redemption = await _code(await make_earner(100), theirs)

    seen = await mine.get(f"/v1/partner/redemptions/{redemption['code']}")
    used = await mine.post(f"/v1/partner/redemptions/{redemption['code']}/use")
    listed = await mine.get("/v1/partner/redemptions")

    assert_problem(seen, 404, "not-found", "code")
    assert_problem(used, 404, "not-found", "code")
    assert listed.json()["items"] == []
    assert await pool.fetchval("SELECT status FROM redemptions WHERE code = $1", redemption["code"]) == "issued"


async def test_an_expired_code_is_refused_and_its_points_and_item_come_back(
    two_partners: tuple[Partner, Partner], make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner, _ = two_partners
    resident = await make_earner(100)
    redemption = await _code(resident, partner)
    # A month later: the code's validity (30 days) has passed.
    await pool.execute(
        "UPDATE redemptions SET created_at = created_at - interval '31 days', expires_at = now() - interval '1 day' "
        "WHERE id = $1",
        uuid.UUID(redemption["id"]),
    )

    refused = await partner.post(f"/v1/partner/redemptions/{redemption['code']}/use")
    balance_at_once = await balance(resident)
    expired = await expire_codes(pool, datetime.now(UTC))

    assert_problem(refused, 409, "code-expired")
    assert balance_at_once["available"] == 100
    assert expired >= 1
    row = await pool.fetchrow(
        "SELECT r.status, w.claimed FROM redemptions r JOIN rewards w ON w.id = r.reward_id WHERE r.id = $1",
        uuid.UUID(redemption["id"]),
    )
    assert (row["status"], row["claimed"]) == ("expired", 0)
    mine = (await resident.get("/v1/me/redemptions")).json()["items"]
    assert [r["status"] for r in mine] == ["expired"]


async def test_a_partner_lists_its_redemptions_newest_first_by_status(
    two_partners: tuple[Partner, Partner], make_earner: MakeEarner
) -> None:
    partner, _ = two_partners
    resident = await make_earner(200)
    first, second = await _code(resident, partner), await _code(resident, partner)
    await partner.post(f"/v1/partner/redemptions/{first['code']}/use")

    page = (await partner.get("/v1/partner/redemptions", params={"limit": 1})).json()
    rest = (await partner.get("/v1/partner/redemptions", params={"cursor": page["next_cursor"]})).json()
    used = (await partner.get("/v1/partner/redemptions", params={"status": "used"})).json()

    assert [r["id"] for r in page["items"] + rest["items"]] == [second["id"], first["id"]]
    assert [r["id"] for r in used["items"]] == [first["id"]]
    assert resident.uid not in str(page)


# --- Keys ----------------------------------------------------------------------------------


async def test_only_a_hash_of_a_key_is_stored(make_partner: MakePartner, pool: db.Pool) -> None:
    partner = await make_partner()

    row = await pool.fetchrow("SELECT * FROM partner_keys WHERE id = $1", partner.key_id)

    assert row["hash"] == hashlib.sha256(partner.key.encode()).digest()
    assert partner.key not in str(dict(row)) and partner.key[8:] not in str(dict(row))


async def test_a_rotated_key_works_for_a_day_and_a_revoked_key_at_once_no_more(
    make_partner: MakePartner, coordinator: Resident, client: AsyncTestClient[Any], pool: db.Pool
) -> None:
    partner = await make_partner()
    rotated = await partner.post("/v1/partner/keys")
    new = Partner(partner.code, partner.rewards, rotated.json()["key"], rotated.json()["info"]["id"], client)

    assert rotated.status_code == 201
    assert (await new.get("/v1/partner")).json()["key"]["id"] == new.key_id
    old = (await partner.get("/v1/partner")).json()["key"]
    assert datetime.fromisoformat(old["expires_at"]) - datetime.now(UTC) > timedelta(hours=23)

    revoked = await coordinator.delete(f"/v1/admin/cities/kranj/partners/{partner.code}/keys/{partner.key_id}")
    after = await partner.get("/v1/partner")

    assert revoked.status_code == 204
    assert_problem(after, 401, "unauthenticated")
    assert (await new.get("/v1/partner")).status_code == 200
    await pool.execute("UPDATE partner_keys SET expires_at = now() - interval '1 second' WHERE id = $1", new.key_id)
    assert (await new.get("/v1/partner")).status_code == 401


async def test_a_key_is_accepted_in_either_header_and_nothing_else_is(
    make_partner: MakePartner, client: AsyncTestClient[Any]
) -> None:
    partner = await make_partner()

    by_header = await client.get("/v1/partner", headers={"X-Partner-Key": partner.key})
    made_up = await client.get("/v1/partner", headers={"Authorization": "Bearer upk_" + "A" * 43})
    malformed = await client.get("/v1/partner", headers={"Authorization": "Bearer nonsense"})

    assert by_header.status_code == 200 and by_header.json()["code"] == partner.code
    assert_problem(made_up, 401, "unauthenticated")
    assert_problem(malformed, 401, "unauthenticated")


async def test_partner_routes_are_rate_limited_per_partner(database_url: str, make_partner: MakePartner) -> None:
    from tests.factories import settings_for_tests
    from upscale_api.app import create_app

    partner = await make_partner()
    app = create_app(
        settings_for_tests(
            UPSCALE_RATE_LIMIT_STORE="memory", UPSCALE_RATE_LIMIT_PARTNER="3/60", UPSCALE_RATE_LIMIT_PAUSE_SECONDS="0"
        ),
        database_url=database_url,
    )
    async with AsyncTestClient(app=app) as limited:
        answers: list[httpx.Response] = [await limited.get("/v1/partner", headers=partner.headers) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert '"partner";q=3;w=60' in answers[0].headers["ratelimit-policy"]
    assert_problem(answers[3], 429, "rate-limited")
