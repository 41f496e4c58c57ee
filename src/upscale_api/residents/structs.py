"""A resident's profile as the app sends and sees it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import CODE_PATTERN
from upscale_api.openapi import example

# The service checks that codes name a city, district or language, together with the other
# fields, so one answer names every bad field; the document states their format.
CityCode = Annotated[str, Meta(min_length=1, max_length=64, extra_json_schema={"pattern": CODE_PATTERN})]
Locale = Annotated[str, Meta(pattern=r"^[a-z]{2}$", extra_json_schema={"enum": ["sl", "en"]}, examples=["sl"])]
"""A language the app's texts come in."""


class ResidentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Register or update the signed-in resident. Omitted optional fields keep their defaults."""

    city: Annotated[CityCode, Meta(description="The home city's code (see `GET /v1/cities`)", examples=["kranj"])]
    district: Annotated[
        CityCode | None,
        Meta(description="A district of the city (see `GET /v1/cities`); null for none"),
    ] = None
    display_name: Annotated[
        Annotated[str, Meta(min_length=1, max_length=60)] | None,
        Meta(description="Shown on leaderboards; null to stay anonymous. No control characters"),
    ] = None
    locale: Annotated[
        Locale | None, Meta(description="The language of texts and messages; defaults to the city's first language")
    ] = None
    time_zone: Annotated[
        Annotated[str, Meta(min_length=1, max_length=64, examples=["Europe/Ljubljana"])] | None,
        Meta(description="IANA time zone that days are counted in; defaults to the city's"),
    ] = None


class ResidentOut(msgspec.Struct):
    """The signed-in resident's profile."""

    city: Annotated[str, Meta(description="The home city's code")]
    district: Annotated[str | None, Meta(description="The district's code; null for none")]
    display_name: Annotated[str | None, Meta(description="Shown on leaderboards; null when anonymous")]
    locale: Annotated[str, Meta(description="The language of texts and messages")]
    time_zone: Annotated[str, Meta(description="IANA time zone that days are counted in")]
    registered_at: Annotated[datetime, Meta(tz=True, description="When the resident registered")]
    updated_at: Annotated[datetime, Meta(tz=True, description="When the profile last changed")]


example(ResidentIn(city="kranj", district="bitnje", display_name="Maja", locale="sl"))
example(
    ResidentOut(
        city="kranj",
        district="bitnje",
        display_name="Maja",
        locale="sl",
        time_zone="Europe/Ljubljana",
        registered_at=datetime(2026, 11, 1, 9, 12, 3, tzinfo=UTC),
        updated_at=datetime(2026, 11, 1, 9, 12, 3, tzinfo=UTC),
    )
)
