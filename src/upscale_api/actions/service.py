"""Logging, listing and deleting a resident's actions.

Logging is the hot path: check, insert, return. One call handles one action or
an offline batch the same way, in one transaction and a fixed number of
statements whatever the batch size:

1. lock the resident's row, so the per-day limits hold under concurrent calls;
2. look up ids already stored (a retry is answered with the stored record);
3. check each new action against the catalogue and the time window;
4. read the day totals the new actions count against, apply the limits in order;
5. insert the accepted ones.

The saving returned is the immediate estimate from the factor versions in
force; the stored row records which versions they were.
"""

from __future__ import annotations

import base64
import math
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from upscale_api.actions import queries
from upscale_api.actions.structs import ActionIn, ActionOut, ActionPage, FactorRef, Outcome
from upscale_api.catalogue.service import ActionType, City, Snapshot
from upscale_api.db import Pool, Record
from upscale_api.errors import Problem
from upscale_api.residents.service import not_registered
from upscale_api.validation import FieldError

FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Policy:
    backdate: timedelta
    delete_grace: timedelta


@dataclass
class _Accepted:
    index: int
    item: ActionIn
    action_type: ActionType
    local_date: date
    co2e_kg: float


async def log_actions(
    pool: Pool, snapshot: Snapshot, policy: Policy, uid: str, items: list[ActionIn], now: datetime
) -> list[Outcome]:
    """Log ``items`` for resident ``uid``; one outcome per item, in order."""
    outcomes: list[Outcome | None] = [None] * len(items)
    async with pool.acquire() as conn, conn.transaction():
        resident = await conn.fetchrow(queries.LOCK_RESIDENT, uid)
        if resident is None:
            raise not_registered()
        city = snapshot.city_by_id(resident["city_id"])
        zone = zoneinfo.ZoneInfo(resident["time_zone"])
        stored = {row["id"]: row for row in await conn.fetch(queries.BY_IDS, [i.id for i in items])}

        candidates: list[_Accepted] = []
        first_in_batch: dict[UUID, ActionIn] = {}
        for index, item in enumerate(items):
            if item.id in stored:
                outcomes[index] = _replay(stored[item.id], resident["id"], item)
            elif item.id in first_in_batch:
                same = _same_content(first_in_batch[item.id], item)
                outcomes[index] = Outcome("duplicate") if same else _conflict()
            else:
                errors, checked = _check(index, item, snapshot, city, zone, policy, now)
                if errors:
                    outcomes[index] = Outcome("rejected", errors=errors)
                else:
                    assert checked is not None
                    candidates.append(checked)
                    first_in_batch[item.id] = item

        accepted = await _apply_day_limits(conn, resident["id"], candidates, outcomes)
        recorded: dict[UUID, datetime] = {}
        if accepted:
            rows = await conn.fetch(
                queries.INSERT,
                resident["id"],
                resident["city_id"],
                [a.item.id for a in accepted],
                [a.action_type.id for a in accepted],
                [a.item.quantity for a in accepted],
                [a.item.performed_at for a in accepted],
                [a.local_date for a in accepted],
                [a.action_type.baseline_factor_id for a in accepted],
                [a.action_type.option_factor_id for a in accepted],
                [a.co2e_kg for a in accepted],
            )
            recorded = {row["id"]: row["recorded_at"] for row in rows}
        for a in accepted:
            at = recorded.get(a.item.id)
            # Not inserted: another resident's concurrent call took the same id.
            outcomes[a.index] = Outcome("stored", action=_new_action_out(a, at)) if at else _conflict()

    # Same-batch duplicates answer with the record stored for their first occurrence.
    by_id = {o.action.id: o.action for o in outcomes if o is not None and o.action is not None}
    for index, outcome in enumerate(outcomes):
        if outcome is not None and outcome.status == "duplicate" and outcome.action is None:
            outcomes[index] = Outcome("duplicate", action=by_id.get(items[index].id))
    return [o for o in outcomes if o is not None]


def _check(
    index: int, item: ActionIn, snapshot: Snapshot, city: City, zone: zoneinfo.ZoneInfo, policy: Policy, now: datetime
) -> tuple[list[FieldError], _Accepted | None]:
    errors = []
    action_type = snapshot.action_types.get(item.action_type)
    if action_type is None:
        errors.append(FieldError("action_type", f"unknown action type {item.action_type!r}"))
    elif city.id not in action_type.city_ids:
        errors.append(FieldError("action_type", f"{item.action_type!r} is not offered in {city.code}"))
    q = item.quantity
    if not math.isfinite(q) or q <= 0:
        errors.append(FieldError("quantity", "must be a number greater than 0"))
    elif action_type is not None:
        unit = action_type.unit
        if q < action_type.min_quantity:
            errors.append(FieldError("quantity", f"must be at least {action_type.min_quantity:g} {unit}"))
        elif q > action_type.max_quantity:
            errors.append(FieldError("quantity", f"must be at most {action_type.max_quantity:g} {unit} per entry"))
    if item.performed_at > now + FUTURE_TOLERANCE:
        errors.append(FieldError("performed_at", "is in the future"))
    elif item.performed_at < now - policy.backdate:
        days = policy.backdate / timedelta(days=1)
        errors.append(FieldError("performed_at", f"is more than {days:g} days ago; older actions cannot be logged"))
    if errors or action_type is None:
        return errors, None
    saving = round(q * action_type.saving_per_unit_kg, 6)
    return [], _Accepted(index, item, action_type, item.performed_at.astimezone(zone).date(), saving)


async def _apply_day_limits(
    conn: Any, resident_id: int, candidates: list[_Accepted], outcomes: list[Outcome | None]
) -> list[_Accepted]:
    """Keep the candidates that fit their type's per-day limit, in body order; reject the rest."""
    if not candidates:
        return []
    keys = {(c.action_type.id, c.local_date) for c in candidates}
    rows = await conn.fetch(queries.DAY_TOTALS, resident_id, [k[0] for k in keys], [k[1] for k in keys])
    totals: dict[tuple[int, date], float] = {(r["action_type_id"], r["local_date"]): r["total"] for r in rows}
    accepted = []
    for c in candidates:
        key = (c.action_type.id, c.local_date)
        so_far = totals.get(key, 0.0)
        limit = c.action_type.max_per_day
        if so_far + c.item.quantity > limit + 1e-9:
            unit = c.action_type.unit
            reason = (
                f"exceeds the daily limit of {limit:g} {unit} for {c.action_type.code} on "
                f"{c.local_date.isoformat()} ({so_far:g} {unit} already logged)"
            )
            outcomes[c.index] = Outcome("rejected", errors=[FieldError("quantity", reason)])
        else:
            totals[key] = so_far + c.item.quantity
            accepted.append(c)
    return accepted


def _same_content(a: ActionIn, b: ActionIn) -> bool:
    return (a.action_type, a.quantity, a.performed_at) == (b.action_type, b.quantity, b.performed_at)


def _replay(row: Record, resident_id: int, item: ActionIn) -> Outcome:
    same = (
        row["resident_id"] == resident_id
        and row["action_type"] == item.action_type
        and row["quantity"] == item.quantity
        and row["performed_at"] == item.performed_at
    )
    return Outcome("duplicate", action=action_out(row)) if same else _conflict()


def _conflict() -> Outcome:
    return Outcome(
        "conflict", errors=[FieldError("id", "an action with this id was already logged with other content")]
    )


def _new_action_out(a: _Accepted, recorded_at: datetime) -> ActionOut:
    t = a.action_type
    return ActionOut(
        id=a.item.id,
        action_type=t.code,
        category=t.category,
        unit=t.unit,
        quantity=a.item.quantity,
        performed_at=a.item.performed_at,
        local_date=a.local_date,
        recorded_at=recorded_at,
        co2e_kg=a.co2e_kg,
        baseline_factor=FactorRef(t.baseline.code, t.baseline.version),
        option_factor=FactorRef(t.option.code, t.option.version) if t.option else None,
    )


def action_out(row: Record) -> ActionOut:
    return ActionOut(
        id=row["id"],
        action_type=row["action_type"],
        category=row["category"],
        unit=row["unit"],
        quantity=row["quantity"],
        performed_at=row["performed_at"],
        local_date=row["local_date"],
        recorded_at=row["recorded_at"],
        co2e_kg=row["co2e_kg"],
        baseline_factor=FactorRef(row["baseline_code"], row["baseline_version"]),
        option_factor=FactorRef(row["option_code"], row["option_version"]) if row["option_code"] else None,
        deleted_at=row["deleted_at"],
    )


# --- Listing and deleting -----------------------------------------------------


class _Cursor(msgspec.Struct, array_like=True):
    performed_at: datetime
    id: UUID


def _encode_cursor(action: ActionOut) -> str:
    raw = msgspec.json.encode(_Cursor(action.performed_at, action.id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=_Cursor)
    except (ValueError, msgspec.DecodeError):
        raise Problem.field("cursor", "is not a cursor returned by this endpoint") from None


async def list_actions(pool: Pool, uid: str, limit: int, cursor: str | None) -> ActionPage:
    """The resident's actions, newest first; ``cursor`` continues after a previous page."""
    after = _decode_cursor(cursor) if cursor else None
    async with pool.acquire() as conn:
        resident_id = await conn.fetchval(queries.RESIDENT_ID, uid)
        if resident_id is None:
            raise not_registered()
        rows = await conn.fetch(
            queries.PAGE,
            resident_id,
            after.performed_at if after else None,
            after.id if after else None,
            limit + 1,
        )
    items = [action_out(r) for r in rows[:limit]]
    next_cursor = _encode_cursor(items[-1]) if len(rows) > limit else None
    return ActionPage(items=items, next_cursor=next_cursor)


async def delete_action(pool: Pool, policy: Policy, uid: str, action_id: UUID, now: datetime) -> None:
    """Delete one of the resident's actions within the grace period (idempotent)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.FOR_DELETE, action_id, uid)
        if row is None:
            raise Problem.field("id", "no such action of yours", status=404, kind="not-found")
        if row["deleted_at"] is not None:
            return
        if row["recorded_at"] < now - policy.delete_grace:
            hours = policy.delete_grace / timedelta(hours=1)
            raise Problem.field(
                "id",
                f"was logged more than {hours:g} hours ago and can no longer be deleted",
                status=409,
                kind="rule-violation",
            )
        await conn.execute(queries.SOFT_DELETE, action_id)
