"""What residents read of the scoring jobs' results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]

Scope = Literal["individual", "team", "district", "city"]
SCOPES: tuple[Scope, ...] = ("individual", "team", "district", "city")
Count = Annotated[int, Meta(ge=0)]


class LeaderboardEntry(msgspec.Struct):
    """One ranked participant, team, district or city."""

    rank: Annotated[
        int, Meta(ge=1, description="Equal scores share a rank (1, 2, 2, 4); entries of equal rank keep a fixed order")
    ]
    name: Annotated[
        str | None,
        Meta(description="The resident's display name (null if they set none), or the team's, district's or city's"),
    ]
    score: Annotated[
        float,
        Meta(
            description="What is ranked: points for individuals; for teams, districts and cities the campaign's "
            "ranking measure (points per member unless it declares points, kg CO2e, a quantity or participation)"
        ),
    ]
    points: Annotated[float, Meta(description="Campaign points in all")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided in the campaign")]
    members: Annotated[Count, Meta(description="Participants it counts (1 for an individual)")]
    active_members: Annotated[Count, Meta(description="Members with at least one counted action")]
    participation: Annotated[float, Meta(ge=0, le=1, description="Share of members with at least one counted action")]
    you: Annotated[bool, Meta(description="This is you, or your team, district or city")]


class LeaderboardOut(msgspec.Struct):
    """A campaign's standings in one scope: the top entries and your own."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    scope: Annotated[Scope, Meta(description="Who is ranked")]
    computed_at: Annotated[
        Moment | None, Meta(description="When these standings were computed (null yet: an empty board)")
    ]
    final: Annotated[bool, Meta(description="The campaign has ended and these are its final standings")]
    entries_in_all: Annotated[Count, Meta(description="How many entries the standings rank")]
    top: Annotated[list[LeaderboardEntry], Meta(description="The first `limit` entries, best first")]
    own: Annotated[
        LeaderboardEntry | None,
        Meta(description="Your entry with its rank, also when outside the top; null when you do not take part"),
    ]


example(
    LeaderboardOut(
        campaign="mobility-contest-2027",
        scope="team",
        computed_at=datetime(2027, 3, 2, 7, 15, 30, tzinfo=UTC),
        final=False,
        entries_in_all=12,
        top=[LeaderboardEntry(1, "OŠ Orehek", 412.5, 8250, 96.1, 20, 17, 0.85, False)],
        own=LeaderboardEntry(4, "OŠ Stražišče", 298.0, 5960, 70.4, 20, 14, 0.7, True),
    )
)
