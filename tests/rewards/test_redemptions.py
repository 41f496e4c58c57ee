"""Residents redeem rewards with their points: idempotent, never more than they have, never past the stock."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from tests.conftest import Score
from tests.factories import Resident, assert_problem
from tests.rewards.conftest import Earn, MakePartner, balance, redeem, reward
from upscale_api import db

MakeEarner = Callable[[int], Awaitable[Resident]]


async def _redemptions_of(pool: db.Pool, resident: Resident) -> list[str]:
    rows = await pool.fetch(
        "SELECT r.status FROM redemptions r JOIN residents p ON p.id = r.resident_id WHERE p.firebase_uid = $1",
        resident.uid,
    )
    return [row["status"] for row in rows]


async def _claimed(pool: db.Pool, reward_code: str) -> int:
    claimed: int = await pool.fetchval("SELECT claimed FROM rewards WHERE code = $1", reward_code)
    return claimed


async def test_a_resident_sees_what_they_can_afford(make_partner: MakePartner, make_earner: MakeEarner) -> None:
    partner = await make_partner(reward(cost=200), reward(cost=600, stock=3))
    resident = await make_earner(300)

    offers = (await resident.get("/v1/me/rewards")).json()

    assert offers["balance"] == {"city": "kranj", "earned": 300, "spent": 0, "available": 300, "owed": 0}
    mine = {o["code"]: o for o in offers["rewards"] if o["partner"]["code"] == partner.code}
    cheap, dear = partner.rewards
    assert (mine[cheap]["can_redeem"], mine[cheap]["reason"]) == (True, None)
    assert (mine[dear]["can_redeem"], mine[dear]["reason"], mine[dear]["remaining"]) == (
        False,
        "insufficient-points",
        3,
    )


async def test_redeeming_spends_the_points_and_gives_a_code(
    make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=120, stock=10))
    resident = await make_earner(300)

    redeemed = await redeem(resident, partner.rewards[0])

    assert redeemed.status_code == 201, redeemed.text
    body = redeemed.json()
    assert body["status"] == "issued" and body["cost"] == 120
    assert len(body["code"]) == 11 and body["code"][5] == "-"
    assert await balance(resident) == {"city": "kranj", "earned": 300, "spent": 120, "available": 180, "owed": 0}
    assert await _claimed(pool, partner.rewards[0]) == 1


async def test_a_retried_redemption_is_answered_again_and_spends_nothing_more(
    make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=100), reward(cost=100))
    resident = await make_earner(500)
    same_id = str(uuid.uuid4())

    first = await redeem(resident, partner.rewards[0], same_id)
    again = await redeem(resident, partner.rewards[0], same_id)
    other_reward = await redeem(resident, partner.rewards[1], same_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert_problem(other_reward, 409, "conflict", "id")
    assert (await balance(resident))["spent"] == 100
    assert await _redemptions_of(pool, resident) == ["issued"]


async def test_another_residents_redemption_id_is_a_conflict_revealing_nothing(
    make_partner: MakePartner, make_earner: MakeEarner
) -> None:
    partner = await make_partner()
    owner, other = await make_earner(200), await make_earner(200)
    taken = str(uuid.uuid4())
    code = (await redeem(owner, partner.rewards[0], taken)).json()["code"]

    answer = await redeem(other, partner.rewards[0], taken)

    assert_problem(answer, 409, "conflict", "id")
    assert code not in answer.text
    assert (await balance(other))["spent"] == 0


async def test_more_than_the_balance_is_refused_and_nothing_is_stored(
    make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=301, stock=5))
    resident = await make_earner(300)

    answer = await redeem(resident, partner.rewards[0])

    assert_problem(answer, 409, "insufficient-points")
    assert await _redemptions_of(pool, resident) == []
    assert await _claimed(pool, partner.rewards[0]) == 0


async def test_the_limit_per_resident_holds(make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool) -> None:
    partner = await make_partner(reward(cost=10, limit_per_resident=2, limit_period="month"))
    resident = await make_earner(100)

    answers = [await redeem(resident, partner.rewards[0]) for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_problem(answers[2], 409, "limit-reached")
    assert await _redemptions_of(pool, resident) == ["issued", "issued"]
    offer = next(o for o in (await resident.get("/v1/me/rewards")).json()["rewards"] if o["code"] == partner.rewards[0])
    assert (offer["reason"], offer["redeemed_in_period"]) == ("limit-reached", 2)


async def test_the_last_item_goes_to_one_resident(
    make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=50, stock=1))
    first, second = await make_earner(100), await make_earner(100)

    assert (await redeem(first, partner.rewards[0])).status_code == 201
    answer = await redeem(second, partner.rewards[0])

    assert_problem(answer, 409, "out-of-stock")
    assert await _redemptions_of(pool, second) == []
    assert (await balance(second))["spent"] == 0
    assert await _claimed(pool, partner.rewards[0]) == 1


async def test_an_unknown_or_withdrawn_reward_is_refused(
    make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(active=False))
    resident = await make_earner(200)

    assert_problem(await redeem(resident, "no-such-reward"), 422, "validation-error", "reward")
    assert_problem(await redeem(resident, partner.rewards[0]), 409, "reward-unavailable")
    assert await _redemptions_of(pool, resident) == []


async def test_cancelling_an_unused_code_gives_points_and_stock_back(
    make_partner: MakePartner, make_earner: MakeEarner, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=100, stock=3))
    resident = await make_earner(200)
    redemption = (await redeem(resident, partner.rewards[0])).json()

    cancelled = await resident.post(f"/v1/me/redemptions/{redemption['id']}/cancellation")
    again = await resident.post(f"/v1/me/redemptions/{redemption['id']}/cancellation")

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert again.status_code == 200
    assert (await balance(resident))["available"] == 200
    assert await _claimed(pool, partner.rewards[0]) == 0
    checked = await partner.get(f"/v1/partner/redemptions/{redemption['code']}")
    assert (checked.json()["status"], checked.json()["valid"]) == ("cancelled", False)


async def test_a_used_code_cannot_be_cancelled(make_partner: MakePartner, make_earner: MakeEarner) -> None:
    partner = await make_partner()
    resident = await make_earner(200)
    redemption = (await redeem(resident, partner.rewards[0])).json()
    assert (await partner.post(f"/v1/partner/redemptions/{redemption['code']}/use")).status_code == 200

    answer = await resident.post(f"/v1/me/redemptions/{redemption['id']}/cancellation")

    assert_problem(answer, 409, "code-used")
    assert (await balance(resident))["spent"] == 100


async def test_a_rescore_that_lowers_points_keeps_past_redemptions_valid(
    make_partner: MakePartner, make_earner: MakeEarner, earn: Earn, score: Score
) -> None:
    """Points earned can fall (an action deleted, a day rejected, a campaign left, a rescore). What
    was redeemed stays redeemed: the code still works at the partner; the balance shows the
    difference as owed, nothing can be spent until new points cover it."""
    partner = await make_partner(reward(cost=150), reward(cost=10))
    resident = await make_earner(200)
    redemption = (await redeem(resident, partner.rewards[0])).json()
    (action,) = await resident.logged()
    assert (await resident.delete(f"/v1/me/actions/{action['id']}")).status_code == 204

    await score()

    assert await balance(resident) == {"city": "kranj", "earned": 0, "spent": 150, "available": 0, "owed": 150}
    assert_problem(await redeem(resident, partner.rewards[1]), 409, "insufficient-points")
    checked = (await partner.get(f"/v1/partner/redemptions/{redemption['code']}")).json()
    assert (checked["status"], checked["valid"]) == ("issued", True)
    assert (await partner.post(f"/v1/partner/redemptions/{redemption['code']}/use")).status_code == 200

    await earn(resident, 170)

    assert await balance(resident) == {"city": "kranj", "earned": 170, "spent": 150, "available": 20, "owed": 0}
    assert (await redeem(resident, partner.rewards[1])).status_code == 201


async def test_the_history_shows_points_earned_spent_and_given_back(
    make_partner: MakePartner, make_earner: MakeEarner, points_campaign: str
) -> None:
    partner = await make_partner(reward(cost=100), reward(cost=30))
    resident = await make_earner(250)
    kept = (await redeem(resident, partner.rewards[0])).json()
    given_back = (await redeem(resident, partner.rewards[1])).json()
    await resident.post(f"/v1/me/redemptions/{given_back['id']}/cancellation")

    first = (await resident.get("/v1/me/points/kranj", params={"limit": 2})).json()
    rest = (await resident.get("/v1/me/points/kranj", params={"limit": 2, "cursor": first["next_cursor"]})).json()

    moves = [(e["kind"], e["points"], e.get("redemption") or e.get("campaign")) for e in first["items"] + rest["items"]]
    assert moves == [
        ("returned", 30, given_back["id"]),
        ("redeemed", -30, given_back["id"]),
        ("redeemed", -100, kept["id"]),
        ("earned", 250, points_campaign),
    ]
    assert rest["next_cursor"] is None
    assert first["balance"] == {"city": "kranj", "earned": 250, "spent": 100, "available": 150, "owed": 0}


async def test_a_city_without_points_is_a_balance_of_zero(make_partner: MakePartner, make_earner: MakeEarner) -> None:
    await make_partner()
    resident = await make_earner(100)

    ljubljana = await resident.get("/v1/me/rewards", params={"city": "ljubljana"})
    unknown = await resident.get("/v1/me/rewards", params={"city": "atlantis"})

    assert ljubljana.json()["balance"] == {"city": "ljubljana", "earned": 0, "spent": 0, "available": 0, "owed": 0}
    assert_problem(unknown, 422, "validation-error", "city")
