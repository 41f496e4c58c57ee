"""A resident's own impact: what their logged actions saved."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class CategoryImpact(msgspec.Struct):
    category: str
    co2e_kg: float
    actions: int


class WeekImpact(msgspec.Struct):
    week: str
    """ISO week in the resident's time zone, e.g. ``2026-W48``."""
    co2e_kg: float
    actions: int


class ImpactOut(msgspec.Struct):
    co2e_kg: float
    """Total kg CO2e avoided, with the factor versions in force."""
    actions: int
    active_days: int
    current_streak_days: int
    """Consecutive days with at least one action, ending today or yesterday (resident's time zone)."""
    longest_streak_days: int
    first_action_on: date | None
    last_action_on: date | None
    by_category: list[CategoryImpact]
    by_week: list[WeekImpact]
    """Newest week first."""
    held_co2e_kg: float
    """kg CO2e of days above a plausible limit, waiting for a coordinator's review (not in the totals)."""
    computed_at: datetime | None
    """When the scoring jobs last ran; actions logged since then are not in these figures yet."""
