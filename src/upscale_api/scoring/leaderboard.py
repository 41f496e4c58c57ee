"""Leaderboards: read from the standings the scoring jobs computed.

A read is the caller's own entry (index lookups by subject) and the top N by
rank. The top N changes only when the standings job rebuilds a campaign's
standings, so each process keeps it in memory, as ready entries, keyed by when
the standings were computed: most reads are then one small query and one
flag set on a copy of the caller's entry, and stay fast at a million
participants under many concurrent readers.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

import msgspec

from upscale_api.db import Connection, Record
from upscale_api.scoring import queries
from upscale_api.scoring.structs import LeaderboardEntry, LeaderboardOut, Scope

_TopKey = tuple[int, Scope, int, str]


class _Top(msgspec.Struct, frozen=True):
    computed_at: datetime
    entries: list[LeaderboardEntry]
    """Shared by every read of these standings: never changed, copied when one is marked as the caller's."""
    position: dict[int, int]
    """Subject id -> index in entries."""


_TOP: OrderedDict[_TopKey, _Top] = OrderedDict()
_TOP_KEPT = 1024


def _entry(row: Record, *, you: bool) -> LeaderboardEntry:
    members = row["members"]
    return LeaderboardEntry(
        rank=row["rank"],
        name=row["name"],
        score=float(row["score"]),
        points=float(row["points"]),
        co2e_kg=round(float(row["co2e_kg"]), 6),
        members=members,
        active_members=row["active_members"],
        participation=round(row["active_members"] / members, 4) if members else 0.0,
        you=you,
    )


async def _top(
    conn: Connection,
    campaign_id: int,
    scope: Scope,
    limit: int,
    language: str,
    computed_at: datetime | None,
    own_subject: int | None,
) -> list[LeaderboardEntry]:
    if computed_at is None:
        return []
    key = (campaign_id, scope, limit, language)
    kept = _TOP.get(key)
    if kept is not None and kept.computed_at == computed_at:
        _TOP.move_to_end(key)
    else:
        rows = await conn.fetch(queries.LEADERBOARD_TOP, campaign_id, scope, limit, language)
        position = {row["subject_id"]: n for n, row in enumerate(rows)}
        kept = _TOP[key] = _Top(computed_at, [_entry(row, you=False) for row in rows], position)
        if len(_TOP) > _TOP_KEPT:
            _TOP.popitem(last=False)
    top = list(kept.entries)
    mine = kept.position.get(own_subject) if own_subject is not None else None
    if mine is not None:
        top[mine] = msgspec.structs.replace(top[mine], you=True)
    return top


async def _read(
    conn: Connection, campaign_id: int, scope: Scope, resident_id: int, limit: int, language: str
) -> tuple[Record, list[LeaderboardEntry], LeaderboardEntry | None]:
    mine = await conn.fetchrow(queries.LEADERBOARD_OWN, campaign_id, scope, resident_id, language)
    assert mine is not None  # one row, whatever the standings hold
    own_subject = mine["subject_id"]
    top = await _top(conn, campaign_id, scope, limit, language, mine["computed_at"], own_subject)
    own = _entry(mine, you=True) if own_subject is not None else None
    return mine, top, own


async def read(
    conn: Connection, campaign_id: int, scope: Scope, resident_id: int, limit: int, language: str = "en"
) -> tuple[list[LeaderboardEntry], LeaderboardEntry | None]:
    """The top ``limit`` entries of ``scope`` and the resident's own (None when not taking part)."""
    _, top, own = await _read(conn, campaign_id, scope, resident_id, limit, language)
    return top, own


async def leaderboard(
    conn: Connection, campaign_id: int, code: str, scope: Scope, resident_id: int, limit: int, language: str
) -> LeaderboardOut:
    mine, top, own = await _read(conn, campaign_id, scope, resident_id, limit, language)
    sizes = msgspec.convert(mine["sizes"] or {}, dict[str, int])
    return LeaderboardOut(
        campaign=code,
        scope=scope,
        computed_at=mine["computed_at"],
        final=mine["final"],
        entries_in_all=sizes.get(scope, 0),
        top=top,
        own=own,
    )
