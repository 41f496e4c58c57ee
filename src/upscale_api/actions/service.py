"""Logging, listing and deleting a resident's actions.

Logging is the hot path: check, insert, return, in one round trip to the
database whatever the batch size:

1. here, each action is checked against the catalogue and the time window, and
   its saving is computed from the factor versions in force;
2. the database function ``log_actions`` (migration 0002) then, under a lock on
   the resident's row, recognises ids stored before (a retry is answered with
   the stored record), checks the city offers the action type, applies the
   per-day limits in order and inserts the rest.

The saving returned is the immediate estimate; the stored row records which
factor versions produced it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

import msgspec

from upscale_api.actions import queries
from upscale_api.actions.structs import ActionIn, ActionOut, ActionPage, FactorRef, Outcome
from upscale_api.catalogue.service import ActionType, Snapshot
from upscale_api.cursors import decode_cursor, encode_cursor
from upscale_api.db import Pool, Record
from upscale_api.errors import Problem
from upscale_api.residents.service import not_registered
from upscale_api.validation import FieldError

FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Policy:
    backdate: timedelta
    delete_grace: timedelta


@dataclass(frozen=True)
class _Checked:
    """An action after the checks that need no database: the errors, or what to store."""

    errors: list[FieldError]
    action_type: ActionType | None
    co2e_kg: float


async def log_actions(
    pool: Pool, snapshot: Snapshot, policy: Policy, uid: str, items: list[ActionIn], now: datetime
) -> list[Outcome]:
    """Log ``items`` for resident ``uid``; one outcome per item, in order."""
    checked = [_check(item, snapshot, policy, now) for item in items]
    types = [c.action_type for c in checked]
    rows = await pool.fetch(
        queries.LOG_ACTIONS,
        uid,
        [i.id for i in items],
        [not c.errors for c in checked],
        [t.id if t else None for t in types],
        [i.quantity for i in items],
        [i.performed_at for i in items],
        [t.max_per_day if t else None for t in types],
        [t.baseline_factor_id if t else None for t in types],
        [t.option_factor_id if t else None for t in types],
        [c.co2e_kg for c in checked],
    )
    if rows and rows[0]["outcome"] == "not_registered":
        raise not_registered()
    retried = [items[r["item"]].id for r in rows if r["outcome"] == "duplicate"]
    stored = {r["id"]: action_out(r) for r in await pool.fetch(queries.BY_IDS, retried)} if retried else {}
    return [_outcome(row, item, check, stored) for row, item, check in zip(rows, items, checked, strict=True)]


def _outcome(row: Record, item: ActionIn, check: _Checked, stored: dict[UUID, ActionOut]) -> Outcome:
    match row["outcome"]:
        case "stored":
            assert check.action_type is not None
            return Outcome("stored", action=_new_action_out(item, check, row["day"], row["stored_at"]))
        case "duplicate":
            return Outcome("duplicate", action=stored[item.id])
        case "conflict":
            return _conflict()
        case "not_offered":
            reason = f"{item.action_type!r} is not offered in your city"
            return Outcome("rejected", errors=[FieldError("action_type", reason)])
        case "over_limit":
            t = check.action_type
            assert t is not None
            reason = (
                f"exceeds the daily limit of {t.max_per_day:g} {t.unit} for {t.code} on "
                f"{row['day'].isoformat()} ({row['day_total']:g} {t.unit} already logged)"
            )
            return Outcome("rejected", errors=[FieldError("quantity", reason)])
        case _:
            return Outcome("rejected", errors=check.errors)


def _check(item: ActionIn, snapshot: Snapshot, policy: Policy, now: datetime) -> _Checked:
    errors = []
    action_type = snapshot.action_types.get(item.action_type)
    if action_type is None:
        errors.append(FieldError("action_type", f"unknown action type {item.action_type!r}"))
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
    saving = round(q * action_type.saving_per_unit_kg, 6) if action_type and not errors else 0.0
    return _Checked(errors, action_type, saving)


def _conflict() -> Outcome:
    return Outcome(
        "conflict", errors=[FieldError("id", "an action with this id was already logged with other content")]
    )


def _new_action_out(item: ActionIn, check: _Checked, local_date: date, recorded_at: datetime) -> ActionOut:
    t = check.action_type
    assert t is not None
    return ActionOut(
        id=item.id,
        action_type=t.code,
        category=t.category,
        unit=t.unit,
        quantity=item.quantity,
        performed_at=item.performed_at,
        local_date=local_date,
        recorded_at=recorded_at,
        co2e_kg=check.co2e_kg,
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


async def list_actions(pool: Pool, uid: str, limit: int, cursor: str | None) -> ActionPage:
    """The resident's actions, newest first; ``cursor`` continues after a previous page."""
    after = decode_cursor(cursor, _Cursor) if cursor else None
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
    next_cursor = encode_cursor(_Cursor(items[-1].performed_at, items[-1].id)) if len(rows) > limit else None
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
