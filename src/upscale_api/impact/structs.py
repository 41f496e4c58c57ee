"""A resident's own impact: what their logged actions saved."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import Category
from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]

Count = Annotated[int, Meta(ge=0)]


class CategoryImpact(msgspec.Struct):
    """What one category of actions saved."""

    category: Annotated[Category, Meta(description="The category")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided by its actions")]
    actions: Annotated[Count, Meta(description="How many actions")]


class WeekImpact(msgspec.Struct):
    """What one ISO week's actions saved."""

    week: Annotated[
        str, Meta(pattern=r"^\d{4}-W\d{2}$", description="ISO week in the resident's time zone, e.g. `2026-W48`")
    ]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided in the week")]
    actions: Annotated[Count, Meta(description="How many actions in the week")]


class ImpactOut(msgspec.Struct):
    """What the resident's live actions saved, as the scoring jobs last computed it."""

    co2e_kg: Annotated[float, Meta(description="Total kg CO2e avoided, with the factor versions in force")]
    actions: Annotated[Count, Meta(description="How many actions count")]
    active_days: Annotated[Count, Meta(description="Local days with at least one action")]
    current_streak_days: Annotated[
        Count,
        Meta(description="Consecutive days with an action, ending today or yesterday (resident's time zone)"),
    ]
    longest_streak_days: Annotated[Count, Meta(description="The longest run of consecutive days with an action")]
    first_action_on: Annotated[date | None, Meta(description="The local day of the first action; null for none")]
    last_action_on: Annotated[date | None, Meta(description="The local day of the latest action; null for none")]
    by_category: Annotated[list[CategoryImpact], Meta(description="Per category of action")]
    by_week: Annotated[list[WeekImpact], Meta(description="Per ISO week, newest week first")]
    held_co2e_kg: Annotated[
        float,
        Meta(description="kg CO2e of days above a plausible limit, waiting for a coordinator's review (not counted)"),
    ]
    computed_at: Annotated[
        Moment | None,
        Meta(
            description="When the scoring jobs last ran; actions logged since then are not in these figures yet",
        ),
    ]


example(
    ImpactOut(
        co2e_kg=42.7,
        actions=31,
        active_days=18,
        current_streak_days=4,
        longest_streak_days=9,
        first_action_on=date(2026, 10, 3),
        last_action_on=date(2026, 11, 25),
        by_category=[CategoryImpact("mobility", 38.2, 25), CategoryImpact("food", 4.5, 6)],
        by_week=[WeekImpact("2026-W48", 6.1, 5), WeekImpact("2026-W47", 7.9, 6)],
        held_co2e_kg=0.0,
        computed_at=datetime(2026, 11, 25, 7, 0, 5, tzinfo=UTC),
    )
)
