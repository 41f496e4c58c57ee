"""Open aggregates: publishing each city's figures (the worker) and serving them (the routes).

Publishing reads the scoring jobs' results (``scoring.reads``: resident days and
campaign days, never the action log) in one read-only snapshot per city,
protects the small cells (``suppression.py``), renders the JSON and CSV bodies
and stores them with the digest of the figures, which is the ETag. A run whose
figures equal the stored ones stores nothing, so the ETag and ``modified`` move
only when a published figure does.

Serving knows the stored digest (read again at most every few seconds), answers
304 when the client has it, and otherwise the body from this process's copy,
read again only when the digest moved: most requests read no database.

Weeks are published once they are final: every day of the week is older than
``UPSCALE_BACKDATE_DAYS``, so no late offline log can change it (a review
decision or a rescore still can; then the ETag moves).
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from gzip import compress
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import msgspec

from upscale_api.catalogue.structs import Category
from upscale_api.db import Pool, Record
from upscale_api.errors import Problem
from upscale_api.opendata import queries
from upscale_api.opendata.dcat import Coverage
from upscale_api.opendata.structs import ALL, CSV_COLUMNS, LICENCE, LICENCE_URL, NONE, CityStats, StatsRow
from upscale_api.opendata.suppression import Cell, Grid, Line, protect
from upscale_api.scoring import reads as scoring_reads
from upscale_api.settings import Settings

CATEGORIES: tuple[str, ...] = get_args(Category)
Kind = Literal["json", "csv"]


@dataclass(frozen=True)
class Policy:
    weeks: int
    backdate_days: int
    threshold: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            weeks=settings.upscale_open_data_weeks,
            backdate_days=settings.upscale_backdate_days,
            threshold=settings.upscale_open_data_min_participants,
        )


def final_weeks(today: date, backdate_days: int, weeks: int) -> tuple[date, date]:
    """The first Monday and the last Sunday of the ``weeks`` latest ISO weeks that are final on
    ``today``: a day can still get actions logged ``backdate_days`` later."""
    last_final_day = today - timedelta(days=backdate_days + 1)
    last_sunday = last_final_day - timedelta(days=last_final_day.isoweekday() % 7)
    return last_sunday - timedelta(days=7 * weeks - 1), last_sunday


def attribution(city_name: str) -> str:
    return f"{city_name}, UP-SCALE (upscale-api open aggregates)"


# --- Publishing ---------------------------------------------------------------------------


async def publish_all(pool: Pool, settings: Settings, now: datetime) -> list[str]:
    """Publish every city again; returns the codes of those whose figures changed."""
    policy = Policy.from_settings(settings)
    changed = []
    for city in await pool.fetch(queries.CITIES):
        if await publish_city(pool, city, policy, now):
            changed.append(city["code"])
    return changed


async def publish_city(pool: Pool, city: Record, policy: Policy, now: datetime) -> bool:
    """Compute and store ``city``'s publication (a row of CITIES); True when a figure changed."""
    today = now.astimezone(ZoneInfo(city["time_zone"])).date()
    first, last = final_weeks(today, policy.backdate_days, policy.weeks)
    async with pool.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            districts = await conn.fetch(queries.DISTRICTS, city["id"])
            by_district = await scoring_reads.city_weeks(conn, city["id"], first, last)
            by_campaign = await scoring_reads.city_campaign_weeks(conn, city["id"], first, last)
        rows = figures(districts, by_district, by_campaign, policy.threshold, through=last - timedelta(days=6))
        digest = _digest(policy.threshold, rows)
        if await conn.fetchval(queries.PUBLISHED_DIGEST, city["id"]) == digest:
            await conn.execute(queries.CHECKED, city["id"], now)
            return False
        name = city["name"].get(city["languages"][0]) or city["code"]
        document = CityStats(
            city=city["code"],
            licence=LICENCE,
            licence_url=LICENCE_URL,
            attribution=attribution(name),
            min_participants=policy.threshold,
            modified=now,
            first_week=rows[0].week if rows else None,
            last_week=rows[-1].week if rows else None,
            rows=rows,
        )
        await conn.execute(
            queries.STORE,
            city["id"],
            digest,
            now,
            rows[0].week_start if rows else None,
            rows[-1].week_start if rows else None,
            len(rows),
            sum(r.suppressed is not None for r in rows),
            msgspec.json.encode(document),
            _csv(rows),
        )
    for key in [k for k in _CURRENT if k[1] == city["id"]]:
        del _CURRENT[key]
    return True


def figures(
    districts: Iterable[Record], by_district: list[Record], by_campaign: list[Record], threshold: int, through: date
) -> list[StatsRow]:
    """The published rows, week by week from the first week with a counted action through the
    week of Monday ``through``, small cells suppressed (see ``suppression.py``)."""
    code_of: dict[int | None, str] = {d["id"]: d["code"] for d in districts}
    code_of[None] = NONE
    active = sorted(d["code"] for d in districts if d["active"])
    city: dict[date, dict[tuple[str, str], Record]] = {}
    for r in by_district:
        district = ALL if r["all_districts"] else code_of[r["district_id"]]
        category = ALL if r["all_categories"] else r["category"]
        city.setdefault(r["week"], {})[(district, category)] = r
    campaigns: dict[date, dict[tuple[str, str], Record]] = {}
    for r in by_campaign:
        campaigns.setdefault(r["week"], {})[(r["campaign"], r["category"] or ALL)] = r
    if not city:
        return []
    rows: list[StatsRow] = []
    week = min(city)
    while week <= through:
        in_week = city.get(week, {})
        seen = {d for d, _ in in_week} - {ALL}
        district_keys = [*active, *sorted(seen - set(active) - {NONE}), *([NONE] if NONE in seen else [])]
        counted = campaigns.get(week, {})
        grid = _grid(district_keys, in_week, counted)
        protect(grid, threshold)
        rows += _rows(week, grid, district_keys, sorted({c for c, _ in counted}))
        week += timedelta(days=7)
    return rows


_Key = tuple[str, str, str]


def _cell(record: Record | None) -> Cell:
    if record is None:
        return Cell(participants=0)
    return Cell(participants=record["participants"], actions=record["actions"], co2e_kg=record["co2e_kg"])


def _grid(districts: list[str], city: dict[tuple[str, str], Record], counted: dict[tuple[str, str], Record]) -> Grid:
    """One week: the city's district x category table with its totals, and per campaign its
    categories with their total and, hidden, what the city's figures hold beyond the campaign's."""
    grid = Grid()
    categories = [*CATEGORIES, ALL]
    for district in [*districts, ALL]:
        for category in categories:
            grid.cells[("city", district, category)] = _cell(city.get((district, category)))
        grid.lines.append(Line(tuple(("city", district, c) for c in CATEGORIES), ("city", district, ALL)))
    for category in categories:
        grid.lines.append(Line(tuple(("city", d, category) for d in districts), ("city", ALL, category)))
    for campaign in sorted({c for c, _ in counted}):
        for category in categories:
            record = counted.get((campaign, category))
            own = _cell(record)
            whole = grid.cells[("city", ALL, category)]
            grid.cells[("campaign", campaign, category)] = own
            grid.cells[("beyond", campaign, category)] = Cell(
                participants=whole.participants - (record["matching"] if record else 0),
                actions=whole.actions - own.actions,
                co2e_kg=whole.co2e_kg - own.co2e_kg,
                hidden=True,
            )
            grid.lines.append(
                Line((("campaign", campaign, category), ("beyond", campaign, category)), ("city", ALL, category))
            )
        for part in ("campaign", "beyond"):
            grid.lines.append(Line(tuple((part, campaign, c) for c in CATEGORIES), (part, campaign, ALL)))
    return grid


def _rows(week: date, grid: Grid, districts: list[str], campaigns: list[str]) -> list[StatsRow]:
    iso = week.isocalendar()
    label = f"{iso.year}-W{iso.week:02d}"
    keys: list[_Key] = [("city", d, c) for d in [ALL, *districts] for c in [ALL, *CATEGORIES]]
    keys += [("campaign", k, c) for k in campaigns for c in [ALL, *CATEGORIES]]
    rows = []
    for key in keys:
        cell = grid.cells[key]
        shown = cell.suppressed is None
        rows.append(
            StatsRow(
                week=label,
                week_start=week,
                campaign=key[1] if key[0] == "campaign" else None,
                district=key[1] if key[0] == "city" else ALL,
                category=key[2],
                participants=cell.participants if shown else None,
                actions=cell.actions if shown else None,
                co2e_kg=_kg(cell.co2e_kg) if shown else None,
                suppressed=cell.suppressed,
            )
        )
    return rows


def _kg(value: Decimal) -> float:
    return float(round(value, 3))


def _digest(threshold: int, rows: list[StatsRow]) -> str:
    return hashlib.sha256(msgspec.json.encode([threshold, rows])).hexdigest()[:32]


def _csv(rows: list[StatsRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        kg = "" if r.co2e_kg is None else f"{r.co2e_kg:.3f}"
        writer.writerow(
            [r.week, r.week_start.isoformat(), r.campaign or "", r.district, r.category]
            + ["" if v is None else v for v in (r.participants, r.actions)]
            + [kg, r.suppressed or ""]
        )
    return out.getvalue().encode()


# --- Serving --------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    etag: str
    """The entity tag of the representation, quoted as sent."""
    modified_at: datetime
    body: bytes | None
    """None: the client has it (answer 304)."""
    gzip: bool
    """The body is gzip-compressed (``Content-Encoding: gzip``)."""


@dataclass(frozen=True)
class _Bodies:
    digest: str
    plain: bytes
    gzip: bytes


_BODIES: dict[tuple[int, int, Kind], _Bodies] = {}
"""Each city's latest bodies, plain and compressed once, by the digest they were rendered with."""

RECHECK_SECONDS = 5.0
"""How stale an API process's idea of a city's current digest may be: a publication the worker
stores reaches every process within this, and a request reads no database in between."""

_CURRENT: dict[tuple[int, int], tuple[float, str, datetime]] = {}
"""Each city's digest and modification time, and when they were read (monotonic seconds).
Both caches are keyed by the pool too (``id(pool)``): a process may serve more than one database."""


async def published(
    pool: Pool, city_id: int, city: str, kind: Kind, if_none_match: str | None, *, gzip: bool = False
) -> Published:
    """City ``city_id``'s publication as ``kind`` (``gzip``: compressed), or None for its body when
    ``if_none_match`` names its current ETag (of either encoding); the ``not-found`` problem before
    the first publication."""
    digest, modified_at = await _current(pool, city_id, city)
    if if_none_match is not None and _matches(if_none_match, (_etag(digest, kind, False), _etag(digest, kind, True))):
        return Published(_etag(digest, kind, gzip), modified_at, None, gzip)
    cached = _BODIES.get((id(pool), city_id, kind))
    if cached is None or cached.digest != digest:
        row = await pool.fetchrow(queries.JSON_BODY if kind == "json" else queries.CSV_BODY, city_id)
        assert row is not None  # publications are replaced, never deleted
        plain = bytes(row[1])
        cached = _Bodies(row[0], plain, compress(plain, compresslevel=6, mtime=0))
        _BODIES[(id(pool), city_id, kind)] = cached
    return Published(_etag(cached.digest, kind, gzip), modified_at, cached.gzip if gzip else cached.plain, gzip)


async def _current(pool: Pool, city_id: int, city: str) -> tuple[str, datetime]:
    """The digest and modification time of the city's publication, read again at most every
    :data:`RECHECK_SECONDS` (publishing in this process forgets it at once)."""
    known = _CURRENT.get((id(pool), city_id))
    if known is not None and time.monotonic() - known[0] < RECHECK_SECONDS:
        return known[1], known[2]
    row = await pool.fetchrow(queries.CURRENT, city_id)
    if row is None:
        raise Problem(404, "not-found", f"city: nothing is published for {city!r} yet (the worker publishes it)")
    _CURRENT[(id(pool), city_id)] = (time.monotonic(), row["digest"], row["modified_at"])
    return row["digest"], row["modified_at"]


def _etag(digest: str, kind: Kind, gzip: bool) -> str:
    """Each representation has its own strong tag: JSON or CSV, plain or compressed."""
    return f'"{digest}{"" if kind == "json" else "-csv"}{"-gzip" if gzip else ""}"'


def _matches(if_none_match: str, etags: tuple[str, ...]) -> bool:
    """RFC 9110: a weak comparison of each listed tag, or ``*``."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") in etags for t in tags)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (listed without ``q=0``)."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


async def coverage_of(pool: Pool, city_id: int) -> Coverage:
    """What city ``city_id``'s publication covers (empty before its first)."""
    row = await pool.fetchrow(queries.METADATA_OF, city_id)
    return Coverage(row["modified_at"], row["first_week"], row["last_week"]) if row else Coverage()


async def coverage(pool: Pool) -> dict[int, Coverage]:
    """What each published city's publication covers, by city id."""
    rows = await pool.fetch(queries.METADATA)
    return {r["city_id"]: Coverage(r["modified_at"], r["first_week"], r["last_week"]) for r in rows}
