"""Recomputing stored savings after an emission factor is corrected.

A correction is a new factor version in ``campaigns/catalogue/emission-factors.toml``;
once applied, :func:`rescore` moves every live action still on an older version
to the version in force, in one set-based statement, and reports the change.
Running it again changes nothing.
"""

from __future__ import annotations

from datetime import date

import msgspec

from upscale_api.db import Pool
from upscale_api.scoring import queries


class RescoreChange(msgspec.Struct):
    action_type: str
    actions: int
    delta_kg: float
    """Change in kg CO2e avoided over those actions (negative when the correction lowered it)."""


async def rescore(pool: Pool, *, since: date | None = None, action_type: str | None = None) -> list[RescoreChange]:
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(queries.RESCORE, since, action_type)
    return [RescoreChange(r["action_type"], r["actions"], r["delta_kg"]) for r in rows]
