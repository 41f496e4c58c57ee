"""The public catalogue as the app sees it: action types with their factors and sources."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from upscale_api.openapi import example

# The vocabulary of the catalogue, shared by every file format and body that names its parts.
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Code = Annotated[str, msgspec.Meta(pattern=CODE_PATTERN, max_length=64)]
"""A code of a city, district, action type, factor, campaign, team...: lower-case letters, digits, dashes."""
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Localized = dict[Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")], Text]
"""A text per language, e.g. ``{sl = "Kolo", en = "Bicycle"}``."""
Category = Literal["mobility", "energy", "food", "consumption", "waste"]
REQUIRED_LANGUAGES = ("sl", "en")
"""Every text of the definition files is given in these languages (English is the fallback)."""


class SourceOut(msgspec.Struct):
    """A published source of an emission factor."""

    title: Annotated[str, Meta(description="The source's title")]
    publisher: Annotated[str, Meta(description="Who published it")]
    edition: Annotated[str, Meta(description="Which edition or year")]
    url: Annotated[str, Meta(description="Where to read it")]
    licence: Annotated[str, Meta(description="Under which licence its figures are used")]


class FactorOut(msgspec.Struct):
    """An emission factor version: kg CO2e per one unit of ``per``."""

    code: Annotated[str, Meta(description="The factor's code")]
    version: Annotated[int, Meta(ge=1, description="Its version; a correction is a new version")]
    title: Annotated[str, Meta(description="What it measures")]
    value: Annotated[float, Meta(ge=0, description="kg CO2e per one unit of `per`")]
    per: Annotated[str, Meta(description="The unit, e.g. `km`")]
    baseline: Annotated[str, Meta(description="What the figure assumes")]
    method: Annotated[str, Meta(description="How it was derived")]
    uncertainty_low: Annotated[float, Meta(ge=0, description="The low end of its uncertainty range")]
    uncertainty_high: Annotated[float, Meta(ge=0, description="The high end of its uncertainty range")]
    sources: Annotated[list[SourceOut], Meta(description="Where the figure comes from")]


class ActionTypeOut(msgspec.Struct):
    """An action a resident of the city can log, localised."""

    code: Annotated[str, Meta(description="What to send as `action_type`")]
    category: Annotated[Category, Meta(description="The category it counts in")]
    unit: Annotated[str, Meta(description="The unit of its quantity, e.g. `km`")]
    title: Annotated[str, Meta(description="Its name in the negotiated language")]
    description: Annotated[str, Meta(description="What counts, in the negotiated language")]
    min_quantity: Annotated[float, Meta(gt=0, description="The least quantity of one entry")]
    max_quantity: Annotated[float, Meta(gt=0, description="The most quantity of one entry")]
    max_per_day: Annotated[float, Meta(gt=0, description="The most a resident may log per local day")]
    step: Annotated[float, Meta(gt=0, description="The step the app's input offers")]
    saving_per_unit_kg: Annotated[
        float, Meta(description="kg CO2e avoided per unit: baseline factor minus option factor")
    ]
    baseline_factor: Annotated[FactorOut, Meta(description="The factor of what is avoided (e.g. driving)")]
    option_factor: Annotated[
        FactorOut | None, Meta(description="The factor of what is done instead; null when it emits nothing")
    ]


class DistrictOut(msgspec.Struct):
    """A district of a city."""

    code: Annotated[str, Meta(description="What to send as a resident's `district`")]
    name: Annotated[str, Meta(description="Its name in the negotiated language")]


class ClimateTargetOut(msgspec.Struct):
    """The reduction of emissions a city has committed to."""

    baseline_year: Annotated[int, Meta(description="The year the reduction is measured from")]
    target_year: Annotated[int, Meta(description="The year it is to be reached by")]
    reduction_t_co2e: Annotated[float, Meta(gt=0, description="Tonnes of CO2e less per year than in the baseline year")]


class CityOut(msgspec.Struct):
    """A city served (a tenant), localised."""

    code: Annotated[str, Meta(description="What to send as a resident's `city`")]
    name: Annotated[str, Meta(description="Its name in the negotiated language")]
    country: Annotated[str, Meta(description="ISO 3166-1 alpha-2 country code")]
    time_zone: Annotated[str, Meta(description="IANA time zone; a resident's default")]
    languages: Annotated[list[str], Meta(description="Languages of its texts; the first is a resident's default")]
    districts: Annotated[list[DistrictOut], Meta(description="Its districts")]
    climate_target: Annotated[
        ClimateTargetOut | None, Meta(description="Its declared reduction target; null when it declares none")
    ]


_SOURCE = SourceOut(
    title="Greenhouse gas reporting: conversion factors",
    publisher="UK Department for Energy Security and Net Zero",
    edition="2024",
    url="https://www.gov.uk/government/collections/government-conversion-factors-for-company-reporting",
    licence="Open Government Licence v3.0",
)
example(
    ActionTypeOut(
        code="cycle-instead-of-car",
        category="mobility",
        unit="km",
        title="Kolo namesto avta",
        description="Pot s kolesom, ki bi jo sicer prevozili z avtom.",
        min_quantity=0.5,
        max_quantity=100,
        max_per_day=200,
        step=0.5,
        saving_per_unit_kg=0.172,
        baseline_factor=FactorOut(
            code="car-si-fleet",
            version=1,
            title="Average car in Slovenia",
            value=0.172,
            per="km",
            baseline="Average passenger car of the Slovenian fleet",
            method="Tank-to-wheel and well-to-tank emissions per vehicle km",
            uncertainty_low=0.14,
            uncertainty_high=0.2,
            sources=[_SOURCE],
        ),
        option_factor=None,
    )
)
example(
    CityOut(
        code="kranj",
        name="Kranj",
        country="SI",
        time_zone="Europe/Ljubljana",
        languages=["sl", "en"],
        districts=[DistrictOut("bitnje", "Bitnje")],
        climate_target=ClimateTargetOut(baseline_year=2018, target_year=2030, reduction_t_co2e=113263),
    )
)
