"""Demo data: a few hundred synthetic residents of the pilot cities with four
weeks of plausible actions, so a newcomer sees numbers at once.

Everything is generated from a fixed seed and written in one transaction; when
the demo residents already exist nothing is written, so seeding twice changes
nothing. Demo users have uids starting ``demo-``; tokens for them come from
``upscale token demo-resident-0001``.
"""

from __future__ import annotations

import random
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec

from upscale_api.campaigns.store import apply_campaigns
from upscale_api.campaigns.structs import Campaign
from upscale_api.catalogue.service import ActionType, Snapshot
from upscale_api.db import AdvisoryLock, Connection, Pool, lock_for_transaction
from upscale_api.demo import queries
from upscale_api.research import service as research
from upscale_api.research.store import apply_studies
from upscale_api.research.structs import Study
from upscale_api.rewards.store import apply_partners
from upscale_api.rewards.structs import PartnerDefinition

RESIDENTS_PER_CITY = {"ljubljana": 150, "kranj": 90, "velenje": 60}
DAYS = 28
SEED = 2026
NAMESPACE = uuid.UUID("6c9a3f0e-2b8d-4c41-9a57-0d1e6a3b8f10")
DEMO_ROLES = [
    ("demo-coordinator-kranj", "coordinator", "kranj"),
    ("demo-coordinator-ljubljana", "coordinator", "ljubljana"),
    ("demo-coordinator-velenje", "coordinator", "velenje"),
    ("demo-admin", "admin", None),
]
FIRST_NAMES = [
    "Ana",
    "Luka",
    "Maja",
    "Nejc",
    "Eva",
    "Jan",
    "Nina",
    "Žiga",
    "Sara",
    "Tilen",
    "Pia",
    "Matic",
    "Lara",
    "Anže",
]


@dataclass(frozen=True)
class SeedResult:
    residents: int
    actions: int


def _quantity(rng: random.Random, t: ActionType) -> float:
    """A plausible amount: mostly small, never outside the per-entry range, on the app's step."""
    span = t.max_quantity - t.min_quantity
    raw = t.min_quantity + span * min(1.0, rng.betavariate(1.3, 6.0))
    stepped = round(round(raw / t.step) * t.step, 6)
    return min(t.max_quantity, max(t.min_quantity, stepped))


async def seed_demo(pool: Pool, snapshot: Snapshot, today: date | None = None) -> SeedResult:
    """Write the demo residents, roles and actions unless they exist already."""
    rng = random.Random(SEED)
    today = today or datetime.now(UTC).date()
    async with pool.acquire() as conn, conn.transaction():
        await lock_for_transaction(conn, AdvisoryLock.SEED_DEMO)
        if await conn.fetchval(queries.DEMO_PRESENT):
            return SeedResult(0, 0)
        residents: list[tuple[str, int, int | None, str, str, str]] = []
        for city_code, count in RESIDENTS_PER_CITY.items():
            city = snapshot.cities[city_code]
            districts = list(city.districts.values())
            for _ in range(count):
                n = len(residents) + 1
                district = rng.choice(districts).id if districts and rng.random() < 0.8 else None
                locale = "sl" if rng.random() < 0.8 else "en"
                name = f"{rng.choice(FIRST_NAMES)} {n:04d}"
                residents.append((f"demo-resident-{n:04d}", city.id, district, name, locale, city.time_zone))
        rows = await conn.fetch(
            queries.INSERT_RESIDENTS,
            *(list(column) for column in zip(*residents, strict=True)),
            datetime.combine(today - timedelta(days=DAYS), time(8), UTC),
        )
        actions = _actions(rng, snapshot, rows, today)
        await conn.executemany(
            queries.GRANT_ROLES,
            DEMO_ROLES,
        )
        await conn.copy_records_to_table(
            "action_logs",
            records=actions,
            columns=[
                "id",
                "resident_id",
                "city_id",
                "action_type_id",
                "quantity",
                "performed_at",
                "local_date",
                "recorded_at",
                "baseline_factor_id",
                "option_factor_id",
                "co2e_kg",
            ],
        )
        await _demo_campaign(conn, snapshot, today)
        await _demo_study(conn, rng, today)
        await _demo_rewards(conn)
        await _demo_contest(conn, snapshot, today)
    return SeedResult(len(rows), len(actions))


DEMO_CAMPAIGN = "demo-kranj-active-travel"
DEMO_CONTEST = "demo-kranj-vs-ljubljana"


async def _demo_contest(conn: Connection, snapshot: Snapshot, today: date) -> None:
    """Kranj against Ljubljana by km cycled, so the coordinators' contest shows two cities."""
    text = {
        "sl": "Kranj in Ljubljana tekmujeta v prekolesarjenih kilometrih.",
        "en": "Kranj and Ljubljana race in km cycled.",
    }
    cities = [snapshot.cities["kranj"], snapshot.cities["ljubljana"]]
    cycling = [
        t.code
        for t in snapshot.action_types.values()
        if t.category == "mobility" and t.unit == "km" and all(c.id in t.city_ids for c in cities)
    ]
    ranked = [code for code in cycling if "bike" in code or "cycle" in code] or cycling[:1]
    campaign = msgspec.convert(
        {
            "code": DEMO_CONTEST,
            "cities": ["kranj", "ljubljana"],
            "title": {"sl": "Demo: Kranj proti Ljubljani", "en": "Demo: Kranj against Ljubljana"},
            "description": text,
            "starts_on": (today - timedelta(days=DAYS)).isoformat(),
            "ends_on": (today + timedelta(days=40)).isoformat(),  # after the other demo campaign
            "action": [{"type": code, "points_per_unit": 10} for code in cycling],
            "challenge": [
                {
                    "code": "half-a-tonne",
                    "title": {"sl": "Pol tone na mesto", "en": "Half a tonne per city"},
                    "description": text,
                    "rule": {"kind": "collective", "categories": ["mobility"], "target": 500, "scope": "city"},
                }
            ],
            "ranking": {"measure": "quantity", "action_types": ranked},
        },
        Campaign,
    )
    zones = {c.code: c.time_zone for c in snapshot.cities.values()}
    await apply_campaigns(conn, [campaign], zones, "api", today)
    await conn.execute(queries.ENROL_CITIES, DEMO_CONTEST, ["kranj", "ljubljana"])


async def _demo_campaign(conn: Connection, snapshot: Snapshot, today: date) -> None:
    """An active campaign for Kranj's demo residents, so progress and coordinator statistics show numbers."""
    text = {"sl": "Predstavitvena kampanja s sintetičnimi podatki.", "en": "A demo campaign with synthetic data."}
    mobility = [t.code for t in snapshot.action_types.values() if t.category == "mobility"]
    campaign = msgspec.convert(
        {
            "code": DEMO_CAMPAIGN,
            "cities": ["kranj"],
            "title": {"sl": "Demo: aktivno po Kranju", "en": "Demo: active travel in Kranj"},
            "description": text,
            "starts_on": (today - timedelta(days=DAYS)).isoformat(),
            "ends_on": (today + timedelta(days=30)).isoformat(),
            "enrolment": "team",
            "action": [{"type": code, "points_per_unit": 10} for code in mobility],
            "team": [
                {"code": "north", "kind": "district", "name": "Sever"},
                {"code": "south", "kind": "district", "name": "Jug"},
                {"code": "city-hall", "kind": "workplace", "name": "Mestna občina Kranj"},
            ],
            "challenge": [
                {
                    "code": "ten-days",
                    "title": {"sl": "10 dni trajnostno", "en": "10 sustainable days"},
                    "description": text,
                    "rule": {"kind": "distinct_days", "days": 10, "categories": ["mobility"]},
                },
                {
                    "code": "half-the-team",
                    "title": {"sl": "Polovica ekipe", "en": "Half the team"},
                    "description": text,
                    "rule": {
                        "kind": "team_participation",
                        "share": 0.5,
                        "member_rule": {"kind": "distinct_days", "days": 5, "categories": ["mobility"]},
                    },
                },
                {
                    "code": "one-tonne",
                    "title": {"sl": "Skupaj ena tona", "en": "One tonne together"},
                    "description": text,
                    "rule": {"kind": "collective", "categories": ["mobility"], "target": 1000},
                },
            ],
            "nudge": [
                {
                    "code": "evening-reminder",
                    "schedule": {"time": "18:00"},
                    "audience": "inactive_today",
                    "title": {"sl": "Še danes na pot?", "en": "A trip today?"},
                    "body": {"sl": "Danes še niste vpisali poti.", "en": "You have not logged a trip today."},
                }
            ],
            "badge": [
                {
                    "code": "first",
                    "title": {"sl": "Prvi korak", "en": "First step"},
                    "description": text,
                    "rule": {"kind": "first_action"},
                }
            ],
        },
        Campaign,
    )
    zones = {c.code: c.time_zone for c in snapshot.cities.values()}
    await apply_campaigns(conn, [campaign], zones, "api", today)
    await conn.execute(
        queries.ENROL_KRANJ,
        DEMO_CAMPAIGN,
    )


DEMO_PARTNER = "demo-kranj-farm-shop"


async def _demo_rewards(conn: Connection) -> None:
    """A Kranj partner with two rewards, so the demo residents' points buy something."""
    partner = msgspec.convert(
        {
            "code": DEMO_PARTNER,
            "kind": "food",
            "name": {"sl": "Demo: kmetija pri Kranju", "en": "Demo: a farm shop near Kranj"},
            "description": {"sl": "Lokalna hrana s sintetičnimi podatki.", "en": "Local food, synthetic data."},
            "address": "Kranj",
            "reward": [
                {
                    "code": "demo-kranj-vegetable-box",
                    "title": {"sl": "Zabojček sezonske zelenjave", "en": "A box of seasonal vegetables"},
                    "description": {"sl": "Prevzem v trgovini.", "en": "Collect it at the shop."},
                    "cost": 500,
                    "stock": 40,
                    "limit_per_resident": 1,
                    "limit_period": "month",
                    "code_valid_days": 14,
                },
                {
                    "code": "demo-kranj-apple-juice",
                    "title": {"sl": "Jabolčni sok", "en": "A bottle of apple juice"},
                    "description": {"sl": "Domač sok, 1 liter.", "en": "Home-made, one litre."},
                    "cost": 150,
                    "limit_per_resident": 1,
                    "limit_period": "week",
                },
            ],
        },
        PartnerDefinition,
    )
    _, problems = await apply_partners(conn, [("kranj", partner)], "api")
    assert problems == [], problems


def _actions(rng: random.Random, snapshot: Snapshot, residents: list[Any], today: date) -> list[tuple[Any, ...]]:
    records: list[tuple[Any, ...]] = []
    for resident in residents:
        city_id = resident["city_id"]
        offered = [t for t in snapshot.action_types.values() if city_id in t.city_ids]
        habits = rng.sample(offered, k=min(len(offered), rng.randint(2, 5)))
        activity = rng.choice([0.1, 0.3, 0.5, 0.8])
        zone = zoneinfo.ZoneInfo(resident["time_zone"])
        for days_ago in range(DAYS, 0, -1):
            day = today - timedelta(days=days_ago)
            if rng.random() > activity:
                continue
            used: dict[str, float] = {}
            for _ in range(rng.randint(1, 3)):
                t = rng.choice(habits)
                quantity = _quantity(rng, t)
                if used.get(t.code, 0.0) + quantity > t.max_per_day:
                    continue
                used[t.code] = used.get(t.code, 0.0) + quantity
                local = datetime.combine(day, time(rng.randint(7, 20), rng.randint(0, 59)), zone)
                performed_at = local.astimezone(UTC)
                action_id = uuid.uuid5(NAMESPACE, f"{resident['firebase_uid']}/{len(records)}")
                records.append(
                    (
                        action_id,
                        resident["id"],
                        city_id,
                        t.id,
                        quantity,
                        performed_at,
                        day,
                        performed_at + timedelta(minutes=rng.randint(1, 600)),
                        t.baseline_factor_id,
                        t.option_factor_id,
                        round(quantity * t.saving_per_unit_kg, 6),
                    )
                )
    return records


DEMO_STUDY = "demo-kranj-evening-reminders"
DEMO_RESEARCHER = "demo-researcher-kranj"


async def _demo_study(conn: Connection, rng: random.Random, today: date) -> None:
    """A two-arm study of the demo campaign with a baseline survey: 70% of Kranj's demo residents
    consent (with a birth year and gender), are assigned, and most answer the survey."""
    text = {"sl": "Predstavitvena raziskava s sintetičnimi podatki.", "en": "A demo study with synthetic data."}
    study = msgspec.convert(
        {
            "code": DEMO_STUDY,
            "title": {"sl": "Demo: večerni opomniki", "en": "Demo: evening reminders"},
            "description": text,
            "campaigns": [DEMO_CAMPAIGN],
            "seed": "demo-kranj-2026",
            "arm": [
                {"code": "control", "control": True, "title": {"sl": "Kontrolna skupina", "en": "Control"}},
                {
                    "code": "evening-reminder",
                    "title": {"sl": "Večerni opomnik", "en": "Evening reminder"},
                    "nudges": ["evening-reminder"],
                    "nudge_probability": 0.5,
                },
            ],
            "wave": [{"code": "baseline", "survey": "travel-habits", "opens": "enrolment", "open_days": 60}],
            "export": {"k": 5, "quasi_identifiers": ["city", "age_band"], "max_suppressed_share": 0.1},
        },
        Study,
    )
    _, problems = await apply_studies(conn, [("kranj", study)], "demo")
    assert problems == [], problems
    await conn.execute(queries.GRANT_STUDY_ROLE, DEMO_RESEARCHER, DEMO_STUDY)
    kranj = [r["id"] for r in await conn.fetch(queries.KRANJ_DEMO_RESIDENTS)]
    consenting = [r for r in kranj if rng.random() < 0.7]
    when = datetime.combine(today - timedelta(days=DAYS - 1), time(9), UTC)
    years = [today.year - rng.randint(20, 69) for _ in consenting]
    genders = [rng.choice(["woman", "man", "woman", "man", "prefer-not-to-say"]) for _ in consenting]
    await conn.execute(queries.CONSENT, consenting, years, when, genders)
    for resident_id in consenting:
        await research.assign(conn, resident_id, when)
    answering = [r for r in consenting if rng.random() < 0.8]
    answers = [
        {
            "car_days_per_week": rng.randint(0, 7),
            "main_mode": rng.choice(["car", "public_transport", "bicycle", "walking"]),
            "cycling_is_pleasant": rng.randint(1, 5),
            "barriers": rng.sample(["distance", "weather", "safety", "time", "children"], k=rng.randint(0, 2)),
        }
        for _ in answering
    ]
    await conn.execute(queries.ANSWER_BASELINE, DEMO_STUDY, answering, answers)
