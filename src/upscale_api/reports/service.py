"""A city's impact report for its coordinators and operators.

Figures come from the scoring job's derived tables (``totals_daily`` for the
city, ``resident_days`` for participants), so they are as fresh as its last
run (``computed_at``) and leave held-out entries out. Months are the city's
local months; every month of the range is reported, zeros included.
"""

from __future__ import annotations

import csv
import io
import re
import typing
import zoneinfo
from datetime import date, datetime

import msgspec

from upscale_api.catalogue.service import City, Snapshot
from upscale_api.catalogue.structs import Category, ClimateTargetOut
from upscale_api.db import Pool
from upscale_api.errors import Problem
from upscale_api.reports import queries
from upscale_api.reports.structs import CityImpact, MonthImpact
from upscale_api.roles.service import managed_cities
from upscale_api.roles.structs import Grant

CATEGORIES: list[str] = list(typing.get_args(Category))
DEFAULT_MONTHS = 12
MAX_MONTHS = 120
"""The longest range: 10 years."""

_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")


def parse_month(field: str, value: str) -> date:
    """The first day of a ``YYYY-MM`` month; a 422 problem naming ``field`` otherwise."""
    match = _MONTH.fullmatch(value)
    if match is None or not 1 <= int(match["month"]) <= 12 or int(match["year"]) < 1:
        raise Problem.field(field, f"must be a month as YYYY-MM, not {value[:20]!r}")
    return date(int(match["year"]), int(match["month"]), 1)


def month_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The first days of the first and the last month: by default the 12 months ending with ``today``'s."""
    last = parse_month("to", end) if end is not None else today.replace(day=1)
    first = parse_month("from", start) if start is not None else _add_months(last, 1 - DEFAULT_MONTHS)
    if first > last:
        raise Problem.field("from", f"must not be after to ({last:%Y-%m})")
    months = _months_between(first, last) + 1
    if months > MAX_MONTHS:
        raise Problem.field(
            "from",
            f"the range may span at most {MAX_MONTHS} months (10 years); {first:%Y-%m} to {last:%Y-%m} spans {months}",
        )
    return first, last


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _add_months(month: date, count: int) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return date(year, index + 1, 1) if year >= 1 else date.min


async def city_impact(
    pool: Pool,
    snapshot: Snapshot,
    grants: list[Grant],
    code: str,
    start: str | None,
    end: str | None,
    now: datetime,
) -> CityImpact:
    """The report for a coordinator of the city (or an admin)."""
    city = snapshot.cities.get(code)
    if city is None:
        raise Problem.field("city", f"no city with code {code!r}", status=404, kind="not-found")
    cities = managed_cities(grants)
    if cities is not None and code not in cities:
        raise Problem(403, "forbidden", f"city: you do not coordinate {code}")
    return await report(pool, city, start, end, now)


async def report(pool: Pool, city: City, start: str | None, end: str | None, now: datetime) -> CityImpact:
    """The report of one city over ``start`` to ``end`` (``YYYY-MM``, both included)."""
    today = now.astimezone(zoneinfo.ZoneInfo(city.time_zone)).date()
    first, last = month_range(start, end, today)
    row = await pool.fetchrow(queries.CITY_IMPACT, city.id, first, last, CATEGORIES)
    assert row is not None
    target = msgspec.convert(city.climate_target, ClimateTargetOut) if city.climate_target else None
    share = row["co2e_kg"] / (target.reduction_t_co2e * 1000) if target and target.reduction_t_co2e > 0 else None
    return CityImpact(
        city=city.code,
        time_zone=city.time_zone,
        from_=f"{first:%Y-%m}",
        to=f"{last:%Y-%m}",
        co2e_kg=row["co2e_kg"],
        actions=row["actions"],
        participants=row["participants"],
        climate_target=target,
        target_share=share,
        computed_at=row["computed_at"],
        months=msgspec.convert(row["months"], list[MonthImpact]),
    )


def impact_csv(impact: CityImpact) -> str:
    """A row per month: totals, then kg CO2e and actions per category."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    categories = [c.category for c in impact.months[0].by_category] if impact.months else []
    writer.writerow(
        [
            "month",
            "co2e_kg",
            "actions",
            "participants",
            *(f"{c}_{k}" for c in categories for k in ("co2e_kg", "actions")),
        ]
    )
    for m in impact.months:
        by_category = [v for c in m.by_category for v in (c.co2e_kg, c.actions)]
        writer.writerow([m.month, m.co2e_kg, m.actions, m.participants, *by_category])
    return out.getvalue()
