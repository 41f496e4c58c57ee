"""Roles live in the database, granted from the command line; never taken from a token or a client.

A coordinator is granted for one city (several grants for several cities); a
researcher and an admin for none. An admin passes every role's check and
manages every city.
"""

from __future__ import annotations

from upscale_api.db import Pool, rows_affected
from upscale_api.roles import queries
from upscale_api.roles.structs import Grant, Role


async def grants_of(pool: Pool, uid: str) -> list[Grant]:
    """Every role granted to ``uid``, by role and city."""
    return [Grant(role=row["role"], city=row["city"]) for row in await pool.fetch(queries.GRANTS_OF, uid)]


async def grant_role(pool: Pool, uid: str, role: Role, city: str | None, granted_by: str) -> bool:
    """Grant ``role`` (for ``city`` when coordinator); False when it was already granted.

    Raises ``ValueError`` for a coordinator without a known city, or a city given to another role.
    """
    if (role == "coordinator") != (city is not None):
        raise ValueError("a coordinator role needs a city; other roles take none")
    async with pool.acquire() as conn:
        city_id = None
        if city is not None:
            city_id = await conn.fetchval(queries.CITY_ID, city)
            if city_id is None:
                raise ValueError(f"unknown city: {city}")
        inserted = await conn.fetchval(queries.GRANT, uid, role, city_id, granted_by)
    return bool(inserted)


async def revoke_role(pool: Pool, uid: str, role: Role, city: str | None) -> bool:
    """Take ``role`` (of ``city``) back; False when it was not granted."""
    return rows_affected(await pool.execute(queries.REVOKE, uid, role, city)) > 0


def managed_cities(grants: list[Grant]) -> list[str] | None:
    """The cities the caller manages; None means every city (admin)."""
    if any(g.role == "admin" for g in grants):
        return None
    return [g.city for g in grants if g.role == "coordinator" and g.city is not None]
