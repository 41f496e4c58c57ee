"""What residents read of the scoring jobs' results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

Scope = Literal["individual", "team", "district", "city"]
SCOPES: tuple[Scope, ...] = ("individual", "team", "district", "city")


class LeaderboardEntry(msgspec.Struct):
    rank: int
    """Equal scores share a rank (1, 2, 2, 4); entries of equal rank keep a fixed order."""
    name: str | None
    """The resident's display name (none if they set none), or the team's, district's or city's name."""
    score: float
    """What is ranked: points for individuals, points per member for teams, districts and cities."""
    points: float
    co2e_kg: float
    members: int
    active_members: int
    participation: float
    """Share of members with at least one counted action."""
    you: bool
    """This is you, or your team, district or city."""


class LeaderboardOut(msgspec.Struct):
    campaign: str
    scope: Scope
    computed_at: datetime | None
    """When these standings were computed (none yet: an empty board)."""
    final: bool
    """The campaign has ended and these are its final standings."""
    entries_in_all: int
    top: list[LeaderboardEntry]
    own: LeaderboardEntry | None
    """Your entry with its rank, also when outside the top; none when you do not take part."""
