"""Roles live in the database, granted from the command line; never taken from a token or a client.

A coordinator is granted for one city (several grants for several cities); a
researcher for one study (several grants for several studies); an admin for
neither. An admin passes every role's check and
manages every city.
"""

from __future__ import annotations

from upscale_api.db import Pool, rows_affected
from upscale_api.roles import queries
from upscale_api.roles.structs import Grant, Role


async def grants_of(pool: Pool, uid: str) -> list[Grant]:
    """Every role granted to ``uid``, by role and city."""
    rows = await pool.fetch(queries.GRANTS_OF, uid)
    return [Grant(role=row["role"], city=row["city"], study=row["study"]) for row in rows]


async def grant_role(
    pool: Pool, uid: str, role: Role, city: str | None, granted_by: str, *, study: str | None = None
) -> bool:
    """Grant ``role`` (for ``city`` when coordinator, ``study`` when researcher); False when it was already granted.

    Raises ``ValueError`` for a coordinator without a known city, a researcher without a
    known study, or a city or study given to another role.
    """
    if (role == "coordinator") != (city is not None):
        raise ValueError("a coordinator role needs a city; other roles take none")
    if (role == "researcher") != (study is not None):
        raise ValueError("a researcher role needs a study (--study CODE); other roles take none")
    async with pool.acquire() as conn:
        city_id = study_id = None
        if city is not None:
            city_id = await conn.fetchval(queries.CITY_ID, city)
            if city_id is None:
                raise ValueError(f"unknown city: {city}")
        if study is not None:
            study_id = await conn.fetchval(queries.STUDY_ID, study)
            if study_id is None:
                raise ValueError(f"unknown study: {study}")
        inserted = await conn.fetchval(queries.GRANT, uid, role, city_id, granted_by, study_id)
    return bool(inserted)


async def revoke_role(pool: Pool, uid: str, role: Role, city: str | None, *, study: str | None = None) -> bool:
    """Take ``role`` (of ``city`` or ``study``) back; False when it was not granted."""
    return rows_affected(await pool.execute(queries.REVOKE, uid, role, city, study)) > 0


def managed_cities(grants: list[Grant]) -> list[str] | None:
    """The cities the caller manages; None means every city (admin)."""
    if any(g.role == "admin" for g in grants):
        return None
    return [g.city for g in grants if g.role == "coordinator" and g.city is not None]


def researched_studies(grants: list[Grant]) -> list[str] | None:
    """The studies the caller is a researcher of; None means every study (admin)."""
    if any(g.role == "admin" for g in grants):
        return None
    return [g.study for g in grants if g.role == "researcher" and g.study is not None]
