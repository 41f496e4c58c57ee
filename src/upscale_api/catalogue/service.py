"""The reference data every request needs, kept in memory per process.

Cities, districts, action types and the emission factors in force change only
when the definition files are applied, which bumps ``definitions_revision``.
:meth:`Catalogue.current` re-reads everything when that revision moved, checking
it at most every ``recheck_seconds``, so the hot path runs no catalogue query.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from upscale_api.catalogue import queries
from upscale_api.catalogue.structs import ActionTypeOut, FactorOut
from upscale_api.db import Pool
from upscale_api.i18n import pick


@dataclass(frozen=True)
class District:
    id: int
    code: str
    name: dict[str, str]


@dataclass(frozen=True)
class City:
    id: int
    code: str
    country: str
    name: dict[str, str]
    time_zone: str
    languages: list[str]
    climate_target: dict[str, Any] | None
    districts: dict[str, District]
    """Active districts by code."""


@dataclass(frozen=True)
class ActionType:
    id: int
    code: str
    category: str
    unit: str
    min_quantity: float
    max_quantity: float
    max_per_day: float
    step: float
    title: dict[str, str]
    description: dict[str, str]
    baseline: FactorOut
    option: FactorOut | None
    baseline_factor_id: int
    option_factor_id: int | None
    city_ids: frozenset[int]

    @property
    def saving_per_unit_kg(self) -> float:
        """kg CO2e avoided per unit with the factors in force."""
        return self.baseline.value - (self.option.value if self.option else 0.0)

    def localized(self, language: str) -> ActionTypeOut:
        return ActionTypeOut(
            code=self.code,
            category=self.category,  # type: ignore[arg-type]
            unit=self.unit,
            title=pick(self.title, language),
            description=pick(self.description, language),
            min_quantity=self.min_quantity,
            max_quantity=self.max_quantity,
            max_per_day=self.max_per_day,
            step=self.step,
            saving_per_unit_kg=round(self.saving_per_unit_kg, 6),
            baseline_factor=self.baseline,
            option_factor=self.option,
        )


@dataclass(frozen=True)
class Snapshot:
    revision: int
    cities: dict[str, City] = field(default_factory=dict)
    action_types: dict[str, ActionType] = field(default_factory=dict)
    rendered: dict[str, bytes] = field(default_factory=dict, compare=False)
    """Answers encoded once from this revision (by route and language), filled by the routes: a
    snapshot never changes, so neither do they."""

    def offered_in(self, city: City) -> list[ActionType]:
        return [t for t in self.action_types.values() if city.id in t.city_ids]


class Catalogue:
    def __init__(self, pool: Pool, recheck_seconds: float = 5.0) -> None:
        self._pool = pool
        self._recheck_seconds = recheck_seconds
        self._snapshot = Snapshot(revision=-1)
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> Snapshot:
        if time.monotonic() - self._checked_at < self._recheck_seconds:
            return self._snapshot
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._recheck_seconds:
                revision = await self._pool.fetchval(queries.REVISION)
                if revision != self._snapshot.revision:
                    self._snapshot = await _load(self._pool, revision)
                self._checked_at = time.monotonic()
        return self._snapshot

    async def reload(self) -> Snapshot:
        """Read again now (after applying definitions in this process)."""
        self._checked_at = 0.0
        return await self.current()


async def _load(pool: Pool, revision: int) -> Snapshot:
    async with pool.acquire() as conn:
        city_rows = await conn.fetch(queries.CITIES)
        type_rows = await conn.fetch(queries.ACTION_TYPES_IN_FORCE)
    cities = {
        r["code"]: City(
            id=r["id"],
            code=r["code"],
            country=r["country"],
            name=r["name"],
            time_zone=r["time_zone"],
            languages=list(r["languages"]),
            climate_target=r["climate_target"],
            districts={d["code"]: District(d["id"], d["code"], d["name"]) for d in r["districts"]},
        )
        for r in city_rows
    }
    action_types = {
        r["code"]: ActionType(
            id=r["id"],
            code=r["code"],
            category=r["category"],
            unit=r["unit"],
            min_quantity=r["min_quantity"],
            max_quantity=r["max_quantity"],
            max_per_day=r["max_per_day"],
            step=r["step"],
            title=r["title"],
            description=r["description"],
            baseline=_factor(r["baseline"]),
            option=_factor(r["option"]) if r["option"] else None,
            baseline_factor_id=r["baseline_factor_id"],
            option_factor_id=r["option_factor_id"],
            city_ids=frozenset(r["city_ids"]),
        )
        for r in type_rows
    }
    return Snapshot(revision=revision, cities=cities, action_types=action_types)


def _factor(row: dict[str, Any]) -> FactorOut:
    return msgspec.convert(row, FactorOut, strict=False)
