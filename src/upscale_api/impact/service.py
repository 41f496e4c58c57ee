"""A resident's totals, as the scoring jobs computed them.

The worker scores new actions within seconds (``UPSCALE_SCORING_SECONDS``);
``computed_at`` says when it last did. Deleted actions are out, and days above
a plausible limit are shown apart until a coordinator accepts them.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import msgspec

from upscale_api.db import Pool
from upscale_api.impact import queries
from upscale_api.impact.structs import ImpactOut
from upscale_api.residents import service as residents
from upscale_api.residents.service import not_registered


async def impact_of(pool: Pool, uid: str, now: datetime) -> ImpactOut:
    async with pool.acquire() as conn:
        resident = await residents.find(conn, uid)
        if resident is None:
            raise not_registered()
        today = now.astimezone(zoneinfo.ZoneInfo(resident["time_zone"])).date()
        row = await conn.fetchrow(queries.IMPACT, resident["id"], today)
    assert row is not None
    return msgspec.convert(dict(row), ImpactOut, strict=False)
