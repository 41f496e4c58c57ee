"""Country-scale data for the scoring benchmark: every municipality of a country on one deployment.

    python3 run.py bench bench/country.py [--scale full|small] [--residents N] [--actions N]
                                          [--campaigns N] [--database NAME] [--seed N] [--verify]

Defaults (``--scale full``): 1,000,000 residents, 10,000,000 actions, 200
campaigns, database ``upscale_country``; ``--scale small`` is 20,000 residents,
200,000 actions and 20 campaigns. Explicit ``--residents``, ``--actions`` and
``--campaigns`` override the scale.

The database is dropped and created again on the embedded PostgreSQL in
``.upscale/`` (or on the server of ``DATABASE_URL``), migrated with
``upscale_api.migrations.migrate`` and loaded with the real definition files
under ``campaigns/`` (the catalogue, the three pilot cities and their
campaigns). Then, each stage one or two set-based statements run inside
PostgreSQL (``INSERT ... SELECT`` over ``generate_series``; no Python loop of
inserts), with its elapsed time printed:

``cities``
    Synthetic municipalities up to 212 cities in all (Slovenia has 212), with
    districts, time zone Europe/Ljubljana, every action type offered.
``residents``
    Spread over the cities by a Zipf law (the k-th largest city gets 1/k of
    the weight; Ljubljana, Kranj and Velenje rank 1, 3 and 7) and over each
    city's districts (skewed; 10% without a district).
``campaigns``
    ``--campaigns`` campaigns stored through ``upscale_api.campaigns.store.apply_campaigns``
    (so ``campaigns.definition`` is ``msgspec.to_builtins`` of a valid
    :class:`~upscale_api.campaigns.structs.Campaign`, checked with ``check_campaign``):
    one national campaign across every city, active today, with teams started
    by residents; the others over the year (some ended, some active, some to
    come), each in one city or competing cities, with points per unit and some
    daily point caps, teams, a baseline question, a challenge of every rule
    kind, a badge of every kind and a nudge.
``enrolments``
    Every resident in the national campaign (half of them in a team of their
    city); a few thousand residents of their cities in each other campaign
    (scaled with ``--residents``), some enrolled late, some who left.
``actions``
    ``--actions`` action logs over the 365 days before today, in two sessions
    at once. Residents log with a heavy-tailed activity (30% never; Pareto with
    alpha 1.5 for the rest) and habits (one of 256 profiles of six action
    types, mobility most common). Each resident's actions take distinct
    (day, habit) slots, and a type that appears twice in a profile gets at most
    half its ``max_per_day`` per entry, so no day total exceeds ``max_per_day``.
    Quantities lie between the type's ``min_quantity`` and ``max_quantity`` on
    its step, skewed small, and keep a day under ``plausible_per_day`` except
    for 0.2% of actions that take the most ``max_per_day`` allows (such days
    are held for review where that is over the plausible limit); ``performed_at`` is 07:00-21:00 local time on
    ``local_date`` (Europe/Ljubljana); ``recorded_at`` follows within minutes
    (15%: hours to days later, offline); 1% are soft-deleted; ``co2e_kg`` =
    quantity x (baseline factor - option factor), the versions in force, with
    their ids. Rows are written in ``recorded_at`` order, as the app appends them.
``indexes``, ``vacuum``
    The tables written in bulk lose their indexes and foreign keys during the
    load and get them back afterwards (the same definitions, read from the
    catalogue; foreign keys are validated again); then ``VACUUM (ANALYZE)``.

Everything is derived from ``--seed`` and today's date (hashes, not a random
stream), so the same seed on the same day gives the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import sys
import time
import warnings
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from procstats import admin_url, run_loop
from upscale_api import db, migrations
from upscale_api.campaigns.checks import check_campaign
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.campaigns.structs import Campaign
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "upscale_country"
CITY_COUNT = 212
ZONE = "Europe/Ljubljana"
PILOT_RANKS = {"ljubljana": 1, "kranj": 3, "velenje": 7}
"""Population ranks of the pilot cities among Slovenia's municipalities (roughly)."""
UID_PREFIX = "country-"
NATIONAL_CODE = "national-climate-year"
DAYS = 365
HABITS = 6
"""Entries per habit profile; a resident's actions take distinct (day, entry) slots."""
PROFILES = 256
INACTIVE_SHARE = 0.30
PARETO_ALPHA = 1.5
MAX_WEIGHT = 60.0
DELETED_SHARE = 0.01
OUTLIER_SHARE = 0.002
"""Actions with the highest quantity the daily limit allows: where that is over the type's plausible_per_day, the
day is held for review."""
RESIDENTS_PER_NATIONAL_TEAM = 400
TYPE_WEIGHTS = {
    "cycle-instead-of-car": 10.0,
    "walk-instead-of-car": 10.0,
    "e-bike-instead-of-car": 3.0,
    "bus-instead-of-car": 8.0,
    "train-instead-of-car": 3.0,
    "carpool-instead-of-driving-alone": 4.0,
    "thermostat-down-1c": 2.0,
    "shorter-shower": 4.0,
    "line-dry-laundry": 3.0,
    "led-bulb-replaced": 0.5,
    "vegetarian-instead-of-chicken": 5.0,
    "vegan-instead-of-chicken": 2.0,
    "plant-based-instead-of-beef": 3.0,
    "repair-clothing-item": 0.5,
    "food-saved-from-bin": 3.0,
}
"""How often each action type is logged, relatively; types not listed weigh 1."""


@dataclass(frozen=True)
class Scale:
    residents: int
    actions: int
    campaigns: int


SCALES = {
    "full": Scale(1_000_000, 10_000_000, 200),
    "small": Scale(20_000, 200_000, 20),
}


@dataclass
class Generated:
    """What :func:`generate` made, and how long each stage took."""

    database: str
    url: str
    residents: int
    actions: int
    campaigns: int
    national_campaign_id: int
    national_participants: int
    stages: list[tuple[str, float]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.stages)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def uniform(expr: str, salt: int) -> str:
    """SQL for a number in [0, 1) from a 64-bit hash of the bigint ``expr`` and ``salt``: stateless, deterministic."""
    return f"((hashint8extended(({expr})::bigint, {salt}) & 9007199254740991)::float8 / 9007199254740992.0)"


class Stages:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.times: list[tuple[str, float]] = []
        self.out = out

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.out(f"{name} ...")
        t0 = time.perf_counter()
        yield
        elapsed = time.perf_counter() - t0
        self.times.append((name, elapsed))
        self.out(f"{name}: {elapsed:.1f} s")


# --- Catalogue ------------------------------------------------------------------


@dataclass(frozen=True)
class Type:
    id: int
    code: str
    category: str
    unit: str
    min_quantity: float
    max_quantity: float
    max_per_day: float
    step: float
    baseline_id: int
    option_id: int | None
    saving: float
    plausible_per_day: float | None

    @property
    def usual_per_day(self) -> float:
        """The most a day usually holds: ``max_per_day``, or less where larger totals are held for review."""
        return min(self.max_per_day, self.plausible_per_day or self.max_per_day)


async def catalogue(conn: db.Connection) -> list[Type]:
    rows = await conn.fetch(
        """
        SELECT t.id, t.code, t.category, t.unit, t.min_quantity, t.max_quantity, t.max_per_day, t.step,
               b.id AS baseline_id, o.id AS option_id, b.value - coalesce(o.value, 0) AS saving,
               t.plausible_per_day
        FROM action_types t
        JOIN emission_factors_in_force b ON b.code = t.baseline_factor
        LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
        WHERE t.active
        ORDER BY t.id
        """
    )
    return [Type(**dict(r)) for r in rows]


def on_step(value: float, t: Type) -> float:
    """``value`` rounded down to the type's step grid (from ``min_quantity``)."""
    steps = math.floor((value - t.min_quantity) / t.step + 1e-9)
    return round(t.min_quantity + steps * t.step, 6)


def habit_profiles(rng: random.Random, types: list[Type]) -> list[tuple[Any, ...]]:
    """``PROFILES`` x ``HABITS`` rows: (profile, entry, type id, smallest quantity, usual and highest quantity per
    entry, step, factor ids, saving per unit). A type may take two entries (out and back) when half its usual
    daily total still fits its smallest quantity; each entry then gets half of it. The usual quantity keeps a
    day under ``plausible_per_day``; the highest (an outlier, held for review) under ``max_per_day``."""
    weights = [TYPE_WEIGHTS.get(t.code, 1.0) for t in types]
    rows = []
    for profile in range(PROFILES):
        entries: list[Type] = []
        while len(entries) < HABITS:
            t = rng.choices(types, weights)[0]
            if entries.count(t) < 2 and (entries.count(t) == 0 or t.usual_per_day / 2 >= t.min_quantity):
                entries.append(t)
        for h, t in enumerate(entries):
            share = entries.count(t)
            usual = on_step(min(t.max_quantity, t.usual_per_day / share), t)
            highest = on_step(min(t.max_quantity, t.max_per_day / share), t)
            rows.append(
                (profile, h, t.id, t.min_quantity, usual, highest, t.step, t.baseline_id, t.option_id, t.saving),
            )
    return rows


def strides() -> list[int]:
    """Primes that do not divide DAYS x HABITS: j -> (offset + j x stride) mod (DAYS x HABITS) is then one-to-one."""
    slots = DAYS * HABITS
    primes = [p for p in range(101, 1000) if all(p % d for d in range(2, int(p**0.5) + 1))]
    return [p for p in primes if slots % p]


# --- Cities ---------------------------------------------------------------------


@dataclass
class CityPlan:
    id: int
    code: str
    rank: int
    residents: int = 0
    first_id: int = 0
    national_teams: int = 0


def apportion(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, by largest remainder (sums exactly)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


async def add_cities(conn: db.Connection, residents: int) -> list[CityPlan]:
    existing = {r["code"]: r["id"] for r in await conn.fetch("SELECT id, code FROM cities ORDER BY id")}
    free_ranks = iter(r for r in range(1, CITY_COUNT + 1) if r not in PILOT_RANKS.values())
    ranks = {code: PILOT_RANKS.get(code) or next(free_ranks) for code in existing}
    synthetic = [(rank, f"obcina-{rank:03d}") for rank in free_ranks]
    shares = {rank: (1 / rank) / sum(1 / k for k in range(1, CITY_COUNT + 1)) for rank in range(1, CITY_COUNT + 1)}
    await conn.execute(
        """
        INSERT INTO cities (code, country, name, time_zone, languages)
        SELECT x.code, 'SI', jsonb_build_object('sl', 'Občina ' || x.n, 'en', 'Municipality ' || x.n), $3,
               ARRAY['sl', 'en']
        FROM unnest($1::text[], $2::text[]) AS x(code, n)
        """,
        [code for _, code in synthetic],
        [f"{rank:03d}" for rank, _ in synthetic],
        ZONE,
    )
    await conn.execute(
        """
        INSERT INTO districts (city_id, code, name)
        SELECT c.id, 'd' || lpad(g::text, 2, '0'), jsonb_build_object('sl', 'Četrt ' || g, 'en', 'District ' || g)
        FROM unnest($1::text[], $2::int[]) AS x(code, n)
        JOIN cities c ON c.code = x.code
        CROSS JOIN LATERAL generate_series(1, x.n) AS g
        """,
        [code for _, code in synthetic],
        [min(30, max(2, round(2 + 40 * shares[rank] ** 0.5))) for rank, _ in synthetic],
    )
    await conn.execute(
        """
        INSERT INTO city_action_types (city_id, action_type_id)
        SELECT c.id, t.id FROM cities c CROSS JOIN action_types t
        WHERE c.code = ANY($1::text[]) AND t.active
        ON CONFLICT DO NOTHING
        """,
        [code for _, code in synthetic],
    )
    await conn.execute("UPDATE definitions_revision SET revision = revision + 1, applied_at = now()")
    ids = {r["code"]: r["id"] for r in await conn.fetch("SELECT id, code FROM cities")}
    plans = sorted(
        [CityPlan(ids[code], code, ranks[code]) for code in existing]
        + [CityPlan(ids[code], code, rank) for rank, code in synthetic],
        key=lambda c: c.rank,
    )
    for plan, count in zip(plans, apportion(residents, [1 / c.rank for c in plans]), strict=True):
        plan.residents = count
        plan.national_teams = max(1, count // RESIDENTS_PER_NATIONAL_TEAM)
    return plans


async def add_residents(conn: db.Connection, cities: list[CityPlan], seed: int, window_start: datetime) -> int:
    """Residents with ids in one block per city (largest city first); returns the first id."""
    first = int(await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM residents"))
    next_id = first
    for c in cities:
        c.first_id = next_id
        next_id += c.residents
    s = seed * 1000
    await conn.execute(
        f"""
        INSERT INTO residents
            (id, firebase_uid, city_id, district_id, display_name, locale, time_zone, created_at, updated_at)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, '{UID_PREFIX}' || r.id, x.city_id,
               CASE WHEN {uniform("r.id", s + 1)} < 0.9
                    THEN d.ids[1 + floor(power({uniform("r.id", s + 2)}, 1.5) * cardinality(d.ids))::int] END,
               CASE WHEN {uniform("r.id", s + 3)} < 0.4 THEN 'Prebivalec ' || r.id END,
               CASE WHEN {uniform("r.id", s + 4)} < 0.85 THEN 'sl' ELSE 'en' END,
               $4, t.created, t.created
        FROM unnest($1::int[], $2::bigint[], $3::int[]) AS x(city_id, first_id, n)
        LEFT JOIN (SELECT city_id, array_agg(id ORDER BY id) AS ids FROM districts WHERE active GROUP BY city_id) d
               ON d.city_id = x.city_id
        CROSS JOIN LATERAL generate_series(x.first_id, x.first_id + x.n - 1) AS r(id)
        CROSS JOIN LATERAL (SELECT $5::timestamptz - interval '1 day' * (30 + 700 * {uniform("r.id", s + 5)})
                            AS created) t
        """,
        [c.id for c in cities],
        [c.first_id for c in cities],
        [c.residents for c in cities],
        ZONE,
        window_start,
    )
    await conn.execute("SELECT setval(pg_get_serial_sequence('residents', 'id'), (SELECT max(id) FROM residents))")
    return first


# --- Campaigns ------------------------------------------------------------------


@dataclass(frozen=True)
class Theme:
    categories: list[str]
    unit: str
    """The catalogue unit of the personal goal's action types."""
    question: dict[str, Any]
    title: dict[str, str]


THEMES = {
    "mobility": Theme(
        ["mobility"],
        "km",
        {
            "code": "car_km_per_week",
            "text": {"sl": "Koliko km na teden prevozite z avtom?", "en": "How many km a week do you drive?"},
            "unit": "km",
            "min": 0,
            "max": 1500,
        },
        {"sl": "Trajnostna mobilnost", "en": "Sustainable mobility"},
    ),
    "energy": Theme(
        ["energy"],
        "minute",
        {
            "code": "shower_minutes_per_week",
            "text": {"sl": "Koliko minut na teden se prhate?", "en": "How many minutes a week do you shower?"},
            "unit": "min",
            "min": 0,
            "max": 300,
        },
        {"sl": "Varčno z energijo", "en": "Saving energy"},
    ),
    "food": Theme(
        ["food"],
        "meal",
        {
            "code": "meat_meals_per_week",
            "text": {"sl": "Koliko mesnih obrokov na teden?", "en": "How many meat meals a week?"},
            "unit": "meals",
            "min": 0,
            "max": 21,
        },
        {"sl": "Podnebju prijazna prehrana", "en": "Climate-friendly food"},
    ),
    "circular": Theme(
        ["consumption", "waste"],
        "item",
        {
            "code": "new_clothes_per_month",
            "text": {"sl": "Koliko novih oblačil na mesec kupite?", "en": "How many new clothes do you buy a month?"},
            "unit": "items",
            "min": 0,
            "max": 30,
        },
        {"sl": "Manj odpadkov", "en": "Less waste"},
    ),
}
THEME_WEIGHTS = {"mobility": 5, "energy": 2, "food": 1.5, "circular": 1.5}
TEXT = {"sl": "Sintetična kampanja za meritve.", "en": "A synthetic campaign for benchmarks."}


@dataclass
class CampaignPlan:
    campaign: Campaign
    national: bool
    enrol_target: int
    team_share: float
    theme: Theme
    id: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def _texts(sl: str, en: str) -> dict[str, str]:
    return {"sl": sl, "en": en}


def _campaign(
    rng: random.Random,
    code: str,
    cities: list[str],
    theme: Theme,
    types: list[Type],
    starts_on: date,
    ends_on: date,
    *,
    status: str,
    enrolment: str,
    teams: list[dict[str, Any]],
    residents_create_teams: bool,
    title: dict[str, str],
) -> Campaign:
    counted = [t for t in types if t.category in theme.categories]
    actions = []
    for t in counted:
        per_unit = round(rng.choice([1, 2, 3, 5, 8, 10, 20]) / (10 if t.unit == "km" else 1), 2)
        action: dict[str, Any] = {"type": t.code, "points_per_unit": per_unit}
        if rng.random() < 0.5:
            action["max_points_per_day"] = round(per_unit * t.max_per_day * rng.uniform(0.2, 0.6), 1)
        actions.append(action)
    personal_types = [t.code for t in counted if t.unit == theme.unit]
    main = max(counted, key=lambda t: TYPE_WEIGHTS.get(t.code, 1.0))
    days = (ends_on - starts_on).days + 1
    if rng.random() < 0.5:
        quantity_rule: dict[str, Any] = {
            "kind": "quantity",
            "action_types": [main.code],
            "target": on_step(max(main.min_quantity * 5, main.max_quantity * rng.uniform(0.5, 1.5)), main),
            "measure": "quantity",
            "window": rng.choice(["day", "week", "campaign"]),
        }
    else:
        quantity_rule = {
            "kind": "quantity",
            "categories": theme.categories,
            "target": rng.choice([5, 10, 20, 50]),
            "measure": "co2e_kg",
            "window": "campaign",
        }
    challenges = [
        {"code": "quantity", "rule": quantity_rule},
        {
            "code": "days",
            "rule": {"kind": "distinct_days", "categories": theme.categories, "days": min(days, rng.randint(5, 20))},
        },
        {
            "code": "team",
            "rule": {
                "kind": "team_participation",
                "share": rng.choice([0.3, 0.4, 0.5, 0.6]),
                "member_rule": {"kind": "distinct_days", "categories": theme.categories, "days": rng.randint(3, 10)},
            },
        },
        {
            "code": "together",
            "rule": {
                "kind": "collective",
                "categories": theme.categories,
                "target": rng.choice([500, 1000, 2000, 5000, 10000]),
                "measure": "co2e_kg",
                "scope": "city" if len(cities) > 1 else "campaign",
            },
        },
    ]
    if personal_types:
        challenges.append(
            {
                "code": "personal",
                "rule": {
                    "kind": "personal",
                    "question": theme.question["code"],
                    "share": rng.choice([0.1, 0.2, 0.3]),
                    "window": "week",
                    "action_types": personal_types,
                },
            }
        )
    for c in challenges:
        c |= {"title": _texts(f"Izziv {c['code']}", f"Challenge {c['code']}"), "description": TEXT}
    badges = [
        {"code": "first", "rule": {"kind": "first_action"}},
        {"code": "streak", "rule": {"kind": "streak", "days": rng.randint(3, 7)}},
        {"code": "days-met", "rule": {"kind": "challenge_met", "challenge": "days"}},
        {"code": "actions", "rule": {"kind": "actions_count", "actions": rng.choice([10, 20, 50])}},
    ]
    for b in badges:
        b |= {"title": _texts(f"Značka {b['code']}", f"Badge {b['code']}"), "description": TEXT}
    definition = {
        "code": code,
        "cities": cities,
        "title": title,
        "description": TEXT,
        "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(),
        "status": status,
        "enrolment": enrolment,
        "residents_create_teams": residents_create_teams,
        "action": actions,
        "team": teams,
        "question": [theme.question],
        "challenge": challenges,
        "badge": badges,
        "nudge": [
            {
                "code": "weekly",
                "schedule": {"time": "18:00", "weekday": "sunday"},
                "audience": "inactive_this_week",
                "title": _texts("Ta teden", "This week"),
                "body": _texts("Ste ta teden že kaj vpisali?", "Have you logged anything this week?"),
            }
        ],
    }
    if enrolment == "invite":
        definition["invite_code"] = f"INV-{code.upper()}"[:32]
    return msgspec.convert(definition, Campaign)


def plan_campaigns(
    rng: random.Random, count: int, cities: list[CityPlan], types: list[Type], today: date, scale: float
) -> list[CampaignPlan]:
    """One national campaign across every city, active today, and ``count - 1`` others over the year."""
    window_start = today - timedelta(days=DAYS)
    national_theme = Theme(
        sorted({t.category for t in types}),
        "km",
        THEMES["mobility"].question,
        {"sl": "Podnebno leto Slovenije", "en": "Slovenia's climate year"},
    )
    plans = [
        CampaignPlan(
            _campaign(
                rng,
                NATIONAL_CODE,
                [c.code for c in sorted(cities, key=lambda c: c.code != "ljubljana")],
                national_theme,
                types,
                today - timedelta(days=120),
                today + timedelta(days=60),
                status="scheduled",
                enrolment="open",
                teams=[],
                residents_create_teams=True,
                title=national_theme.title,
            ),
            national=True,
            enrol_target=sum(c.residents for c in cities),
            team_share=0.5,
            theme=national_theme,
        )
    ]
    weights = [c.residents**0.7 * (3 if c.code in PILOT_RANKS else 1) for c in cities]
    themes = list(THEMES)
    for i in range(1, count):
        owner = rng.choices(cities, weights)[0]
        chosen = [owner]
        if rng.random() < 0.25:
            while len(chosen) < 1 + rng.randint(1, 3):
                other = rng.choices(cities, weights)[0]
                if other not in chosen:
                    chosen.append(other)
        theme = THEMES[rng.choices(themes, [THEME_WEIGHTS[t] for t in themes])[0]]
        starts_on = window_start + timedelta(days=rng.randint(0, DAYS + 30))
        ends_on = starts_on + timedelta(days=rng.randint(14, 90))
        enrolment = rng.choices(["open", "team", "invite"], [0.6, 0.3, 0.1])[0]
        teams = []
        for city in chosen:
            for n in range(rng.randint(2, 6) if len(chosen) > 1 else rng.randint(3, 15)):
                team: dict[str, Any] = {
                    "code": f"{city.code}-{n + 1:02d}",
                    "kind": rng.choice(["school", "kindergarten", "workplace", "association", "district", "other"]),
                    "name": f"Ekipa {n + 1} ({city.code})",
                }
                if len(chosen) > 1:
                    team["city"] = city.code
                teams.append(team)
        status = rng.choices(["scheduled", "archived", "draft"], [0.92, 0.05, 0.03])[0]
        code = f"campaign-{i:03d}-{chosen[0].code}"
        campaign = _campaign(
            rng,
            code,
            [c.code for c in chosen],
            theme,
            types,
            starts_on,
            ends_on,
            status=status,
            enrolment=enrolment,
            teams=teams,
            residents_create_teams=False,
            title={k: f"{v} {i:03d}" for k, v in theme.title.items()},
        )
        population = sum(c.residents for c in chosen)
        target = min(round(rng.randint(1_000, 5_000) * scale), population // 2)
        share = {"open": 0.4, "team": 1.0, "invite": 0.3}[enrolment]
        plans.append(CampaignPlan(campaign, False, max(target, 1), share, theme))
    return plans


async def add_campaigns(
    conn: db.Connection, plans: list[CampaignPlan], cities: list[CityPlan], today: date, seed: int
) -> None:
    known = {c.code for c in cities}
    units = {r["code"]: r["unit"] for r in await conn.fetch("SELECT code, unit FROM action_types")}
    for p in plans:
        problems = check_campaign(p.campaign, known, units)
        if problems:
            raise RuntimeError(f"generated campaign {p.campaign.code} is not valid: {problems}")
    counts, problems_ = await apply_campaigns(
        conn, [p.campaign for p in plans], {c.code: ZONE for c in cities}, "api", today
    )
    if problems_:
        raise RuntimeError(f"apply_campaigns refused the generated campaigns: {problems_}")
    rows = await conn.fetch(
        "SELECT id, code, starts_at, ends_at FROM campaigns WHERE code = ANY($1::text[])",
        [p.campaign.code for p in plans],
    )
    by_code = {r["code"]: r for r in rows}
    for p in plans:
        row = by_code[p.campaign.code]
        p.id, p.starts_at, p.ends_at = row["id"], row["starts_at"], row["ends_at"]
    national = plans[0]
    # Teams the national campaign's residents started (not in the definition): one per 400 residents of a city.
    await conn.execute(
        f"""
        INSERT INTO teams (campaign_id, city_id, code, kind, name, created_by)
        SELECT $1, x.city_id, 'c' || x.city_id || '-' || (g + 1),
               (ARRAY['school', 'workplace', 'association', 'district', 'other'])
                   [1 + floor(5 * {uniform("x.first_id + g", seed * 1000 + 20)})::int],
               'Ekipa ' || (g + 1), x.first_id + g
        FROM unnest($2::int[], $3::bigint[], $4::int[]) AS x(city_id, first_id, n)
        CROSS JOIN LATERAL generate_series(0, x.n - 1) AS g
        """,
        national.id,
        [c.id for c in cities],
        [c.first_id for c in cities],
        [c.national_teams for c in cities],
    )
    await conn.execute("UPDATE teams SET invite_code = upper(substr(md5($1 || '/' || id), 1, 10))", str(seed))
    log(
        f"  {len(plans)} campaigns ({counts.teams_changed} teams in definitions, "
        f"{sum(c.national_teams for c in cities)} started by residents of the national campaign, "
        f"{counts.challenges_changed} challenges, {counts.badges_changed} badges)"
    )


async def add_enrolments(
    conn: db.Connection, plans: list[CampaignPlan], cities: list[CityPlan], seed: int, now: datetime
) -> int:
    await conn.execute(
        """
        CREATE UNLOGGED TABLE _country_cities AS
        SELECT * FROM unnest($1::int[], $2::bigint[], $3::int[]) AS x(city_id, first_id, residents)
        """,
        [c.id for c in cities],
        [c.first_id for c in cities],
        [c.residents for c in cities],
    )
    population = {c.code: c.residents for c in cities}
    await conn.execute(
        """
        CREATE UNLOGGED TABLE _country_campaigns AS
        SELECT * FROM unnest($1::int[], $2::bool[], $3::float8[], $4::float8[], $5::text[], $6::float8[],
                             $7::float8[], $8::timestamptz[], $9::timestamptz[])
            AS x(campaign_id, national, rate, team_share, question, q_min, q_max, starts_at, ends_at)
        """,
        [p.id for p in plans],
        [p.national for p in plans],
        [min(1.0, p.enrol_target / sum(population[c] for c in p.campaign.cities)) for p in plans],
        [p.team_share for p in plans],
        [p.campaign.question[0].code for p in plans],
        [p.campaign.question[0].min for p in plans],
        [p.campaign.question[0].max for p in plans],
        [p.starts_at for p in plans],
        [p.ends_at for p in plans],
    )
    await conn.execute(
        """
        CREATE UNLOGGED TABLE _country_teams AS
        SELECT t.campaign_id, t.city_id, array_agg(t.id ORDER BY t.id) AS ids
        FROM teams t JOIN _country_campaigns k USING (campaign_id)
        GROUP BY 1, 2
        """
    )
    s = seed * 1000 + 100
    x = "(r.id * 4096 + k.campaign_id)"
    status = await conn.execute(
        f"""
        INSERT INTO enrolments (campaign_id, resident_id, city_id, team_id, baseline, enrolled_at, left_at)
        SELECT k.campaign_id, r.id, r.city_id,
               CASE WHEN k.national AND r.id - c.first_id < cardinality(t.ids)
                    THEN t.ids[1 + (r.id - c.first_id)::int]
                    WHEN {uniform(x, s + 1)} < k.team_share
                    THEN t.ids[1 + floor({uniform(x, s + 2)} * cardinality(t.ids))::int] END,
               jsonb_build_object(k.question, round(k.q_min + (k.q_max - k.q_min) * power({uniform(x, s + 3)}, 3))),
               e.at,
               CASE WHEN {uniform(x, s + 4)} < CASE WHEN k.national THEN 0.01 ELSE 0.03 END
                    THEN e.at + (greatest(least(k.ends_at, $1), e.at) - e.at) * {uniform(x, s + 5)} END
        FROM _country_campaigns k
        JOIN campaign_cities cc ON cc.campaign_id = k.campaign_id
        JOIN _country_cities c ON c.city_id = cc.city_id
        JOIN residents r ON r.city_id = cc.city_id AND r.id BETWEEN c.first_id AND c.first_id + c.residents - 1
        LEFT JOIN _country_teams t ON t.campaign_id = k.campaign_id AND t.city_id = r.city_id
        CROSS JOIN LATERAL (
            SELECT least($1::timestamptz - interval '1 minute' * (1 + 600 * {uniform(x, s + 6)}),
                          CASE WHEN {uniform(x, s + 7)} < 0.7
                               THEN k.starts_at - interval '21 days' * {uniform(x, s + 8)}
                               ELSE k.starts_at + (k.ends_at - k.starts_at) * 0.5 * {uniform(x, s + 8)} END) AS at
        ) e
        WHERE k.national OR {uniform(x, s)} < k.rate
        """,
        now,
    )
    return db.rows_affected(status)


# --- Actions --------------------------------------------------------------------


async def plan_actions(
    conn: db.Connection, first_resident: int, actions: int, types: list[Type], seed: int
) -> tuple[int, int]:
    """The per-resident plan: how many actions, which habit profile, where its slots start and their stride.

    Returns (residents with actions, the most actions of one resident)."""
    rng = random.Random(seed * 7 + 1)
    await conn.execute(
        """
        CREATE UNLOGGED TABLE _country_habits (
            profile int, h int, action_type_id int, q_min float8, q_cap float8, q_high float8, step float8,
            baseline_id int, option_id int, saving float8, PRIMARY KEY (profile, h))
        """
    )
    await conn.copy_records_to_table("_country_habits", records=habit_profiles(rng, types))
    s = seed * 1000 + 200
    await conn.execute(
        f"""
        CREATE UNLOGGED TABLE _country_plan AS
        WITH w AS (
            SELECT r.id AS resident_id, r.city_id,
                   CASE WHEN {uniform("r.id", s + 1)} < $2 THEN 0::numeric
                        ELSE round(least($3, power(1 - {uniform("r.id", s + 2)}, -1.0 / $4::float8))::numeric, 6)
                   END AS w
            FROM residents r WHERE r.id >= $1
        ), c AS (
            SELECT resident_id, city_id, w, sum(w) OVER (ORDER BY resident_id) AS cum, sum(w) OVER () AS total
            FROM w
        )
        SELECT resident_id, city_id,
               (floor($5 * cum / total) - floor($5 * (cum - w) / total))::int AS k,
               floor($5 * (cum - w) / total)::bigint AS first_seq,
               floor({uniform("resident_id", s + 3)} * $6)::int AS off,
               ($7::int[])[1 + floor({uniform("resident_id", s + 4)} * cardinality($7::int[]))::int] AS stride,
               floor({uniform("resident_id", s + 5)} * $8)::int AS profile
        FROM c
        """,
        first_resident,
        INACTIVE_SHARE,
        MAX_WEIGHT,
        PARETO_ALPHA,
        actions,
        DAYS * HABITS,
        strides(),
        PROFILES,
    )
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE k > 0) AS active, max(k) AS most, sum(k) AS total FROM _country_plan"
    )
    assert row is not None
    if row["total"] != actions:
        raise RuntimeError(f"planned {row['total']} actions instead of {actions}")
    if row["most"] > DAYS * HABITS:
        raise RuntimeError(
            f"one resident would log {row['most']} actions, more than the {DAYS * HABITS} slots of a year: "
            "raise --residents or lower --actions"
        )
    return int(row["active"]), int(row["most"])


def action_insert(part: int, parts: int, seed: int, first_day: date, now: datetime) -> tuple[str, list[Any]]:
    s = seed * 1000 + 300
    n = "x.n"
    sql = f"""
    INSERT INTO action_logs
        (id, resident_id, city_id, action_type_id, quantity, performed_at, local_date, recorded_at, deleted_at,
         baseline_factor_id, option_factor_id, co2e_kg)
    SELECT md5($1 || '/' || a.n)::uuid, a.resident_id, a.city_id, a.action_type_id, a.quantity, a.performed_at,
           a.local_date, a.recorded_at,
           CASE WHEN {uniform("a.n", s + 1)} < $2
                THEN least($3, a.recorded_at + interval '1 minute' * (1 + 600 * {uniform("a.n", s + 2)})) END,
           a.baseline_id, a.option_id, round((a.quantity * a.saving)::numeric, 6)::float8
    FROM (
        SELECT x.n, p.resident_id, p.city_id, f.action_type_id, f.baseline_id, f.option_id, f.saving,
               d.local_date, q.quantity, t.performed_at,
               least($3, t.performed_at + CASE WHEN {uniform(n, s + 3)} < 0.85
                                               THEN interval '1 minute' * (1 + 30 * {uniform(n, s + 4)})
                                               ELSE interval '1 hour' * (1 + 72 * {uniform(n, s + 4)}) END)
                   AS recorded_at
        FROM _country_plan p
        CROSS JOIN LATERAL generate_series(0, p.k - 1) AS j
        CROSS JOIN LATERAL (SELECT p.first_seq + j AS n, (p.off + j::bigint * p.stride) % $4 AS slot) x
        JOIN _country_habits f ON f.profile = p.profile AND f.h = (x.slot / $5)::int
        CROSS JOIN LATERAL (SELECT $6::date + (x.slot % $5)::int AS local_date) d
        CROSS JOIN LATERAL (
            SELECT (d.local_date + interval '1 minute' * (420 + floor(840 * {uniform(n, s + 5)}))) AT TIME ZONE $7
                AS performed_at) t
        CROSS JOIN LATERAL (
            SELECT CASE WHEN {uniform(n, s + 7)} < $10 THEN f.q_high
                        ELSE least(f.q_cap, greatest(f.q_min, round(
                            (round((f.q_min + (f.q_cap - f.q_min) * power({uniform(n, s + 6)}, 2.5)) / f.step)
                             * f.step)::numeric, 6)::float8)) END AS quantity) q
        WHERE p.k > 0 AND p.resident_id % $8 = $9
    ) a
    ORDER BY a.recorded_at
    """
    return sql, [str(seed), DELETED_SHARE, now, DAYS * HABITS, DAYS, first_day, ZONE, parts, part, OUTLIER_SHARE]


# --- Bulk loading without indexes -----------------------------------------------


@dataclass
class Detached:
    """What :func:`detach` dropped from a table, as the statements that restore it."""

    table: str
    indexes: list[str]
    keys: list[str]
    foreign_keys: list[str]


async def detach(conn: db.Connection, table: str) -> Detached:
    """Drop ``table``'s foreign keys, its indexes and the primary/unique keys no foreign key points at."""
    keys = await conn.fetch(
        """
        SELECT quote_ident(c.conname) AS name, c.contype::text AS contype, pg_get_indexdef(c.conindid) AS index_def
        FROM pg_constraint c
        WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
        """,
        table,
    )
    fks = await conn.fetch(
        "SELECT quote_ident(conname) AS name, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'",
        table,
    )
    plain = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid = $1::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
        """,
        table,
    )
    for fk in fks:
        await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {fk['name']}")
    for key in keys:
        await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {key['name']}")
    for index in plain:
        await conn.execute(f"DROP INDEX {index['name']}")
    kind = {"p": "PRIMARY KEY", "u": "UNIQUE"}
    return Detached(
        table,
        [k["index_def"] for k in keys] + [i["def"] for i in plain],
        [f"ALTER TABLE {table} ADD CONSTRAINT {k['name']} {kind[k['contype']]} USING INDEX {k['name']}" for k in keys],
        [f"ALTER TABLE {table} ADD CONSTRAINT {fk['name']} {fk['def']}" for fk in fks],
    )


async def reattach(connections: list[db.Connection], detached: list[Detached]) -> None:
    """Build the indexes (several at once, one per connection), then the keys, then validate the foreign keys."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for d in detached:
        for statement in d.indexes:
            queue.put_nowait(statement)

    async def builder(conn: db.Connection) -> None:
        while not queue.empty():
            statement = queue.get_nowait()
            t0 = time.perf_counter()
            await conn.execute(statement)
            log(f"  {time.perf_counter() - t0:5.1f} s  {statement.split(' USING ')[0]}")

    await asyncio.gather(*(builder(conn) for conn in connections))
    for d in detached:
        for statement in d.keys + d.foreign_keys:
            t0 = time.perf_counter()
            await connections[0].execute(statement)
            log(f"  {time.perf_counter() - t0:5.1f} s  {statement[:110]}")


# --- The whole run --------------------------------------------------------------


async def generate(
    *,
    residents: int,
    actions: int,
    campaigns: int,
    database: str = DEFAULT_DATABASE,
    seed: int = 1,
    server_url: str | None = None,
    today: date | None = None,
    out: Callable[[str], None] = log,
) -> Generated:
    """(Re)create ``database`` and fill it; see the module docstring. Returns what was made and the stage times."""
    if residents < CITY_COUNT or actions < 0 or campaigns < 1:
        raise ValueError(f"need at least {CITY_COUNT} residents, no negative actions and at least one campaign")
    now = datetime.now(UTC)
    today = today or now.astimezone(zoneinfo.ZoneInfo(ZONE)).date()
    first_day = today - timedelta(days=DAYS)
    window_start = datetime.combine(first_day, datetime.min.time(), UTC)
    server_url = server_url or admin_url()
    url = db.with_database(server_url, database)
    stages = Stages(out)
    rng = random.Random(seed)

    with stages.stage(f"database {database}: drop and create"):
        await db.drop_database(server_url, database)
        await db.ensure_database(server_url, database)
        settings = msgspec.structs.replace(load_settings(), upscale_db_pool_min=2, upscale_db_pool_max=4)
        pool = await db.create_pool(url, settings)
    try:
        async with pool.acquire() as conn, pool.acquire() as conn2:
            with stages.stage("database: migrate and apply definitions"):
                await migrations.migrate(conn)
                await apply_definitions(pool, read_definitions(ROOT / "campaigns"))
                types = await catalogue(conn)
            for c in (conn, conn2):
                await c.execute(
                    "SET work_mem = '2GB'; SET maintenance_work_mem = '1GB'; "
                    "SET max_parallel_maintenance_workers = 0; SET synchronous_commit = off"
                )
            with stages.stage("cities"):
                async with conn.transaction():
                    cities = await add_cities(conn, residents)
                out(f"  {len(cities)} cities, {await conn.fetchval('SELECT count(*) FROM districts')} districts")
            with stages.stage(f"residents ({residents:,})"):
                async with conn.transaction():
                    detached = [await detach(conn, "residents")]
                    first_resident = await add_residents(conn, cities, seed, window_start)
                await reattach([conn, conn2], detached)
            with stages.stage(f"campaigns ({campaigns:,})"):
                plans = plan_campaigns(rng, campaigns, cities, types, today, residents / 1_000_000)
                async with conn.transaction():
                    await add_campaigns(conn, plans, cities, today, seed)
            with stages.stage("enrolments"):
                async with conn.transaction():
                    detached = [await detach(conn, "enrolments")]
                    enrolled = await add_enrolments(conn, plans, cities, seed, now)
                await reattach([conn, conn2], detached)
                national = await conn.fetchval(
                    "SELECT count(*) FROM enrolments WHERE campaign_id = $1 AND left_at IS NULL", plans[0].id
                )
                out(f"  {enrolled:,} enrolments; national campaign: {national:,} current participants")
            with stages.stage(f"actions ({actions:,}, 2 sessions)"):
                active, most = await plan_actions(conn, first_resident, actions, types, seed)
                out(f"  {active:,} residents log actions, at most {most} each")
                detached = [await detach(conn, "action_logs")]
                parts = [action_insert(p, 2, seed, first_day, now) for p in range(2)]
                await asyncio.gather(
                    *(c.execute(sql, *args) for c, (sql, args) in zip((conn, conn2), parts, strict=True))
                )
            with stages.stage("indexes and foreign keys of action_logs"):
                await reattach([conn, conn2], detached)
            with stages.stage("vacuum and analyze"):
                for table in (
                    "_country_plan",
                    "_country_habits",
                    "_country_campaigns",
                    "_country_teams",
                    "_country_cities",
                ):
                    await conn.execute(f"DROP TABLE {table}")
                await asyncio.gather(
                    conn.execute("VACUUM (ANALYZE) action_logs"),
                    conn2.execute("VACUUM (ANALYZE) residents, enrolments, teams, campaigns, districts, cities"),
                )
                await conn.execute("ANALYZE")
    finally:
        await pool.close()
    total = sum(s for _, s in stages.times)
    out(f"generated {database} in {total:.1f} s")
    return Generated(database, url, residents, actions, campaigns, plans[0].id, int(national), stages.times)


# --- Checks ---------------------------------------------------------------------


async def verify(url: str) -> list[str]:
    """What the generated data must satisfy; returns the failures (empty when all hold)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    failures = []
    try:
        checks = {
            "cities": f"SELECT count(*) = {CITY_COUNT} FROM cities",
            "every city offers every active action type": """
                SELECT NOT EXISTS (SELECT 1 FROM cities c CROSS JOIN action_types t
                    WHERE t.active AND NOT EXISTS (SELECT 1 FROM city_action_types x
                        WHERE x.city_id = c.id AND x.action_type_id = t.id))""",
            "day totals within max_per_day": """
                SELECT NOT EXISTS (SELECT 1 FROM action_logs a JOIN action_types t ON t.id = a.action_type_id
                    WHERE a.deleted_at IS NULL
                    GROUP BY a.resident_id, a.local_date, a.action_type_id, t.max_per_day
                    HAVING sum(a.quantity) > t.max_per_day + 1e-9)""",
            "quantities within min/max": """
                SELECT NOT EXISTS (SELECT 1 FROM action_logs a JOIN action_types t ON t.id = a.action_type_id
                    WHERE a.quantity < t.min_quantity - 1e-9 OR a.quantity > t.max_quantity + 1e-9)""",
            "local_date is performed_at in the resident's zone": """
                SELECT NOT EXISTS (SELECT 1 FROM action_logs a JOIN residents r ON r.id = a.resident_id
                    WHERE (a.performed_at AT TIME ZONE r.time_zone)::date <> a.local_date)""",
            "action city is the resident's city": """
                SELECT NOT EXISTS (SELECT 1 FROM action_logs a JOIN residents r ON r.id = a.resident_id
                    WHERE a.city_id <> r.city_id)""",
            "co2e_kg from the factors in force": """
                SELECT NOT EXISTS (SELECT 1 FROM action_logs a JOIN action_types t ON t.id = a.action_type_id
                    JOIN emission_factors_in_force b ON b.code = t.baseline_factor
                    LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
                    WHERE a.baseline_factor_id <> b.id OR a.option_factor_id IS DISTINCT FROM o.id
                       OR abs(a.co2e_kg - a.quantity * (b.value - coalesce(o.value, 0))) > 1e-6)""",
            "times in order": """
                SELECT NOT EXISTS (SELECT 1 FROM action_logs
                    WHERE recorded_at < performed_at OR recorded_at > now() OR deleted_at < recorded_at)""",
            "enrolled residents live in a campaign city": """
                SELECT NOT EXISTS (SELECT 1 FROM enrolments e
                    WHERE NOT EXISTS (SELECT 1 FROM campaign_cities cc
                        WHERE cc.campaign_id = e.campaign_id AND cc.city_id = e.city_id))""",
            "teams are of the campaign and the member's city": """
                SELECT NOT EXISTS (SELECT 1 FROM enrolments e JOIN teams t ON t.id = e.team_id
                    WHERE t.campaign_id <> e.campaign_id OR t.city_id <> e.city_id)""",
            "team enrolment has a team": """
                SELECT NOT EXISTS (SELECT 1 FROM enrolments e JOIN campaigns k ON k.id = e.campaign_id
                    WHERE k.enrolment = 'team' AND e.team_id IS NULL)""",
            "identity sequences past the rows": """
                SELECT (SELECT last_value FROM pg_sequences WHERE sequencename = 'residents_id_seq')
                       >= (SELECT max(id) FROM residents)""",
        }
        for name, sql in checks.items():
            if not await conn.fetchval(sql):
                failures.append(name)
        for row in await conn.fetch("SELECT code, definition FROM campaigns"):
            definition = row["definition"]
            try:
                msgspec.convert(msgspec.json.decode(definition), Campaign)
            except msgspec.ValidationError as exc:
                failures.append(f"campaign {row['code']}: definition is not a Campaign: {exc}")
        held = await conn.fetchval(
            """
            SELECT avg((d.total > t.plausible_per_day)::int)
            FROM (SELECT action_type_id, sum(quantity) AS total FROM action_logs WHERE deleted_at IS NULL
                  GROUP BY resident_id, local_date, action_type_id) d
            JOIN action_types t ON t.id = d.action_type_id
            """
        )
        log(f"resident days over plausible_per_day (held for review): {100 * (held or 0):.2f}%")
        if (held or 0) > 0.01:
            failures.append(f"{100 * held:.2f}% of resident days over plausible_per_day (expected under 1%)")
        kinds = await conn.fetchval("SELECT array_agg(DISTINCT rule->>'kind' ORDER BY rule->>'kind') FROM challenges")
        if set(kinds) != {"quantity", "distinct_days", "team_participation", "collective", "personal"}:
            failures.append(f"challenge kinds: {kinds}")
        badge_kinds = await conn.fetchval("SELECT array_agg(DISTINCT rule->>'kind') FROM badges")
        if set(badge_kinds) != {"first_action", "streak", "challenge_met", "actions_count"}:
            failures.append(f"badge kinds: {badge_kinds}")
    finally:
        await conn.close()
    return failures


def scale_arguments(parser: argparse.ArgumentParser) -> None:
    """The size options, shared with bench/scoring.py."""
    parser.add_argument("--scale", choices=sorted(SCALES), default="full", help="preset sizes (default full)")
    parser.add_argument("--residents", type=int, help="residents (full: 1,000,000; small: 20,000)")
    parser.add_argument("--actions", type=int, help="action logs over the last year (full: 10,000,000; small: 200,000)")
    parser.add_argument("--campaigns", type=int, help="generated campaigns, the national one included (full: 200)")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help=f"database name (default {DEFAULT_DATABASE})")
    parser.add_argument("--seed", type=int, default=1, help="seed of every generated value (default 1)")


def scale_of(args: argparse.Namespace) -> Scale:
    preset = SCALES[args.scale]
    return Scale(
        args.residents if args.residents is not None else preset.residents,
        args.actions if args.actions is not None else preset.actions,
        args.campaigns if args.campaigns is not None else preset.campaigns,
    )


async def run(args: argparse.Namespace) -> int:
    scale = scale_of(args)
    generated = await generate(
        residents=scale.residents,
        actions=scale.actions,
        campaigns=scale.campaigns,
        database=args.database,
        seed=args.seed,
    )
    print("| stage | seconds |\n|---|---:|")
    for name, seconds in generated.stages:
        print(f"| {name} | {seconds:.1f} |")
    print(f"| total | {generated.seconds:.1f} |")
    if args.verify:
        t0 = time.perf_counter()
        failures = await verify(generated.url)
        log(f"checks took {time.perf_counter() - t0:.1f} s")
        for failure in failures:
            log(f"CHECK FAILED: {failure}")
        return 1 if failures else 0
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    scale_arguments(parser)
    parser.add_argument(
        "--verify", action="store_true", help="check the generated data afterwards (slow at full scale)"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs, harmless
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
