"""A resident's profile as the app sends and sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

CityCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["kranj"])]


class ResidentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Register or update the signed-in resident. Omitted optional fields keep their defaults."""

    city: CityCode
    district: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] | None = None
    locale: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$", examples=["sl"])] | None = None
    """Defaults to the city's first language."""
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["Europe/Ljubljana"])] | None = None
    """IANA time zone; defaults to the city's."""


class ResidentOut(msgspec.Struct):
    city: str
    district: str | None
    display_name: str | None
    locale: str
    time_zone: str
    registered_at: datetime
    updated_at: datetime
