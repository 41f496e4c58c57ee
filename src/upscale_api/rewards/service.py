"""Rewards: balances, redemptions, partner codes and keys, city cards (see docs/rewards.md).

A resident's balance in a city's programme is the whole points the scoring job
computed for their campaign days in that city (``scoring.reads``) minus the cost
of their redemptions that count. A correction that lowers the earned points
never touches a past redemption: its code stays valid and the balance shows the
difference as ``owed``, which new points cover before anything can be spent.

A redemption is one transaction: it locks the resident's wallet row of the
city (so one resident's spending is serialised across every API process),
recognises a retried id, checks the balance, the limit per resident and the
card, writes the redemption (and for the city card its delivery to the outbox),
and last takes one item from the reward's stock with a conditional update,
whose row lock serialises everyone redeeming that reward for as short a time as
possible. Nothing in it can double-spend or oversell: each check runs under the
lock that every competing transaction needs too.
"""

from __future__ import annotations

import math
import uuid
import zoneinfo
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
import msgspec

from upscale_api.catalogue.service import City, Snapshot
from upscale_api.cursors import decode_cursor, encode_cursor
from upscale_api.db import Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.i18n import pick
from upscale_api.residents.service import find as find_resident
from upscale_api.residents.service import not_registered
from upscale_api.rewards import keys, queries, webhooks
from upscale_api.rewards.store import apply_partners, check_partner
from upscale_api.rewards.structs import (
    Balance,
    BalanceHistory,
    CityCardIn,
    CityCardOut,
    DeliveryAttempt,
    DeliveryOut,
    HistoryEntry,
    KeyOut,
    NewKey,
    Offer,
    Offers,
    PartnerAdmin,
    PartnerDefinition,
    PartnerOut,
    PartnerRedemption,
    PartnerRedemptionPage,
    PartnerSelf,
    RedemptionIn,
    RedemptionOut,
    RedemptionPage,
    RedemptionStatus,
    RewardOut,
)
from upscale_api.roles.service import managed_cities
from upscale_api.roles.structs import Grant
from upscale_api.scoring import reads
from upscale_api.settings import Settings
from upscale_api.validation import FieldError

ROTATION_GRACE = timedelta(hours=24)
"""How long a partner's previous key keeps working after it rotated to a new one."""
_CARD_DIGITS = range(8, 20)
_NOT_SEEN = 2**31 - 1


# --- Balances -------------------------------------------------------------------------


def _balance(city: str, earned: Decimal | int, spent: int) -> Balance:
    whole = math.floor(earned)
    return Balance(city=city, earned=whole, spent=spent, available=max(whole - spent, 0), owed=max(spent - whole, 0))


async def _resident(conn: Connection, uid: str) -> Record:
    resident = await find_resident(conn, uid)
    if resident is None:
        raise not_registered()
    return resident


async def _spent(conn: Connection, resident_id: int, now: datetime) -> dict[int, int]:
    return {r["city_id"]: r["spent"] for r in await conn.fetch(queries.SPENT, resident_id, now)}


async def balances(pool: Pool, snapshot: Snapshot, uid: str, now: datetime) -> list[Balance]:
    """The caller's balance in every city programme they have points or redemptions in, and always
    in their home city's; home city first."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        earned = await reads.earned_points(conn, resident["id"])
        spent = await _spent(conn, resident["id"], now)
    codes = {c.id: c.code for c in snapshot.cities.values()}
    ids = sorted(set(earned) | set(spent) | {resident["city_id"]}, key=lambda i: (i != resident["city_id"], i))
    return [_balance(codes[i], earned.get(i, 0), spent.get(i, 0)) for i in ids if i in codes]


def _city(snapshot: Snapshot, code: str, field: str = "city", status: int = 404) -> City:
    city = snapshot.cities.get(code)
    if city is None:
        kind = "not-found" if status == 404 else "validation-error"
        raise Problem.field(field, f"no city {code!r}", status=status, kind=kind)
    return city


async def history(
    pool: Pool, snapshot: Snapshot, uid: str, city_code: str, limit: int, cursor: str | None, now: datetime
) -> BalanceHistory:
    """The caller's balance in ``city_code`` with its movements, newest first: each campaign's points
    per local day, each redemption, and points given back by a cancelled or expired code."""
    after = decode_cursor(cursor, _HistoryCursor) if cursor else None
    city = _city(snapshot, city_code)
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        rid, language = resident["id"], resident["locale"]
        earned = (await reads.earned_points(conn, rid)).get(city.id, 0)
        spent = (await _spent(conn, rid, now)).get(city.id, 0)
        earned_after = None
        if after is not None:
            earned_after = (after.on, after.ref if after.rank == 0 else _NOT_SEEN)
        days = await reads.earned_days(conn, rid, city.id, earned_after, limit + 1)
        moves = await conn.fetch(
            queries.REDEMPTION_MOVES,
            rid,
            city.id,
            resident["time_zone"],
            after.on if after else None,
            after.rank if after else None,
            after.ref if after else None,
            limit + 1,
            now,
        )
        scored_at = await reads.scored_at(conn)
    entries: list[tuple[tuple[date, int, int], HistoryEntry]] = [
        (
            (d["local_date"], 0, d["campaign_id"]),
            HistoryEntry(
                on=d["local_date"],
                kind="earned",
                points=math.floor(d["points"]),
                campaign=d["campaign"],
                title=pick(d["title"], language),
            ),
        )
        for d in days
    ]
    entries += [
        (
            (m["on_day"], m["rank"], m["ref"]),
            HistoryEntry(
                on=m["on_day"],
                kind=m["kind"],
                points=m["points"],
                title=pick(m["title"], language),
                reward=m["reward"],
                redemption=m["id"],
            ),
        )
        for m in moves
    ]
    entries.sort(key=lambda e: e[0], reverse=True)
    page = entries[:limit]
    next_cursor = None
    if len(entries) > limit:
        on, rank, ref = page[-1][0]
        next_cursor = encode_cursor(_HistoryCursor(on, rank, ref))
    return BalanceHistory(
        balance=_balance(city.code, earned, spent),
        items=[e for _, e in page],
        next_cursor=next_cursor,
        computed_at=scored_at,
    )


# --- What can be redeemed ---------------------------------------------------------------


def _partner_out(row: Record, language: str) -> PartnerOut:
    return PartnerOut(
        code=row["partner"],
        kind=row["partner_kind"],
        name=pick(row["partner_name"], language),
        description=pick(row["partner_description"], language),
        website=row["website"],
        address=row["address"],
    )


def _reward_fields(row: Record, language: str) -> dict[str, Any]:
    return {
        "code": row["code"],
        "partner": _partner_out(row, language),
        "title": pick(row["title"], language),
        "description": pick(row["description"], language),
        "cost": row["cost"],
        "remaining": None if row["stock"] is None else max(row["stock"] - row["claimed"], 0),
        "limit_per_resident": row["limit_per_resident"],
        "limit_period": row["limit_period"],
        "available_until": row["available_until"],
        "code_valid_days": row["code_valid_days"],
        "delivery": row["delivery"],
    }


def _local_today(city: City, now: datetime) -> date:
    return now.astimezone(zoneinfo.ZoneInfo(city.time_zone)).date()


async def city_rewards(pool: Pool, snapshot: Snapshot, city_code: str, language: str, now: datetime) -> list[RewardOut]:
    """The city's rewards that can be redeemed now or later, cheapest first (public)."""
    city = _city(snapshot, city_code)
    rows = await pool.fetch(queries.REWARDS_OF_CITY, city.id, _local_today(city, now))
    return [RewardOut(**_reward_fields(r, language)) for r in rows]


async def offers(pool: Pool, snapshot: Snapshot, uid: str, city_code: str | None, now: datetime) -> Offers:
    """The rewards of ``city_code`` (default: the caller's home city) with whether the caller can redeem each."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        by_id = {c.id: c for c in snapshot.cities.values()}
        city = _city(snapshot, city_code, status=422) if city_code else by_id[resident["city_id"]]
        today = _local_today(city, now)
        rows = await conn.fetch(queries.REWARDS_OF_CITY, city.id, today)
        earned = (await reads.earned_points(conn, resident["id"])).get(city.id, 0)
        spent = (await _spent(conn, resident["id"], now)).get(city.id, 0)
        counts = await _redeemed_in_period(conn, resident["id"], [r["id"] for r in rows], now, city.time_zone)
        has_card = await conn.fetchval(queries.CARD, resident["id"], city.id) is not None
    balance = _balance(city.code, earned, spent)
    items = []
    for row in rows:
        reason = _why_not(row, balance, counts.get(row["id"], 0), has_card, today)
        items.append(
            Offer(
                **_reward_fields(row, resident["locale"]),
                can_redeem=reason is None,
                reason=reason,  # type: ignore[arg-type]
                redeemed_in_period=counts.get(row["id"], 0),
            )
        )
    return Offers(balance=balance, rewards=items)


def _why_not(row: Record, balance: Balance, redeemed: int, has_card: bool, today: date) -> str | None:
    if row["available_from"] is not None and row["available_from"] > today:
        return "not-yet-available"
    if row["stock"] is not None and row["claimed"] >= row["stock"]:
        return "out-of-stock"
    if row["limit_per_resident"] is not None and redeemed >= row["limit_per_resident"]:
        return "limit-reached"
    if row["delivery"] == "city-card" and not has_card:
        return "no-city-card"
    if balance.available < row["cost"]:
        return "insufficient-points"
    return None


async def _redeemed_in_period(
    conn: Connection, resident_id: int, reward_ids: list[int], now: datetime, time_zone: str
) -> dict[int, int]:
    rows = await conn.fetch(queries.REDEEMED_IN_PERIOD, resident_id, reward_ids, now, time_zone)
    return {r["reward_id"]: r["redeemed"] for r in rows}


# --- Redeeming --------------------------------------------------------------------------


async def redeem(
    pool: Pool, settings: Settings, uid: str, data: RedemptionIn, now: datetime
) -> tuple[RedemptionOut, bool]:
    """Redeem ``data.reward`` for the caller; returns the redemption and whether it is new.

    The same id again (the app retrying) answers the stored redemption and spends
    nothing; an id used for another reward or by someone else is a 409 ``conflict``.
    Refusals (409): ``reward-unavailable``, ``insufficient-points``, ``limit-reached``,
    ``no-city-card``, ``out-of-stock``. A refused redemption stores nothing.
    """
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        reward = await conn.fetchrow(queries.REWARD, data.reward)
        if reward is None:
            raise Problem.field("reward", f"no reward {data.reward!r}")
        try:
            async with conn.transaction():
                await conn.execute(queries.LOCK_WALLET, resident["id"], reward["city_id"])
                # A retry waits for the lock above, then finds the first one stored.
                replay = await _replay(conn, resident, data, now)
                if replay is not None:
                    return replay, False
                await _check(conn, settings, resident, reward, now)
                issued = await _issue(conn, settings, resident, reward, data.id, now)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "redemptions_pkey":
                raise
            # Another resident's redemption took this id at the same moment.
            replay = await _replay(conn, resident, data, now)
            if replay is None:
                raise
            return replay, False
        return issued, True


async def _replay(conn: Connection, resident: Record, data: RedemptionIn, now: datetime) -> RedemptionOut | None:
    stored = await conn.fetchrow(queries.REDEMPTION_OWNER, data.id)
    if stored is None:
        return None
    out = await _redemption_out(conn, data.id, resident["locale"], now)
    if stored["resident_id"] != resident["id"] or out.reward != data.reward:
        raise Problem.field("id", "is taken by another redemption", status=409, kind="conflict")
    return out


async def _check(conn: Connection, settings: Settings, resident: Record, reward: Record, now: datetime) -> None:
    """Refuse the redemption unless the caller may have ``reward`` now; runs under the wallet lock."""
    today = now.astimezone(zoneinfo.ZoneInfo(reward["time_zone"])).date()
    if not reward["active"]:
        raise Problem(409, "reward-unavailable", f"reward: {reward['code']} is withdrawn")
    if (reward["available_from"] and reward["available_from"] > today) or (
        reward["available_until"] and reward["available_until"] < today
    ):
        raise Problem(409, "reward-unavailable", f"reward: {reward['code']} cannot be redeemed on {today}")
    city_id = reward["city_id"]
    earned = (await reads.earned_points(conn, resident["id"])).get(city_id, 0)
    spent = (await _spent(conn, resident["id"], now)).get(city_id, 0)
    balance = _balance(reward["city"], earned, spent)
    if balance.available < reward["cost"]:
        raise Problem(
            409,
            "insufficient-points",
            f"reward: costs {reward['cost']} points; you have {balance.available} in {reward['city']}",
        )
    if reward["limit_per_resident"] is not None:
        redeemed = await _redeemed_in_period(conn, resident["id"], [reward["id"]], now, reward["time_zone"])
        if redeemed.get(reward["id"], 0) >= reward["limit_per_resident"]:
            period = "" if reward["limit_period"] == "ever" else f" per {reward['limit_period']}"
            raise Problem(409, "limit-reached", f"reward: at most {reward['limit_per_resident']}{period} per resident")
    if reward["delivery"] == "city-card":
        if settings.webhook_secret is None:
            raise Problem(503, "unavailable", "reward: deliveries to the city card are not configured")
        if await conn.fetchval(queries.CARD_HASH, resident["id"], city_id) is None:
            raise Problem(409, "no-city-card", f"reward: link your {reward['city']} city card first")


async def _issue(
    conn: Connection, settings: Settings, resident: Record, reward: Record, redemption_id: uuid.UUID, now: datetime
) -> RedemptionOut:
    by_card = reward["delivery"] == "city-card"
    code = None if by_card else keys.new_code()
    expires_at = None if by_card else now + timedelta(days=reward["code_valid_days"])
    await conn.execute(
        queries.INSERT_REDEMPTION,
        redemption_id,
        resident["id"],
        reward["city_id"],
        reward["id"],
        reward["partner_id"],
        reward["cost"],
        code,
        now,
        expires_at,
    )
    if by_card:
        card = await conn.fetchval(queries.CARD_HASH, resident["id"], reward["city_id"])
        delivery_id = str(uuid.uuid4())
        body = webhooks.payload(
            delivery_id,
            reward["city"],
            reward["partner"],
            card,
            {
                "id": str(redemption_id),
                "reward": reward["code"],
                "title": reward["title"],
                "points": reward["cost"],
                "redeemed_at": now.isoformat(),
            },
            now,
        )
        await conn.execute(
            queries.INSERT_DELIVERY,
            delivery_id,
            redemption_id,
            reward["city_id"],
            reward["partner_id"],
            reward["webhook_url"],
            body,
            now,
        )
    if await conn.fetchval(queries.CLAIM_STOCK, reward["id"]) is None:
        raise Problem(409, "out-of-stock", f"reward: none of {reward['code']} is left")
    language = resident["locale"]
    return RedemptionOut(
        id=redemption_id,
        city=reward["city"],
        reward=reward["code"],
        title=pick(reward["title"], language),
        partner=pick(reward["partner_name"], language),
        cost=reward["cost"],
        code=code,
        status="issued",
        created_at=now,
        expires_at=expires_at,
        used_at=None,
    )


async def _redemption_out(conn: Connection, redemption_id: uuid.UUID, language: str, now: datetime) -> RedemptionOut:
    row = await conn.fetchrow(queries.REDEMPTION, redemption_id, now)
    assert row is not None
    return _resident_view(row, language)


def _resident_view(row: Record, language: str) -> RedemptionOut:
    return RedemptionOut(
        id=row["id"],
        city=row["city"],
        reward=row["reward"],
        title=pick(row["title"], language),
        partner=pick(row["partner_name"], language),
        cost=row["cost"],
        code=row["code"],
        status=row["status"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


async def my_redemptions(pool: Pool, uid: str, limit: int, cursor: str | None, now: datetime) -> RedemptionPage:
    after = decode_cursor(cursor, _PageCursor) if cursor else None
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        rows = await conn.fetch(
            queries.RESIDENT_PAGE,
            resident["id"],
            now,
            after.created_at if after else None,
            after.id if after else None,
            limit + 1,
        )
    items = [_resident_view(r, resident["locale"]) for r in rows[:limit]]
    next_cursor = encode_cursor(_PageCursor(items[-1].created_at, items[-1].id)) if len(rows) > limit else None
    return RedemptionPage(items=items, next_cursor=next_cursor)


async def cancel(pool: Pool, uid: str, redemption_id: uuid.UUID, now: datetime) -> RedemptionOut:
    """Give an unused, unexpired code back: its points return to the balance, its item to the stock.
    Cancelling a cancelled one answers it again."""
    async with pool.acquire() as conn, conn.transaction():
        resident = await _resident(conn, uid)
        owner = await conn.fetchrow(queries.REDEMPTION_OWNER, redemption_id)
        if owner is None or owner["resident_id"] != resident["id"]:
            raise Problem.field(
                "redemption_id", f"no redemption {redemption_id} of yours", status=404, kind="not-found"
            )
        await conn.fetchval(queries.CANCEL, redemption_id, resident["id"], now)
        out = await _redemption_out(conn, redemption_id, resident["locale"], now)
    if out.status == "cancelled":
        return out
    if out.code is None:
        raise Problem(409, "rule-violation", "redemption: a delivery to the city card cannot be cancelled")
    if out.status == "used":
        raise Problem(409, "code-used", f"redemption: the code was used at {out.used_at}")
    raise Problem(409, "code-expired", f"redemption: the code expired at {out.expires_at}")


# --- City cards -------------------------------------------------------------------------


def _card_number(number: str) -> str:
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or len(digits) not in _CARD_DIGITS:
        raise Problem.field("number", "must be 8 to 19 digits (spaces and dashes are ignored)")
    return digits


async def link_card(
    pool: Pool, snapshot: Snapshot, settings: Settings, uid: str, data: CityCardIn
) -> tuple[CityCardOut, bool]:
    """Link (or replace) the caller's home city card; only its keyed hash is stored."""
    number = _card_number(data.number)
    key = settings.city_card_key
    if key is None:
        raise Problem(503, "unavailable", "city cards: UPSCALE_CITY_CARD_KEY is not set")
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        city = next(c for c in snapshot.cities.values() if c.id == resident["city_id"])
        try:
            row = await conn.fetchrow(
                queries.LINK_CARD, resident["id"], city.id, keys.card_hash(key, city.code, number)
            )
        except asyncpg.UniqueViolationError:
            raise Problem.field(
                "number", "this card is linked to another account", status=409, kind="conflict"
            ) from None
    assert row is not None
    return CityCardOut(city=city.code, linked_at=row["linked_at"]), bool(row["created"])


async def card(pool: Pool, snapshot: Snapshot, uid: str) -> CityCardOut:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        linked_at = await conn.fetchval(queries.CARD, resident["id"], resident["city_id"])
    if linked_at is None:
        raise Problem(404, "not-found", "city card: none is linked")
    city = next(c for c in snapshot.cities.values() if c.id == resident["city_id"])
    return CityCardOut(city=city.code, linked_at=linked_at)


async def unlink_card(pool: Pool, uid: str) -> None:
    """Forget the caller's home city card; deliveries already under way still reach it."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        await conn.execute(queries.UNLINK_CARD, resident["id"], resident["city_id"])


# --- Partners ---------------------------------------------------------------------------


def _partner_view(row: Record, now: datetime) -> PartnerRedemption:
    status: RedemptionStatus = row["status"]
    return PartnerRedemption(
        id=row["id"],
        code=row["code"],
        reward=row["reward"],
        title=pick(row["title"], "en"),
        partner=row["partner"],
        city=row["city"],
        cost=row["cost"],
        status=status,
        valid=status == "issued" and row["code"] is not None,
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


def _code_not_found(code: str) -> Problem:
    return Problem.field("code", "no redemption of yours has this code", status=404, kind="not-found")


async def partner_self(pool: Pool, partner_id: int, key_id: int) -> PartnerSelf:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(queries.PARTNER_SELF, partner_id)
        key = await conn.fetchrow(queries.KEY, key_id)
    assert row is not None and key is not None
    return PartnerSelf(
        code=row["code"], city=row["city"], name=pick(row["name"], "en"), rewards=row["rewards"], key=_key_out(key)
    )


async def check_code(pool: Pool, partner_id: int, code: str, now: datetime) -> PartnerRedemption:
    """The partner's redemption with ``code``; another partner's code is not found, exactly like none."""
    stored = keys.normalise_code(code)
    row = await pool.fetchrow(queries.PARTNER_CODE, stored, now, partner_id) if stored else None
    if row is None:
        raise _code_not_found(code)
    return _partner_view(row, now)


async def use_code(pool: Pool, partner_id: int, key_id: int, code: str, now: datetime) -> PartnerRedemption:
    """Mark the code used, once: a used code is ``code-used``, an expired or cancelled one ``code-expired``."""
    stored = keys.normalise_code(code)
    if stored is None:
        raise _code_not_found(code)
    async with pool.acquire() as conn:
        used = await conn.fetchval(queries.USE_CODE, stored, now, partner_id, key_id)
        row = await conn.fetchrow(queries.PARTNER_CODE, stored, now, partner_id)
    if row is None:
        raise _code_not_found(code)
    if used is None:
        if row["status"] == "used":
            raise Problem(409, "code-used", f"code: used at {row['used_at'].isoformat()}")
        raise Problem(409, "code-expired", f"code: {row['status']}, it can no longer be used")
    return _partner_view(row, now)


async def redemptions_page(
    pool: Pool,
    partner_id: int | None,
    city_id: int,
    status: RedemptionStatus | None,
    limit: int,
    cursor: str | None,
    now: datetime,
    with_deliveries: bool = False,
) -> PartnerRedemptionPage:
    """A page of a partner's redemptions (``partner_id``), or of the whole city's (None)."""
    after = decode_cursor(cursor, _PageCursor) if cursor else None
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            queries.PARTNER_PAGE,
            partner_id,
            now,
            city_id,
            status,
            after.created_at if after else None,
            after.id if after else None,
            limit + 1,
        )
        items = [_partner_view(r, now) for r in rows[:limit]]
        if with_deliveries and items:
            deliveries = await _deliveries(conn, [i.id for i in items])
            for item in items:
                item.delivery = deliveries.get(item.id)
    next_cursor = encode_cursor(_PageCursor(items[-1].created_at, items[-1].id)) if len(rows) > limit else None
    return PartnerRedemptionPage(items=items, next_cursor=next_cursor)


async def _deliveries(conn: Connection, redemption_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeliveryOut]:
    rows = await conn.fetch(queries.DELIVERIES, redemption_ids)
    if not rows:
        return {}
    attempts: defaultdict[uuid.UUID, list[DeliveryAttempt]] = defaultdict(list)
    for a in await conn.fetch(queries.ATTEMPTS, [r["id"] for r in rows]):
        attempts[a["delivery_id"]].append(
            DeliveryAttempt(
                attempt=a["attempt"],
                attempted_at=a["attempted_at"],
                http_status=a["status_code"],
                error=a["error"],
                duration_ms=a["duration_ms"],
            )
        )
    return {
        r["redemption_id"]: DeliveryOut(
            id=r["id"],
            url=r["url"],
            delivered_at=r["delivered_at"],
            next_attempt_at=None if r["delivered_at"] else r["next_attempt_at"],
            attempts=attempts[r["id"]],
        )
        for r in rows
    }


def _key_out(row: Record) -> KeyOut:
    return KeyOut(
        id=row["id"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


async def _new_key(conn: Connection, partner_id: int, created_by: str) -> NewKey:
    key, digest, prefix = keys.new_key()
    row = await conn.fetchrow(queries.INSERT_KEY, partner_id, digest, prefix, created_by)
    assert row is not None
    return NewKey(key=key, info=_key_out(row))


async def rotate_key(pool: Pool, partner_id: int, key_id: int, now: datetime) -> NewKey:
    """A new key for the partner; the key that asked keeps working for :data:`ROTATION_GRACE`."""
    async with pool.acquire() as conn, conn.transaction():
        new = await _new_key(conn, partner_id, "partner")
        await conn.execute(queries.RETIRE_KEY, key_id, partner_id, now + ROTATION_GRACE)
    return new


async def create_key_for(pool: Pool, partner: str, created_by: str) -> NewKey | None:
    """A new key for the partner ``partner`` (operators' command); None when there is no such partner."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(queries.PARTNER_ID, partner)
        if row is None:
            return None
        return await _new_key(conn, row["id"], created_by)


# --- Coordinators -----------------------------------------------------------------------


def _managed(snapshot: Snapshot, grants: list[Grant], city_code: str) -> City:
    """The city ``city_code`` if the caller coordinates it; 404 for no such city, 403 for another's."""
    city = _city(snapshot, city_code, field="code")
    managed = managed_cities(grants)
    if managed is not None and city.code not in managed:
        raise Problem.field("code", f"you do not coordinate {city.code}", status=403, kind="forbidden")
    return city


async def _partner_of_city(conn: Connection, city: City, partner: str) -> int:
    row = await conn.fetchrow(queries.PARTNER_ID, partner)
    if row is None or row["city"] != city.code:
        raise Problem.field("partner", f"no partner {partner!r} in {city.code}", status=404, kind="not-found")
    partner_id: int = row["id"]
    return partner_id


async def _admin_partners(conn: Connection, city: City, partner: str | None) -> list[PartnerAdmin]:
    rows = await conn.fetch(queries.PARTNERS_OF_CITY, city.id, partner)
    keys_by: defaultdict[int, list[KeyOut]] = defaultdict(list)
    for k in await conn.fetch(queries.KEYS_OF, [r["id"] for r in rows]):
        keys_by[k["partner_id"]].append(_key_out(k))
    return [
        PartnerAdmin(
            code=r["code"],
            city=r["city"],
            source=r["source"],
            definition=msgspec.convert(r["definition"], PartnerDefinition),
            claimed=r["claimed"],
            keys=keys_by[r["id"]],
        )
        for r in rows
    ]


async def list_partners(pool: Pool, snapshot: Snapshot, grants: list[Grant], city_code: str) -> list[PartnerAdmin]:
    city = _managed(snapshot, grants, city_code)
    async with pool.acquire() as conn:
        return await _admin_partners(conn, city, None)


async def put_partner(
    pool: Pool, snapshot: Snapshot, grants: list[Grant], city_code: str, code: str, data: PartnerDefinition
) -> tuple[PartnerAdmin, bool]:
    """Create or replace a partner made over the API, with its rewards; returns it and whether it is new."""
    city = _managed(snapshot, grants, city_code)
    problems = check_partner(data)
    if data.code != code:
        problems.insert(0, ("code", f"must equal the partner in the path ({code!r})"))
    if problems:
        raise Problem.invalid([FieldError(field, reason) for field, reason in problems])
    async with pool.acquire() as conn, conn.transaction():
        existed = await conn.fetchrow(queries.PARTNER_ID, code)
        _, refused = await apply_partners(conn, [(city.code, data)], "api")
        if refused:
            errors = [FieldError(field, reason) for _, field, reason in refused]
            raise Problem(409, "conflict", "; ".join(f"{e.field}: {e.reason}" for e in errors), errors=errors)
        (partner,) = await _admin_partners(conn, city, code)
    return partner, existed is None


async def create_key(
    pool: Pool, snapshot: Snapshot, grants: list[Grant], city_code: str, partner: str, uid: str
) -> NewKey:
    city = _managed(snapshot, grants, city_code)
    async with pool.acquire() as conn:
        partner_id = await _partner_of_city(conn, city, partner)
        return await _new_key(conn, partner_id, uid)


async def revoke_key(
    pool: Pool, snapshot: Snapshot, grants: list[Grant], city_code: str, partner: str, key_id: int, now: datetime
) -> KeyOut:
    """Revoke a key at once (revoking it again changes nothing)."""
    city = _managed(snapshot, grants, city_code)
    async with pool.acquire() as conn:
        partner_id = await _partner_of_city(conn, city, partner)
        row = await conn.fetchrow(queries.REVOKE_KEY, key_id, partner_id, now) if 0 < key_id < 2**63 else None
    if row is None:
        raise Problem.field("key_id", f"no key {key_id} of {partner}", status=404, kind="not-found")
    return _key_out(row)


async def city_redemptions(
    pool: Pool,
    snapshot: Snapshot,
    grants: list[Grant],
    city_code: str,
    partner: str | None,
    status: RedemptionStatus | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> PartnerRedemptionPage:
    """The city's redemptions (or one partner's), newest first, with each card delivery's attempts."""
    city = _managed(snapshot, grants, city_code)
    partner_id = None
    if partner is not None:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(queries.PARTNER_ID, partner)
        if row is None or row["city"] != city.code:
            raise Problem.field("partner", f"no partner {partner!r} in {city.code}")
        partner_id = row["id"]
    return await redemptions_page(pool, partner_id, city.id, status, limit, cursor, now, with_deliveries=True)


async def expire_codes(pool: Pool, now: datetime) -> int:
    """Mark codes past their expiry expired and give their items back to the stock (the worker, each minute)."""
    rows = await pool.fetch(queries.EXPIRE, now)
    return sum(r["n"] for r in rows)


# --- Cursors ----------------------------------------------------------------------------


class _PageCursor(msgspec.Struct, array_like=True):
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    id: uuid.UUID


class _HistoryCursor(msgspec.Struct, array_like=True):
    on: date
    rank: Annotated[int, msgspec.Meta(ge=0, le=2)]
    ref: int
