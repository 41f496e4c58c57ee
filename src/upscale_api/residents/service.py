"""Registering residents and reading their profile."""

from __future__ import annotations

import zoneinfo

from upscale_api.catalogue.service import Snapshot
from upscale_api.db import Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.residents import queries
from upscale_api.residents.structs import ResidentIn, ResidentOut
from upscale_api.validation import FieldError

SUPPORTED_LOCALES = ("sl", "en")


def not_registered() -> Problem:
    return Problem(404, "not-registered", "resident: register first with PUT /v1/me")


async def find(conn: Connection, uid: str) -> Record | None:
    """The resident ``uid`` (``id``, ``city_id``, ``time_zone``, ``locale``), or None before registration."""
    return await conn.fetchrow(queries.BY_UID, uid)


async def register(pool: Pool, snapshot: Snapshot, uid: str, data: ResidentIn) -> tuple[ResidentOut, bool]:
    """Create or update the resident ``uid``; returns the profile and whether it was created."""
    errors = []
    city = snapshot.cities.get(data.city)
    district_id = None
    if city is None:
        errors.append(FieldError("city", f"no city with code {data.city!r}"))
    elif data.district is not None:
        district = city.districts.get(data.district)
        if district is None:
            errors.append(FieldError("district", f"no district {data.district!r} in {city.code}"))
        else:
            district_id = district.id
    if data.locale is not None and data.locale not in SUPPORTED_LOCALES:
        errors.append(FieldError("locale", f"must be one of {', '.join(SUPPORTED_LOCALES)}"))
    if data.time_zone is not None and not _is_time_zone(data.time_zone):
        errors.append(FieldError("time_zone", f"unknown IANA time zone {data.time_zone!r}"))
    if data.display_name is not None and not data.display_name.isprintable():
        errors.append(FieldError("display_name", "must not contain control characters"))
    if errors:
        raise Problem.invalid(errors)
    assert city is not None
    locale = data.locale or next((lang for lang in city.languages if lang in SUPPORTED_LOCALES), "en")
    display_name = data.display_name.strip() if data.display_name else None
    time_zone = data.time_zone or city.time_zone
    row = await pool.fetchrow(
        queries.UPSERT,
        uid,
        city.id,
        district_id,
        display_name,
        locale,
        time_zone,
    )
    assert row is not None
    profile = ResidentOut(
        city=city.code,
        district=data.district,
        display_name=display_name,
        locale=locale,
        time_zone=time_zone,
        registered_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return profile, bool(row["created"])


async def profile(pool: Pool, uid: str) -> ResidentOut:
    row = await pool.fetchrow(queries.BY_UID, uid)
    if row is None:
        raise not_registered()
    return ResidentOut(
        city=row["city"],
        district=row["district"],
        display_name=row["display_name"],
        locale=row["locale"],
        time_zone=row["time_zone"],
        registered_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
