"""The open aggregates as published, and their DCAT-AP metadata (JSON-LD)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from upscale_api.openapi import example

ALL = "(all)"
"""A dimension summed over: every district, every category."""
NONE = "(none)"
"""Residents who named no district."""
Moment = Annotated[datetime, Meta(tz=True)]
LICENCE: Final = "CC-BY-4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"

CSV_COLUMNS = (
    "week",
    "week_start",
    "campaign",
    "district",
    "category",
    "participants",
    "actions",
    "co2e_kg",
    "suppressed",
)


class StatsRow(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One published cell: a week's figures for a district and category (or their totals), of all
    residents (``campaign`` null) or of what counted for one campaign."""

    week: Annotated[str, Meta(description="ISO week, e.g. `2026-W47`", examples=["2026-W47"])]
    week_start: Annotated[date, Meta(description="Its Monday")]
    campaign: Annotated[str | None, Meta(description="A campaign's code: what counted for it; null: all residents")]
    district: Annotated[
        str, Meta(description="A district's code, `(all)` for the whole city or `(none)` for residents without one")
    ]
    category: Annotated[str, Meta(description="An action category, or `(all)`")]
    participants: Annotated[int | None, Meta(description="Residents with a counted action; null when suppressed")]
    actions: Annotated[int | None, Meta(description="Counted actions; null when suppressed")]
    co2e_kg: Annotated[float | None, Meta(description="kg CO2e avoided, to the gram; null when suppressed")]
    suppressed: Annotated[
        Literal["small", "complementary"] | None,
        Meta(
            description="Why the figures are withheld: `small` (fewer residents than `min_participants`) or "
            "`complementary` (they would reveal a small cell by subtraction); null when published"
        ),
    ]


class CityStats(msgspec.Struct, kw_only=True):
    """A city's open aggregates: per ISO week, participants, actions and kg CO2e avoided by district and
    category, and what counted for each campaign by category, small groups withheld."""

    city: Annotated[str, Meta(description="The city's code")]
    licence: Annotated[Literal["CC-BY-4.0"], Meta(description="Creative Commons Attribution 4.0 International")]
    licence_url: Annotated[str, Meta(description="The licence's text")]
    attribution: Annotated[str, Meta(description="How to credit the data")]
    min_participants: Annotated[
        int, Meta(description="No published figure describes fewer residents, directly or by subtraction")
    ]
    modified: Annotated[datetime, Meta(tz=True, description="When a figure last changed")]
    first_week: Annotated[str | None, Meta(description="The first ISO week published; null when none")]
    last_week: Annotated[
        str | None,
        Meta(
            description="The last ISO week published: weeks are published once late offline logs can no longer "
            "change them"
        ),
    ]
    rows: Annotated[list[StatsRow], Meta(description="Every cell, week by week")]


# --- DCAT-AP (JSON-LD) -----------------------------------------------------------------


class Ref(msgspec.Struct, rename={"id": "@id"}):
    """A link to a resource (JSON-LD `@id`)."""

    id: Annotated[str, Meta(description="The resource's IRI")]


class Text(msgspec.Struct, rename={"language": "@language", "value": "@value"}):
    """A text in one language."""

    language: Annotated[str, Meta(description="Its language (ISO 639-1)")]
    value: Annotated[str, Meta(description="The text")]


class Agent(msgspec.Struct, rename={"type": "@type", "name": "foaf:name"}):
    """Who publishes the data."""

    type: Annotated[Literal["foaf:Agent"], Meta(description="A FOAF agent")]
    name: Annotated[list[Text], Meta(description="Its name")]


class Contact(msgspec.Struct, rename={"type": "@type", "email": "vcard:hasEmail"}):
    """Where questions about the data go."""

    type: Annotated[Literal["vcard:Kind"], Meta(description="A vCard")]
    email: Annotated[Ref, Meta(description="A `mailto:` address")]


class Period(msgspec.Struct, rename={"type": "@type", "start": "dcat:startDate", "end": "dcat:endDate"}):
    """The time the data covers."""

    type: Annotated[Literal["dct:PeriodOfTime"], Meta(description="A period of time")]
    start: Annotated[date, Meta(description="Its first day")]
    end: Annotated[date, Meta(description="Its last day")]


class Distribution(
    msgspec.Struct,
    rename={
        "id": "@id",
        "type": "@type",
        "title": "dct:title",
        "access_url": "dcat:accessURL",
        "download_url": "dcat:downloadURL",
        "media_type": "dcat:mediaType",
        "format": "dct:format",
        "licence": "dct:license",
        "modified": "dct:modified",
    },
):
    """One way to get the data: JSON or CSV."""

    id: Annotated[str, Meta(description="Its IRI")]
    type: Annotated[Literal["dcat:Distribution"], Meta(description="A DCAT distribution")]
    title: Annotated[list[Text], Meta(description="Its title")]
    access_url: Annotated[Ref, Meta(description="Where it is")]
    download_url: Annotated[Ref, Meta(description="Where it is downloaded")]
    media_type: Annotated[Ref, Meta(description="Its IANA media type")]
    format: Annotated[Ref, Meta(description="Its format (EU file type vocabulary)")]
    licence: Annotated[Ref, Meta(description="Its licence (EU licence vocabulary)")]
    modified: Annotated[Moment | None, Meta(description="When a figure last changed")]


class Dataset(
    msgspec.Struct,
    omit_defaults=True,
    rename={
        "context": "@context",
        "id": "@id",
        "type": "@type",
        "identifier": "dct:identifier",
        "title": "dct:title",
        "description": "dct:description",
        "publisher": "dct:publisher",
        "contact": "dcat:contactPoint",
        "licence": "dct:license",
        "rights": "dct:rights",
        "frequency": "dct:accrualPeriodicity",
        "temporal": "dct:temporal",
        "spatial": "dct:spatial",
        "modified": "dct:modified",
        "keywords": "dcat:keyword",
        "theme": "dcat:theme",
        "language": "dct:language",
        "conforms_to": "dct:conformsTo",
        "distributions": "dcat:distribution",
    },
):
    """A city's open aggregates described for a data portal to harvest (DCAT-AP, JSON-LD)."""

    id: Annotated[str, Meta(description="The dataset's IRI")]
    type: Annotated[Literal["dcat:Dataset"], Meta(description="A DCAT dataset")]
    identifier: Annotated[str, Meta(description="A stable identifier")]
    title: Annotated[list[Text], Meta(description="Its title")]
    description: Annotated[list[Text], Meta(description="What it holds")]
    publisher: Annotated[Agent, Meta(description="The city that publishes it")]
    licence: Annotated[Ref, Meta(description="CC BY 4.0 (EU licence vocabulary)")]
    rights: Annotated[list[Text], Meta(description="How to credit it")]
    frequency: Annotated[Ref, Meta(description="Weekly (EU frequency vocabulary)")]
    spatial: Annotated[list[Text], Meta(description="The city it covers")]
    keywords: Annotated[list[Text], Meta(description="Keywords")]
    theme: Annotated[Ref, Meta(description="Environment (EU data theme vocabulary)")]
    language: Annotated[list[Ref], Meta(description="The languages of its texts")]
    conforms_to: Annotated[Ref, Meta(description="The document that says what every column means")]
    distributions: Annotated[list[Distribution], Meta(description="JSON and CSV")]
    temporal: Annotated[Period | None, Meta(description="The weeks it covers; absent before the first")] = None
    modified: Annotated[Moment | None, Meta(description="When a figure last changed")] = None
    contact: Annotated[Contact | None, Meta(description="Where questions go (when configured)")] = None
    context: Annotated[dict[str, str] | None, Meta(description="The JSON-LD context (the vocabularies' IRIs)")] = None


class Catalogue(
    msgspec.Struct,
    rename={
        "context": "@context",
        "id": "@id",
        "type": "@type",
        "title": "dct:title",
        "description": "dct:description",
        "publisher": "dct:publisher",
        "datasets": "dcat:dataset",
    },
):
    """Every city's open aggregates, for a national or European portal to harvest (DCAT-AP, JSON-LD)."""

    context: Annotated[dict[str, str], Meta(description="The JSON-LD context (the vocabularies' IRIs)")]
    id: Annotated[str, Meta(description="The catalogue's IRI")]
    type: Annotated[Literal["dcat:Catalog"], Meta(description="A DCAT catalogue")]
    title: Annotated[list[Text], Meta(description="Its title")]
    description: Annotated[list[Text], Meta(description="What it holds")]
    publisher: Annotated[Agent, Meta(description="Who runs the service")]
    datasets: Annotated[list[Dataset], Meta(description="One dataset per city")]


_WEEK = date(2026, 11, 16)
example(
    CityStats(
        city="kranj",
        licence=LICENCE,
        licence_url=LICENCE_URL,
        attribution="Mestna občina Kranj, UP-SCALE",
        min_participants=10,
        modified=datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
        first_week="2026-W47",
        last_week="2026-W47",
        rows=[
            StatsRow(
                week="2026-W47",
                week_start=_WEEK,
                campaign=None,
                district="bitnje",
                category="mobility",
                participants=42,
                actions=310,
                co2e_kg=512.75,
                suppressed=None,
            ),
            StatsRow(
                week="2026-W47",
                week_start=_WEEK,
                campaign=None,
                district="bitnje",
                category="food",
                participants=None,
                actions=None,
                co2e_kg=None,
                suppressed="small",
            ),
        ],
    )
)
