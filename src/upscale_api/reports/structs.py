"""A city's impact report: kg CO2e avoided per month and category, participants, and the share of its target."""

from __future__ import annotations

from datetime import datetime

import msgspec

from upscale_api.catalogue.structs import Category, ClimateTargetOut


class CategoryMonth(msgspec.Struct):
    category: Category
    co2e_kg: float
    """kg CO2e avoided by the category's actions in the month."""
    actions: int


class MonthImpact(msgspec.Struct):
    month: str
    """``YYYY-MM``, in the city's time zone."""
    co2e_kg: float
    actions: int
    participants: int
    """Distinct residents with counted actions in the month."""
    by_category: list[CategoryMonth]
    """Every category, in a fixed order (mobility, energy, food, consumption, waste); zeros included."""


class CityImpact(msgspec.Struct, kw_only=True):
    city: str
    time_zone: str
    from_: str = msgspec.field(name="from")
    """First month of the range, ``YYYY-MM``."""
    to: str
    """Last month of the range, ``YYYY-MM`` (included)."""
    co2e_kg: float
    """kg CO2e avoided over the range."""
    actions: int
    participants: int
    """Distinct residents with counted actions over the range (each counted once)."""
    climate_target: ClimateTargetOut | None
    """The city's declared reduction target; null when it declares none."""
    target_share: float | None
    """co2e_kg / (reduction_t_co2e × 1000): the share of the declared target avoided over the range."""
    computed_at: datetime | None
    """When the scoring job last computed the figures; null before its first run."""
    months: list[MonthImpact]
    """Every month of the range, oldest first; months without actions have zeros."""
