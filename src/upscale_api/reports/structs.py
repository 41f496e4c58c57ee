"""A city's impact report: kg CO2e avoided per month and category, participants, and the share of its target."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import Category, ClimateTargetOut
from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]

Month = Annotated[str, Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-03"])]
Count = Annotated[int, Meta(ge=0)]


class CategoryMonth(msgspec.Struct):
    """One category's actions in one month."""

    category: Annotated[Category, Meta(description="The category")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided by the category's actions in the month")]
    actions: Annotated[Count, Meta(description="How many of its actions count")]


class MonthImpact(msgspec.Struct):
    """One month of the city's report."""

    month: Annotated[Month, Meta(description="`YYYY-MM`, in the city's time zone")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided in the month")]
    actions: Annotated[Count, Meta(description="How many actions count")]
    participants: Annotated[Count, Meta(description="Distinct residents with counted actions in the month")]
    by_category: Annotated[
        list[CategoryMonth],
        Meta(description="Every category, in a fixed order (mobility, energy, food, consumption, waste); zeros too"),
    ]


class CityImpact(msgspec.Struct, kw_only=True):
    """What a city's residents avoided over a range of months, toward its declared target."""

    city: Annotated[str, Meta(description="The city's code")]
    time_zone: Annotated[str, Meta(description="The IANA time zone its months are counted in")]
    from_: Annotated[Month, Meta(description="First month of the range, `YYYY-MM`")] = msgspec.field(name="from")
    to: Annotated[Month, Meta(description="Last month of the range, `YYYY-MM` (included)")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided over the range")]
    actions: Annotated[Count, Meta(description="How many actions count over the range")]
    participants: Annotated[
        Count, Meta(description="Distinct residents with counted actions over the range (each counted once)")
    ]
    climate_target: Annotated[
        ClimateTargetOut | None, Meta(description="The city's declared reduction target; null when it declares none")
    ]
    target_share: Annotated[
        float | None,
        Meta(
            description="co2e_kg / (reduction_t_co2e × 1000): the share of the declared target avoided over the "
            "range; null without a target"
        ),
    ]
    computed_at: Annotated[
        Moment | None,
        Meta(description="When the scoring job last computed the figures; null before its first run"),
    ]
    months: Annotated[
        list[MonthImpact], Meta(description="Every month of the range, oldest first; months without actions have zeros")
    ]


example(
    CityImpact(
        city="kranj",
        time_zone="Europe/Ljubljana",
        from_="2026-02",
        to="2026-03",
        co2e_kg=1842.5,
        actions=912,
        participants=141,
        climate_target=ClimateTargetOut(baseline_year=2018, target_year=2030, reduction_t_co2e=113263),
        target_share=0.0000162674,
        computed_at=datetime(2026, 3, 14, 10, 5, tzinfo=UTC),
        months=[
            MonthImpact(
                month=month,
                co2e_kg=co2e,
                actions=actions,
                participants=participants,
                by_category=[
                    CategoryMonth(
                        category, co2e if category == "mobility" else 0.0, actions if category == "mobility" else 0
                    )
                    for category in ("mobility", "energy", "food", "consumption", "waste")
                ],
            )
            for month, co2e, actions, participants in (("2026-02", 901.0, 440, 120), ("2026-03", 941.5, 472, 131))
        ],
    )
)
