"""Anti-gaming review: day totals over a plausible limit, decided by a coordinator.

The scoring job holds a resident's day total of an action type out of every
score and total when it exceeds the type's ``plausible_per_day``, and flags it
here as pending. A coordinator of the resident's city (or an admin) accepts
it, and it counts again from the next scoring run, or rejects it, and it stays
out. An accepted total covers what was decided on: more logged that day makes
the entry pending again. Decisions can be changed; every one is kept.

Coordinators see only their cities' entries: another city's entry answers
404, as if it did not exist, so entry ids reveal nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated

import msgspec

from upscale_api.cursors import decode_cursor, encode_cursor
from upscale_api.db import Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.reviews import queries
from upscale_api.reviews.structs import DayAction, DecisionIn, DecisionOut, HeldEntry, HeldEntryPage, Status
from upscale_api.roles.service import managed_cities
from upscale_api.roles.structs import Grant

_MAX_ID = 2**63 - 1
_STATUS = {"accept": "accepted", "reject": "rejected"}


async def list_entries(
    pool: Pool, grants: list[Grant], city: str | None, status: Status | None, limit: int, cursor: str | None
) -> HeldEntryPage:
    """Held entries of the caller's cities (or of ``city``), newest flagged first."""
    after = decode_cursor(cursor, _Cursor) if cursor else None
    cities = managed_cities(grants)
    async with pool.acquire() as conn:
        if city is not None:
            if cities is not None and city not in cities:
                raise Problem.field("city", f"you do not coordinate {city}", status=403, kind="forbidden")
            if not await conn.fetchval(queries.CITY_EXISTS, city):
                raise Problem.field("city", f"no city {city!r}")
            cities = [city]
        rows = await conn.fetch(
            queries.PAGE,
            cities,
            status,
            after.flagged_at if after else None,
            after.id if after else None,
            limit + 1,
        )
        items = await _entries(conn, rows[:limit])
    next_cursor = encode_cursor(_Cursor(items[-1].flagged_at, items[-1].id)) if len(rows) > limit else None
    return HeldEntryPage(items=items, next_cursor=next_cursor)


async def get_entry(pool: Pool, grants: list[Grant], entry_id: int) -> HeldEntry:
    async with pool.acquire() as conn:
        return await _one(conn, grants, entry_id)


async def decide(
    pool: Pool, grants: list[Grant], uid: str, entry_id: int, data: DecisionIn, now: datetime
) -> HeldEntry:
    """Accept or reject the day total as flagged; the next scoring run applies it."""
    if not 0 < entry_id <= _MAX_ID:
        raise _not_found(entry_id)
    async with pool.acquire() as conn, conn.transaction():
        decided = await conn.fetchval(
            queries.DECIDE, entry_id, managed_cities(grants), _STATUS[data.decision], uid, now, data.note
        )
        if decided is None:
            raise _not_found(entry_id)
        return await _one(conn, grants, entry_id)


async def _one(conn: Connection, grants: list[Grant], entry_id: int) -> HeldEntry:
    row = await conn.fetchrow(queries.ONE, entry_id, managed_cities(grants)) if 0 < entry_id <= _MAX_ID else None
    if row is None:
        raise _not_found(entry_id)
    (entry,) = await _entries(conn, [row])
    return entry


def _not_found(entry_id: int) -> Problem:
    return Problem.field("id", f"no held entry {entry_id} in the cities you coordinate", status=404, kind="not-found")


async def _entries(conn: Connection, rows: list[Record]) -> list[HeldEntry]:
    """The entries of ``rows`` with the actions of their days and their decisions (two queries in all)."""
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    actions: defaultdict[int, list[DayAction]] = defaultdict(list)
    for a in await conn.fetch(queries.DAY_ACTIONS, ids):
        actions[a["entry"]].append(DayAction(a["id"], a["quantity"], a["performed_at"], a["recorded_at"]))
    decisions: defaultdict[int, list[DecisionOut]] = defaultdict(list)
    for d in await conn.fetch(queries.DECISIONS, ids):
        decisions[d["entry"]].append(
            DecisionOut(d["status"], d["quantity"], d["note"], d["decided_by"], d["decided_at"])
        )
    return [
        HeldEntry(
            id=r["id"],
            city=r["city"],
            resident=r["resident_id"],
            local_date=r["local_date"],
            action_type=r["action_type"],
            unit=r["unit"],
            quantity=r["quantity"],
            plausible_per_day=r["plausible_per_day"],
            status=r["status"],
            flagged_at=r["flagged_at"],
            decided_by=r["decided_by"],
            decided_at=r["decided_at"],
            decided_quantity=r["decided_quantity"],
            note=r["note"],
            actions=actions[r["id"]],
            decisions=decisions[r["id"]],
        )
        for r in rows
    ]


# --- Cursor -------------------------------------------------------------------


class _Cursor(msgspec.Struct, array_like=True):
    flagged_at: Annotated[datetime, msgspec.Meta(tz=True)]
    id: Annotated[int, msgspec.Meta(gt=0, le=_MAX_ID)]
