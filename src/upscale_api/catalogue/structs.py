"""The public catalogue as the app sees it: action types with their factors and sources."""

from __future__ import annotations

from typing import Literal

import msgspec

Category = Literal["mobility", "energy", "food", "consumption", "waste"]


class SourceOut(msgspec.Struct):
    title: str
    publisher: str
    edition: str
    url: str
    licence: str


class FactorOut(msgspec.Struct):
    """An emission factor version: kg CO2e per one unit of ``per``."""

    code: str
    version: int
    title: str
    value: float
    per: str
    baseline: str
    method: str
    uncertainty_low: float
    uncertainty_high: float
    sources: list[SourceOut]


class ActionTypeOut(msgspec.Struct):
    code: str
    category: Category
    unit: str
    title: str
    description: str
    min_quantity: float
    max_quantity: float
    max_per_day: float
    step: float
    saving_per_unit_kg: float
    """kg CO2e avoided per unit: baseline factor minus option factor."""
    baseline_factor: FactorOut
    option_factor: FactorOut | None


class DistrictOut(msgspec.Struct):
    code: str
    name: str


class ClimateTargetOut(msgspec.Struct):
    baseline_year: int
    target_year: int
    reduction_t_co2e: float


class CityOut(msgspec.Struct):
    code: str
    name: str
    country: str
    time_zone: str
    languages: list[str]
    districts: list[DistrictOut]
    climate_target: ClimateTargetOut | None
