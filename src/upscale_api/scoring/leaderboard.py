"""Leaderboards: read from the standings the scoring jobs computed.

Reading is two index lookups (the top N by rank, and the caller's own entry by
subject), so it stays fast at a million participants.
"""

from __future__ import annotations

import msgspec

from upscale_api.db import Connection, Record
from upscale_api.scoring import queries
from upscale_api.scoring.structs import LeaderboardEntry, LeaderboardOut, Scope


def _entry(row: Record) -> LeaderboardEntry:
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
        you=bool(row["own"]),
    )


async def read(
    conn: Connection, campaign_id: int, scope: Scope, resident_id: int, limit: int, language: str = "en"
) -> tuple[list[LeaderboardEntry], LeaderboardEntry | None]:
    """The top ``limit`` entries of ``scope`` and the resident's own (None when not taking part)."""
    rows = await conn.fetch(queries.LEADERBOARD, campaign_id, scope, resident_id, limit, language)
    top = [_entry(r) for r in rows[:limit]]  # ordered by rank: the own entry, if outside the top, comes last
    own = next((_entry(r) for r in rows if r["own"]), None)
    return top, own


async def leaderboard(
    conn: Connection, campaign_id: int, code: str, scope: Scope, resident_id: int, limit: int, language: str
) -> LeaderboardOut:
    info = await conn.fetchrow(queries.STANDINGS_INFO, campaign_id)
    top, own = await read(conn, campaign_id, scope, resident_id, limit, language)
    sizes = msgspec.convert(info["sizes"], dict[str, int]) if info else {}
    return LeaderboardOut(
        campaign=code,
        scope=scope,
        computed_at=info["computed_at"] if info else None,
        final=bool(info["final"]) if info else False,
        entries_in_all=sizes.get(scope, 0),
        top=top,
        own=own,
    )
