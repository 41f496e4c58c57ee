"""Scoring benchmark: full rescore, incremental ticks, standings and leaderboard reads at country scale.

    python3 run.py bench bench/scoring.py [--generate] [--scale full|small] [--database NAME] [--seed N]
                                          [--live-rescore] [--ticks 10] [--tick-actions 10000] [--readers 16]
                                          [--read-seconds 15] [--team-read-seconds 5] [--postgres-defaults]
                                          [--engaged N] [--engaged-rounds 2]

Runs on a database made by ``bench/country.py`` (``--database``, default
``upscale_country``; ``--generate`` makes it first, with the sizes of
``--scale``: full is 1,000,000 residents, 10,000,000 actions and 200
campaigns, small is 20,000 / 200,000 / 20). On the embedded PostgreSQL in
``.upscale/`` or on the server of ``DATABASE_URL``, given the memory and
checkpoint settings of ``procstats.SERVER_SETTINGS`` first (ALTER SYSTEM; the
embedded server is restarted when one needs it) or, with
``--postgres-defaults``, PostgreSQL's defaults. One run measures, in this
order (rows of the table):

``baseline: aggregate (count)``
    ``SELECT count(*) FROM (SELECT resident_id, local_date, action_type_id, sum(quantity),
    sum(co2e_kg), count(*) FROM action_logs WHERE deleted_at IS NULL GROUP BY 1, 2, 3) s``:
    reading and grouping the action log, nothing written (PostgreSQL drops the
    sums, which nothing reads). Also warms the cache.
``baseline: aggregate into a table``
    The same aggregate written with ``CREATE TABLE ... AS`` into an ordinary
    (WAL-logged) table, dropped afterwards: the floor for a rebuild, which must
    at least read the log, aggregate it and write the result. PostgreSQL may
    run it with parallel workers.
``baseline: aggregate into a table, one process``
    The same with ``max_parallel_workers_per_gather = 0``: PostgreSQL 16 runs
    an ``INSERT ... SELECT`` (what a rebuild into existing tables does) in one
    process, so this is the like-for-like floor, and the rebuild's ratio is
    taken to it (the ratio to the parallel row is printed as well).
``full rescore``
    ``upscale_api.scoring.service.rebuild(pool)``: every derived table
    recomputed from the action log.
``standings after the rescore``
    ``compute_standings(pool, now)`` with every campaign due.
``collective goals announced after the rescore``
    ``announce_goals(pool, now)``: everyone the goals those standings found
    reached concern gets their messages and badges, a span of resident ids
    per transaction, as the worker's goals job does.
``live rescore (chunks)``
    Only with ``--live-rescore``: ``service.rescore(pool, now)``, what
    ``upscale rescore`` runs on a live system: every resident, in chunks of
    20,000 (one transaction per part of a chunk), in ``UPSCALE_SCORING_PARTS``
    parts side by side.
``history before the cut-off``
    ``service.advance_history(pool, cutoff)`` with the cut-off the worker would
    choose today (the Monday at least 9 days back): every participant's score
    parts and challenge values over their campaign days before it, which the
    worker stores once a week so that ticks read only the days since. The
    ticks below run with it, as the worker's do.
``baseline: a tick's writes alone``
    The least a tick must write, measured like the ticks below (``--ticks``
    bursts, the first right after a ``CHECKPOINT``, p50 and max): each burst's
    new live actions grouped into resident days and added to the stored ones,
    added to the campaign days of their residents' current enrolments (points
    uncapped), the participants' scores moved by those sums, and about as many
    successes, badges and messages as a tick writes (for one in eight, one in
    four and two in five of those participants, picked by resident id past
    the parity that splits the parts). Each of the tick's parts
    (``UPSCALE_SCORING_PARTS`` sessions side by side, the residents split by
    id as the tick splits them) runs that in a transaction that is rolled
    back, then an untimed tick scores the burst. Nothing is judged: no caps,
    streaks, challenges, holds, deletions or running totals.
``incremental tick``
    ``--ticks`` times: ``--tick-actions`` new actions (random residents, the
    last 7 days: 70% today, the rest back-dated, each within the type's daily
    limit, written with COPY like a burst of logging) and soft-deletes of 1% as
    many live actions of the last 7 days (``UPDATE action_logs SET deleted_at =
    now(), written_xid = pg_current_xact_id()``), then ``tick(pool, now)`` is
    timed, scoring in ``UPSCALE_SCORING_PARTS`` parts (2 by default). p50 and
    max over the ticks, which start right after an untimed ``CHECKPOINT``: a
    tick's first change to a page since the last checkpoint writes the whole
    page to the WAL, so that is where ticks cost the most, and every run
    measures the same point of the checkpoint cycle. The WAL each tick wrote
    (the server's WAL position before and after it) is logged with it.
``standings after the ticks``
    ``compute_standings(pool, now)``: the campaigns the ticks changed.
``leaderboard read``
    ``--readers`` asyncio tasks on a pool of as many connections, each calling
    ``upscale_api.scoring.leaderboard.read(conn, campaign, scope, resident, 100)``
    (the top 100 and the caller's own entry and rank) in a loop for random
    residents of the national campaign (every resident is enrolled):
    ``individual`` for ``--read-seconds``, then ``team`` for
    ``--team-read-seconds``, each after a 2 s warm-up.
``tick absorbing the engaged residents' history``, ``incremental tick, occasional residents``, ``... engaged residents``
    Only with ``--engaged N``: N participants of the national campaign who
    enrolled before it began get their first counted action again on every day
    of the campaign up to eight days ago (the generated log gives a resident
    about ten actions a year; these log daily), and one tick absorbs that
    (their days before the cut-off changed: the history is stored again). Then
    ``--engaged-rounds`` ticks of 4 new days each for N / rounds of N other
    participants (occasional: their few generated actions), and as many ticks
    for the engaged: the same work per tick, each participant's campaign as
    long as the residents' history makes it.

After the rescore and after each standings run the derived tables get an
untimed ``VACUUM (ANALYZE)``, as autovacuum would soon after such bulk writes,
so that it does not start in the middle of a later measurement.

Columns: rows (what the operation produced or read), seconds, throughput,
p50/p99 (max for the ticks), peak RSS of this process, peak memory of the
PostgreSQL server (sum of its processes' private memory, ``RssAnon``, plus
the largest shared part, ``RssShmem``, once), and the CPU seconds each used
and the rest of the machine used meanwhile (anything but 0 there disturbed
the measurement).
Each run adds ``--ticks`` x ``--tick-actions`` actions to the database;
``--generate`` starts afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

import country
from procstats import (
    PeakSampler,
    admin_url,
    configure_server,
    descendants,
    local_parent,
    machine_busy_seconds,
    proc_table,
    run_loop,
)
from upscale_api import db, migrations
from upscale_api.scoring import leaderboard, queries, service
from upscale_api.settings import load_settings
from upscale_api.worker import pool_settings

BASELINE_SELECT = """
SELECT resident_id, local_date, action_type_id, sum(quantity) AS quantity, sum(co2e_kg) AS co2e_kg,
       count(*) AS actions
FROM action_logs WHERE deleted_at IS NULL GROUP BY 1, 2, 3
"""
# The server's WAL position, and the bytes written since position $1.
WAL_POSITION = "SELECT pg_current_wal_insert_lsn()::text"
WAL_SINCE = "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::text::pg_lsn)::bigint"
# The least a tick must write (the baseline for the ticks), in one of the tick's parts: $1 the tick's watermark,
# the part's residents those with id modulo $2 equal to $3 (the tick's own predicates). Rolled back afterwards.
TICK_WRITES = [
    f"""
    CREATE TEMP TABLE bench_days ON COMMIT DROP AS
    SELECT resident_id, local_date, action_type_id, min(city_id) AS city_id, sum(quantity) AS quantity,
           sum(co2e_kg) AS co2e_kg, count(*)::int AS actions
    FROM action_logs
    WHERE {queries.WRITTEN_SINCE} AND {queries.IN_PART} AND deleted_at IS NULL
    GROUP BY 1, 2, 3
    """,
    "ANALYZE bench_days",
    """
    INSERT INTO resident_days AS d (resident_id, local_date, action_type_id, city_id, district_id, quantity, co2e_kg,
                                    actions, held)
    SELECT b.resident_id, b.local_date, b.action_type_id, b.city_id, r.district_id, b.quantity, b.co2e_kg, b.actions,
           false
    FROM bench_days b JOIN residents r ON r.id = b.resident_id
    ON CONFLICT (resident_id, local_date, action_type_id) DO UPDATE
    SET quantity = d.quantity + excluded.quantity, co2e_kg = d.co2e_kg + excluded.co2e_kg,
        actions = d.actions + excluded.actions
    """,
    """
    CREATE TEMP TABLE bench_moved ON COMMIT DROP AS
    WITH added AS (
        INSERT INTO campaign_days AS d (campaign_id, resident_id, local_date, action_type_id, city_id, district_id,
                                        team_id, quantity, co2e_kg, points, actions)
        SELECT e.campaign_id, b.resident_id, b.local_date, b.action_type_id, b.city_id, NULL, e.team_id, b.quantity,
               b.co2e_kg, b.quantity * x.points_per_unit::numeric, b.actions
        FROM bench_days b
        JOIN enrolments e ON e.resident_id = b.resident_id AND e.left_at IS NULL
        JOIN campaigns k ON k.id = e.campaign_id AND b.local_date BETWEEN k.starts_on AND k.ends_on
        JOIN campaign_action_types x ON x.campaign_id = e.campaign_id AND x.action_type_id = b.action_type_id
        ON CONFLICT (campaign_id, resident_id, local_date, action_type_id) DO UPDATE
        SET quantity = d.quantity + excluded.quantity, co2e_kg = d.co2e_kg + excluded.co2e_kg,
            points = d.points + excluded.points, actions = d.actions + excluded.actions
        RETURNING campaign_id, resident_id, points, co2e_kg, actions
    )
    SELECT campaign_id, resident_id, sum(points) AS points, sum(co2e_kg) AS co2e_kg, sum(actions)::int AS actions
    FROM added GROUP BY 1, 2
    """,
    """
    UPDATE campaign_scores s
    SET points = s.points + m.points, co2e_kg = s.co2e_kg + m.co2e_kg, actions = s.actions + m.actions,
        updated_at = now()
    FROM bench_moved m WHERE s.campaign_id = m.campaign_id AND s.resident_id = m.resident_id
    """,
    """
    INSERT INTO challenges_met (challenge_id, resident_id, met_at)
    SELECT (SELECT min(ch.id) FROM challenges ch WHERE ch.campaign_id = m.campaign_id), m.resident_id, now()
    FROM bench_moved m
    WHERE m.resident_id / 2 % 8 = 0 AND EXISTS (SELECT FROM challenges ch WHERE ch.campaign_id = m.campaign_id)
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO earned_badges (badge_id, resident_id, earned_at)
    SELECT (SELECT min(b.id) FROM badges b WHERE b.campaign_id = m.campaign_id), m.resident_id, now()
    FROM bench_moved m
    WHERE m.resident_id / 2 % 4 = 1 AND EXISTS (SELECT FROM badges b WHERE b.campaign_id = m.campaign_id)
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO notifications (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, locale, expires_at)
    SELECT m.resident_id, r.city_id, 'achievement', m.campaign_id, 'bench:' || m.campaign_id, 'Challenge met',
           'You met a challenge', r.locale, now() + interval '3 days'
    FROM bench_moved m JOIN residents r ON r.id = m.resident_id
    WHERE m.resident_id / 2 % 5 < 2
    ON CONFLICT DO NOTHING
    """,
]
TARGET_RATIO = 2.0
TARGET_TICK_S = 1.0
TARGET_READ_P99_MS = 10.0
LIMIT = 100


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Memory and CPU -------------------------------------------------------------


def status_kb(pid: int, *keys: str) -> dict[str, int]:
    """Fields of /proc/<pid>/status in kB (0 when gone)."""
    found = dict.fromkeys(keys, 0)
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                name, _, value = line.decode().partition(":")
                if name in found:
                    found[name] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return found


class Monitor(PeakSampler):
    """Samples (every 100 ms) this process's RSS and the PostgreSQL server's memory."""

    def __init__(self, postmaster: int | None) -> None:
        super().__init__(0.1)
        self.postmaster = postmaster
        self.peak_pg = 0

    def sample(self) -> None:
        super().sample()
        if self.postmaster is None:
            return
        private = shared = 0
        for pid in self.processes_under(self.postmaster):
            kb = status_kb(pid, "RssAnon", "RssShmem")
            private += kb["RssAnon"]
            shared = max(shared, kb["RssShmem"])
        self.peak_pg = max(self.peak_pg, (private + shared) * 1024)

    def reset(self) -> None:
        self.peak_pg = 0
        super().reset()

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far of this process, of the PostgreSQL server (its exited backends included) and of
        the whole machine."""
        table = proc_table()
        own = table[self.me][1] if self.me in table else 0.0
        pg = 0.0
        if self.postmaster is not None:
            pg = sum(table[pid][1] + table[pid][2] for pid in descendants(table, self.postmaster))
        return own, pg, machine_busy_seconds()


@dataclass
class Row:
    operation: str
    rows: int | None
    seconds: float
    latencies: list[float] = field(default_factory=list)
    """Seconds per call, where calls were repeated."""
    rss_self: int = 0
    rss_pg: int = 0
    cpu_self: float = 0.0
    cpu_pg: float = 0.0
    cpu_other: float = 0.0
    """CPU seconds of everything else on the machine meanwhile (other work disturbs the numbers)."""
    note: str = ""

    def percentile_ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


class Meter:
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.rows: list[Row] = []

    async def measure(self, operation: str, work: Callable[[], Awaitable[Row]]) -> Row:
        """Run ``work`` (which fills rows, seconds and latencies) and add memory and CPU."""
        log(f"{operation} ...")
        self.monitor.reset()
        cpu_before = self.monitor.cpu()
        row = await work()
        cpu_after = self.monitor.cpu()
        self.monitor.sample()
        row.operation = operation
        row.rss_self, row.rss_pg = self.monitor.peak_self, self.monitor.peak_pg
        row.cpu_self, row.cpu_pg, machine = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
        row.cpu_other = max(0.0, machine - row.cpu_self - row.cpu_pg)
        self.rows.append(row)
        extra = f"  p50 {row.percentile_ms(0.5):.2f} ms  p99 {row.percentile_ms(0.99):.2f} ms" if row.latencies else ""
        log(f"{operation}: {row.seconds:.2f} s, {row.rows if row.rows is not None else '-'} rows{extra} {row.note}")
        return row


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = await call()
    return result, time.perf_counter() - t0


# --- The operations ---------------------------------------------------------------


async def baseline_count(pool: db.Pool) -> Row:
    rows, seconds = await timed(lambda: pool.fetchval(f"SELECT count(*) FROM ({BASELINE_SELECT}) s"))
    return Row("", int(rows), seconds)


async def baseline_table(pool: db.Pool, *, parallel: bool) -> Row:
    """The aggregate written into an ordinary table; with ``parallel`` false in one process, as an INSERT runs."""
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE IF EXISTS bench_baseline")
        async with conn.transaction():
            if not parallel:
                await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            status, seconds = await timed(lambda: conn.execute(f"CREATE TABLE bench_baseline AS {BASELINE_SELECT}"))
        await conn.execute("DROP TABLE bench_baseline")
    return Row("", db.rows_affected(status), seconds)


async def tick_writes(pool: db.Pool, parts: int) -> float:
    """Seconds to run TICK_WRITES in ``parts`` sessions side by side, each rolled back."""
    seen = await pool.fetchval("SELECT seen FROM job_watermarks WHERE job = $1", service.TICK_JOB)

    async def part(remainder: int) -> None:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute(TICK_WRITES[0], seen, parts, remainder)
                for statement in TICK_WRITES[1:]:
                    await conn.execute(statement)
            finally:
                await transaction.rollback()

    t0 = time.perf_counter()
    await asyncio.gather(*(part(remainder) for remainder in range(parts)))
    return time.perf_counter() - t0


async def vacuum(pool: db.Pool) -> None:
    t0 = time.perf_counter()
    await pool.execute("VACUUM (ANALYZE)")
    log(f"  (untimed VACUUM (ANALYZE): {time.perf_counter() - t0:.1f} s)")


class Burst:
    """New actions for a tick: random residents, the last 7 days, each day within the type's daily limit and under
    its plausible limit (nothing held for review)."""

    def __init__(self, rng: random.Random, types: list[country.Type], first: int, last: int, zone: ZoneInfo) -> None:
        self.rng = rng
        self.types = types
        self.first, self.last = first, last
        self.zone = zone

    async def write(self, pool: db.Pool, count: int, now: datetime) -> tuple[int, int]:
        """Insert ``count`` actions and soft-delete 1% as many; returns (inserted, deleted)."""
        rng = self.rng
        today = now.astimezone(self.zone).date()
        since = today - timedelta(days=6)
        residents = sorted({rng.randint(self.first, self.last) for _ in range(count)})
        async with pool.acquire() as conn:
            cities: dict[int, int] = {
                r["id"]: r["city_id"]
                for r in await conn.fetch("SELECT id, city_id FROM residents WHERE id = ANY($1)", residents)
            }
            totals: dict[tuple[int, date, int], float] = {
                (r["resident_id"], r["local_date"], r["action_type_id"]): r["total"]
                for r in await conn.fetch(
                    """
                    SELECT resident_id, local_date, action_type_id, sum(quantity) AS total FROM action_logs
                    WHERE resident_id = ANY($1) AND local_date >= $2 AND deleted_at IS NULL GROUP BY 1, 2, 3
                    """,
                    residents,
                    since,
                )
            }
            live = [
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM action_logs WHERE resident_id = ANY($1) AND local_date >= $2 "
                    "AND deleted_at IS NULL ORDER BY id",
                    residents,
                    since,
                )
            ]
        records: list[tuple[Any, ...]] = []
        while len(records) < count:
            resident = rng.choice(residents)
            t = rng.choice(self.types)
            back = 0 if rng.random() < 0.7 else rng.randint(1, 6)
            day = today - timedelta(days=back)
            local = datetime.combine(day, clock(7), self.zone) + timedelta(minutes=rng.randint(0, 14 * 60))
            performed_at = min(local.astimezone(UTC), now - timedelta(minutes=1))
            day = performed_at.astimezone(self.zone).date()
            steps = rng.randint(0, max(0, int((t.max_quantity - t.min_quantity) / t.step) // 4))
            quantity = round(t.min_quantity + steps * t.step, 6)
            key = (resident, day, t.id)
            if totals.get(key, 0.0) + quantity > t.usual_per_day + 1e-9:
                continue
            totals[key] = totals.get(key, 0.0) + quantity
            records.append(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    resident,
                    cities[resident],
                    t.id,
                    quantity,
                    performed_at,
                    day,
                    now,
                    t.baseline_id,
                    t.option_id,
                    round(quantity * t.saving, 6),
                )
            )
        deleted = rng.sample(live, min(len(live), count // 100))
        async with pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "action_logs",
                records=records,
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
            await conn.execute(
                "UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() WHERE id = ANY($1)",
                deleted,
            )
        return len(records), len(deleted)


async def leaderboard_reads(
    pool: db.Pool,
    campaign_id: int,
    scope: Any,
    first: int,
    last: int,
    readers: int,
    seconds: float,
    warmup: float,
    seed: int,
) -> Row:
    latencies: list[float] = []
    missing = 0
    short = 0
    loop_start = time.perf_counter()
    start, end = loop_start + warmup, loop_start + warmup + seconds
    last_end = start

    async def reader(n: int) -> None:
        nonlocal missing, short, last_end
        rng = random.Random(seed * 1000 + n)
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                return
            resident = rng.randint(first, last)
            async with pool.acquire() as conn:
                top, own = await leaderboard.read(conn, campaign_id, scope, resident, LIMIT)
            t1 = time.perf_counter()
            if t0 >= start:
                latencies.append(t1 - t0)
                last_end = max(last_end, t1)
                missing += own is None
                short += len(top) < LIMIT

    await asyncio.gather(*(reader(n) for n in range(readers)))
    note = f"({readers} readers; {missing} calls without an own entry, {short} with fewer than {LIMIT} entries)"
    return Row("", len(latencies), last_end - start, latencies, note=note)


# --- Engaged residents ----------------------------------------------------------------
#
# The generated log gives a resident about ten actions a year, so a tick reads a
# few days of each participant's campaign. A resident who logs every day has a
# day for every day of the campaign, and a tick recomputes their scores and
# challenges over all of them.

# Up to 2 x $2 participants of campaign $1 enrolled before its first day who
# logged an action it counts, each with the first such action: the template
# their new actions copy. Numbered within each half: the engaged (even rows)
# and the occasional (odd rows).
ENGAGED_TEMPLATES = """
INSERT INTO bench_engaged
SELECT row_number() OVER (PARTITION BY r.engaged ORDER BY r.resident_id) - 1, r.*
FROM (SELECT row_number() OVER (ORDER BY a.resident_id) % 2 = 0 AS engaged, a.*
      FROM (SELECT DISTINCT ON (a.resident_id) a.*
            FROM action_logs a
            JOIN campaigns k ON k.id = $1
            JOIN enrolments e ON e.campaign_id = k.id AND e.resident_id = a.resident_id AND e.left_at IS NULL
            JOIN campaign_action_types x ON x.campaign_id = k.id AND x.action_type_id = a.action_type_id
            WHERE e.enrolled_at < k.starts_on AND a.deleted_at IS NULL
              AND a.local_date BETWEEN k.starts_on AND k.ends_on
            ORDER BY a.resident_id, a.performed_at, a.id) a
      ORDER BY a.resident_id LIMIT 2 * $2) r
"""
ACTION_COLUMNS = (
    "id, resident_id, city_id, action_type_id, quantity, performed_at, local_date, baseline_factor_id, "
    "option_factor_id, co2e_kg"
)
# The engaged's history: their template's action at noon every day from the
# campaign's first day ($1) to $2 but their template's own. $3: time zone.
ENGAGED_HISTORY = f"""
INSERT INTO action_logs ({ACTION_COLUMNS})
SELECT gen_random_uuid(), t.resident_id, t.city_id, t.action_type_id, t.quantity,
       (d.day + time '12:00') AT TIME ZONE $3, d.day, t.baseline_factor_id, t.option_factor_id, t.co2e_kg
FROM bench_engaged t
JOIN campaigns k ON k.id = $1
CROSS JOIN LATERAL generate_series(k.starts_on, $2::date, interval '1 day') AS g (day_start)
CROSS JOIN LATERAL (SELECT g.day_start::date AS day) d
WHERE t.engaged AND d.day <> t.local_date
"""
# A tick's actions: the template's action at $4 minus a minute and the same on
# each of the $5 - 1 days before, for the residents numbered $3 modulo $2 of
# the engaged ($1) or the occasional. $6: time zone.
ENGAGED_BURST = f"""
INSERT INTO action_logs ({ACTION_COLUMNS})
SELECT gen_random_uuid(), t.resident_id, t.city_id, t.action_type_id, t.quantity, p.performed_at,
       (p.performed_at AT TIME ZONE $6)::date, t.baseline_factor_id, t.option_factor_id, t.co2e_kg
FROM bench_engaged t
CROSS JOIN generate_series(0, $5 - 1) AS g (back)
CROSS JOIN LATERAL (SELECT $4::timestamptz - make_interval(days => g.back, mins => 1) AS performed_at) p
WHERE t.engaged = $1 AND t.n % $2 = $3
"""
ENGAGED_DAYS_PER_TICK = 4
BACKDATE_DAYS = 7  # the settings' default: how far back actions may be logged


async def history_row(pool: db.Pool, meter: Meter, operation: str) -> None:
    """``service.advance_history`` with the cut-off the worker would choose today."""
    cutoff = service.history_cutoff(datetime.now(ZoneInfo(country.ZONE)).date(), BACKDATE_DAYS)

    async def advance() -> Row:
        stored, seconds = await timed(lambda: service.advance_history(pool, cutoff))
        return Row("", stored, seconds, note=f"participants with days before {cutoff}")

    await meter.measure(operation, advance)
    await vacuum(pool)


async def engaged_rows(pool: db.Pool, meter: Meter, campaign_id: int, residents: int, rounds: int, parts: int) -> None:
    """Ticks of residents who logged every day of the campaign against ticks of as many who rarely do.

    ``residents`` participants of ``campaign_id`` get an action on every day of the
    campaign up to eight days ago (one tick absorbs them); then ``rounds`` ticks of
    ``ENGAGED_DAYS_PER_TICK`` new days for each of ``residents / rounds`` occasional
    participants (other ones each time), and as many of the engaged."""
    zone = country.ZONE
    async with pool.acquire() as conn:
        await conn.execute(
            "DROP TABLE IF EXISTS bench_engaged; CREATE TABLE bench_engaged (n bigint, engaged boolean, "
            "LIKE action_logs)"
        )
        await conn.execute(ENGAGED_TEMPLATES, campaign_id, residents)
        found = await conn.fetchval("SELECT count(*) FROM bench_engaged WHERE engaged")
    per_round = found // rounds

    async def history() -> Row:
        until = datetime.now(ZoneInfo(zone)).date() - timedelta(days=8)
        written = db.rows_affected(await pool.execute(ENGAGED_HISTORY, campaign_id, until, zone))
        report, seconds = await timed(lambda: service.tick(pool, datetime.now(UTC), parts=parts))
        days = written / found if found else 0
        return Row("", written, seconds, note=f"{found:,} residents, {days:.0f} days each; {report}")

    await meter.measure("tick absorbing the engaged residents' history", history)
    await vacuum(pool)
    # Their days before the cut-off changed, so those participants were recomputed from all their days and
    # their stored history dropped until the next advance, which the worker makes once a week.
    await history_row(pool, meter, "history before the cut-off, again")
    for engaged in (False, True):
        kind = "engaged" if engaged else "occasional"

        async def ticks(engaged: bool = engaged, kind: str = kind) -> Row:
            latencies = []
            for round_ in range(rounds):
                now = datetime.now(UTC)
                await pool.execute(ENGAGED_BURST, engaged, rounds, round_, now, ENGAGED_DAYS_PER_TICK, zone)
                t0 = time.perf_counter()
                report = await service.tick(pool, now, parts=parts)
                latencies.append(time.perf_counter() - t0)
                log(f"  {kind}, tick {round_ + 1}: {latencies[-1]:.3f} s  {report}")
            note = f"{rounds} ticks of {per_round:,} residents x {ENGAGED_DAYS_PER_TICK} days"
            return Row("", per_round * ENGAGED_DAYS_PER_TICK * rounds, sum(latencies), latencies, note=note)

        await meter.measure(f"incremental tick, {kind} residents", ticks)
    await pool.execute("DROP TABLE bench_engaged")


# --- The run ----------------------------------------------------------------------


async def rescore_rows(pool: db.Pool, meter: Meter) -> None:
    """The baselines, the full rescore and the standings it makes due."""
    await meter.measure("baseline: aggregate (count)", lambda: baseline_count(pool))
    parallel = await meter.measure("baseline: aggregate into a table", lambda: baseline_table(pool, parallel=True))
    base = await meter.measure(
        "baseline: aggregate into a table, one process", lambda: baseline_table(pool, parallel=False)
    )

    async def rebuild() -> Row:
        marks = [time.perf_counter()]

        def progress(done: int, steps: int) -> None:
            marks.append(time.perf_counter())
            log(f"  step {done}/{steps}: {marks[-1] - marks[-2]:.2f} s")

        report, seconds = await timed(lambda: service.rebuild(pool, datetime.now(UTC), progress=progress))
        log(f"  {report}")
        return Row("", report.resident_days, seconds, note=f"{report.participants:,} participants")

    full = await meter.measure("full rescore", rebuild)
    full.note += (
        f"; {full.seconds / base.seconds:.1f}x the one-process baseline, "
        f"{full.seconds / parallel.seconds:.1f}x the parallel one"
    )
    await vacuum(pool)

    async def standings() -> Row:
        count, seconds = await timed(lambda: service.compute_standings(pool, datetime.now(UTC)))
        return Row("", count, seconds, note="campaigns")

    await meter.measure("standings after the rescore", standings)

    async def goals() -> Row:
        told, seconds = await timed(lambda: service.announce_goals(pool, datetime.now(UTC)))
        return Row("", told, seconds, note="achievements (goal messages and badges)")

    await meter.measure("collective goals announced after the rescore", goals)
    await vacuum(pool)


async def live_rescore_row(pool: db.Pool, meter: Meter, parts: int) -> None:
    """``upscale rescore`` as on a live system: every resident, in chunks of 20,000, each in ``parts`` parts."""

    async def rescore() -> Row:
        report, seconds = await timed(lambda: service.rescore(pool, datetime.now(UTC), parts=parts))
        log(f"  {report}")
        return Row("", report.resident_days, seconds, note=f"{report.participants:,} participants, {parts} parts")

    await meter.measure("live rescore (chunks)", rescore)
    await vacuum(pool)


async def run(args: argparse.Namespace) -> int:
    server_url = admin_url()
    in_force = await configure_server(server_url, defaults=args.postgres_defaults)
    log("PostgreSQL: " + ", ".join(f"{name}={value}" for name, value in in_force.items()))
    scale = country.scale_of(args)
    generated: country.Generated | None = None
    if args.generate:
        generated = await country.generate(
            residents=scale.residents,
            actions=scale.actions,
            campaigns=scale.campaigns,
            database=args.database,
            seed=args.seed,
            server_url=server_url,
        )
    url = db.with_database(server_url, args.database)
    settings = load_settings()
    try:
        pool = await db.create_pool(url, pool_settings(settings))  # as the worker's: a connection per tick part
    except asyncpg.InvalidCatalogNameError:
        log(f"no database {args.database}: make it with --generate")
        return 2
    readers_pool = await db.create_pool(
        url, msgspec.structs.replace(settings, upscale_db_pool_min=args.readers, upscale_db_pool_max=args.readers)
    )
    monitor: Monitor | None = None
    try:
        async with pool.acquire() as conn:
            try:
                todo = await migrations.pending(conn)
            except migrations.MigrationError as exc:
                log(f"{exc}: the schema changed since {args.database} was generated; run with --generate")
                return 2
            if todo:
                log(f"{len(todo)} migration(s) not applied to {args.database}; run with --generate")
                return 2
            postmaster = local_parent(await conn.fetchval("SELECT pg_backend_pid()"))
            info = await conn.fetchrow(
                """
                SELECT version() AS version, current_setting('shared_buffers') AS shared_buffers,
                       current_setting('work_mem') AS work_mem, current_setting('max_wal_size') AS max_wal_size,
                       (SELECT count(*) FROM action_logs) AS actions,
                       (SELECT count(*) FROM residents WHERE firebase_uid LIKE $1) AS residents,
                       (SELECT min(id) FROM residents WHERE firebase_uid LIKE $1) AS first,
                       (SELECT max(id) FROM residents WHERE firebase_uid LIKE $1) AS last,
                       (SELECT id FROM campaigns WHERE code = $2) AS national,
                       (SELECT count(*) FROM campaigns) AS campaigns,
                       pg_size_pretty(pg_total_relation_size('action_logs')) AS size
                """,
                country.UID_PREFIX + "%",
                country.NATIONAL_CODE,
            )
            assert info is not None
            if info["national"] is None:
                log(f"{args.database} was not made by bench/country.py; run with --generate")
                return 2
            participants = await conn.fetchval(
                "SELECT count(*) FROM enrolments WHERE campaign_id = $1 AND left_at IS NULL", info["national"]
            )
            types = await country.catalogue(conn)
        log(
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {info['version'].split(' on ')[0]}, "
            f"shared_buffers={info['shared_buffers']}, work_mem={info['work_mem']}, "
            f"max_wal_size={info['max_wal_size']}"
        )
        log(
            f"{args.database}: {info['residents']:,} residents, {info['actions']:,} actions ({info['size']} "
            f"with indexes), {info['campaigns']} campaigns; national campaign: {participants:,} participants"
        )
        monitor = Monitor(postmaster)
        monitor.start()
        meter = Meter(monitor)
        # New actions get fresh ids on every run over the same database.
        rng = random.Random(args.seed * 1_000_003 + int(info["actions"]))
        zone = ZoneInfo(country.ZONE)
        first, last = int(info["first"]), int(info["last"])

        if not args.skip_rescore:
            await rescore_rows(pool, meter)
        if args.live_rescore:
            await live_rescore_row(pool, meter, settings.upscale_scoring_parts)

        async def standings() -> Row:
            count, seconds = await timed(lambda: service.compute_standings(pool, datetime.now(UTC)))
            return Row("", count, seconds, note="campaigns")

        burst = Burst(rng, types, first, last, zone)
        reports: list[Any] = []

        async def ticks() -> Row:
            latencies, wal_mb = [], []
            for n in range(args.ticks):
                now = datetime.now(UTC)
                inserted, deleted = await burst.write(pool, args.tick_actions, now)
                wal_from = await pool.fetchval(WAL_POSITION)
                t0 = time.perf_counter()
                report = await service.tick(pool, now, parts=settings.upscale_scoring_parts)
                seconds = time.perf_counter() - t0
                if report is None:
                    raise RuntimeError("tick returned None: another process holds the scoring lock")
                wal_mb.append(await pool.fetchval(WAL_SINCE, wal_from) / 1e6)
                latencies.append(seconds)
                reports.append(report)
                wal = f"{wal_mb[-1]:.0f} MB of WAL"
                log(f"  tick {n + 1}: {inserted} new, {deleted} deleted: {seconds:.3f} s, {wal}  {report}")
            row = Row("", sum(r.resident_days for r in reports), sum(latencies), latencies)
            row.note = (
                f"{args.ticks} ticks of {args.tick_actions:,} new actions each, from a checkpoint; "
                f"WAL per tick: first {wal_mb[0]:.0f} MB, median {statistics.median(wal_mb):.0f} MB"
            )
            return row

        async def writes() -> Row:
            latencies = []
            for n in range(args.ticks):
                now = datetime.now(UTC)
                if n == 0:
                    await pool.execute("CHECKPOINT")
                await burst.write(pool, args.tick_actions, now)
                latencies.append(await tick_writes(pool, settings.upscale_scoring_parts))
                await service.tick(pool, now, parts=settings.upscale_scoring_parts)  # untimed: scores the burst
                log(f"  writes {n + 1}: {latencies[-1]:.3f} s")
            return Row("", args.ticks * args.tick_actions, sum(latencies), latencies, note="new actions")

        await history_row(pool, meter, "history before the cut-off")
        await meter.measure("baseline: a tick's writes alone", writes)
        # Each tick's first change to a page since the last checkpoint writes the whole page to the WAL, so
        # the first ticks after a checkpoint cost the most; starting from one, every run measures that.
        await pool.execute("CHECKPOINT")
        await meter.measure("incremental tick", ticks)
        await meter.measure("standings after the ticks", standings)
        await vacuum(pool)

        await meter.measure(
            "leaderboard read, individual",
            lambda: leaderboard_reads(
                readers_pool, info["national"], "individual", first, last, args.readers, args.read_seconds, 2.0, 1
            ),
        )
        await meter.measure(
            "leaderboard read, team",
            lambda: leaderboard_reads(
                readers_pool, info["national"], "team", first, last, args.readers, args.team_read_seconds, 2.0, 2
            ),
        )
        if args.engaged:
            await engaged_rows(
                pool, meter, info["national"], args.engaged, args.engaged_rounds, settings.upscale_scoring_parts
            )
    finally:
        if monitor is not None:
            monitor.stop()
        await readers_pool.close()
        await pool.close()

    print_tables(meter.rows, generated, args)
    return 0


def print_tables(rows: list[Row], generated: country.Generated | None, args: argparse.Namespace) -> None:
    out = []
    if generated is not None:
        out += ["| generator stage | seconds |", "|---|---:|"]
        out += [f"| {name} | {seconds:.1f} |" for name, seconds in generated.stages]
        out += [f"| total | {generated.seconds:.1f} |", ""]
    out += [
        f"{os.cpu_count()} cores; database {args.database}",
        "",
        "| operation | rows | seconds | rows/s | p50 ms | p99 ms | max ms | peak RSS MB | PostgreSQL peak MB "
        "| CPU s (bench / PostgreSQL / other) | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        rate = f"{r.rows / r.seconds:,.0f}" if r.rows and r.seconds > 0 else "-"
        p50, p99 = r.percentile_ms(0.5), r.percentile_ms(0.99)
        top = max(r.latencies) * 1000 if r.latencies else None
        few = len(r.latencies) < 100

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}"

        out.append(
            f"| {r.operation} | {r.rows if r.rows is not None else '-'} | {r.seconds:.2f} | {rate} | {ms(p50)} "
            f"| {'-' if few else ms(p99)} | {ms(top)} | {r.rss_self / 2**20:.0f} | {r.rss_pg / 2**20:.0f} "
            f"| {r.cpu_self:.1f} / {r.cpu_pg:.1f} / {r.cpu_other:.1f} | {r.note} |"
        )
    by = {r.operation: r for r in rows}
    out.append("")
    base, full = by.get("baseline: aggregate into a table, one process"), by.get("full rescore")
    if base and full:
        ratio = full.seconds / base.seconds
        out.append(
            f"Full rescore within {TARGET_RATIO:g}x the baseline (into a table, one process): "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'} "
            f"({ratio:.2f}x)"
        )
    tick, writes = by.get("incremental tick"), by.get("baseline: a tick's writes alone")
    if tick and tick.latencies:
        worst = max(tick.latencies)
        against = ""
        if writes and writes.latencies:
            p50_ratio = (tick.percentile_ms(0.5) or 0.0) / (writes.percentile_ms(0.5) or 1.0)
            against = f"; {p50_ratio:.1f}x and {worst / max(writes.latencies):.1f}x its writes alone"
        out.append(
            f"Incremental tick at most {TARGET_TICK_S:g} s: {'met' if worst <= TARGET_TICK_S else 'NOT met'} "
            f"(p50 {(tick.percentile_ms(0.5) or 0.0) / 1000:.3f} s, max {worst:.3f} s{against})"
        )
    read = by.get("leaderboard read, individual")
    if read and read.latencies:
        p99 = read.percentile_ms(0.99) or 0.0
        out.append(
            f"Leaderboard read p99 at most {TARGET_READ_P99_MS:g} ms: "
            f"{'met' if p99 <= TARGET_READ_P99_MS else 'NOT met'} ({p99:.2f} ms)"
        )
    print("\n".join(out), flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    country.scale_arguments(parser)
    parser.add_argument("--generate", action="store_true", help="(re)generate the database first (bench/country.py)")
    parser.add_argument(
        "--skip-rescore", action="store_true", help="only the ticks and the reads, on an already scored database"
    )
    parser.add_argument(
        "--live-rescore",
        action="store_true",
        help="also measure upscale rescore as on a live system (chunks of residents; about 5 min at full scale)",
    )
    parser.add_argument("--ticks", type=int, default=10, help="incremental ticks (default 10)")
    parser.add_argument("--tick-actions", type=int, default=10_000, help="new actions before each tick (10,000)")
    parser.add_argument("--readers", type=int, default=16, help="concurrent leaderboard readers and connections (16)")
    parser.add_argument("--read-seconds", type=float, default=15.0, help="individual leaderboard reads (15 s)")
    parser.add_argument("--team-read-seconds", type=float, default=5.0, help="team leaderboard reads (5 s)")
    parser.add_argument(
        "--engaged",
        type=int,
        default=0,
        metavar="N",
        help="also measure ticks of N residents who logged every day of the national campaign against N who did not",
    )
    parser.add_argument("--engaged-rounds", type=int, default=2, help="ticks of each kind with --engaged (2)")
    parser.add_argument(
        "--postgres-defaults",
        action="store_true",
        help="measure with PostgreSQL's default memory and checkpoint settings, not procstats.SERVER_SETTINGS",
    )
    args = parser.parse_args(argv)
    if args.ticks < 1 or args.tick_actions < 1 or args.readers < 1 or args.engaged_rounds < 1:
        parser.error("--ticks, --tick-actions, --readers and --engaged-rounds must be positive")
    return args


def main() -> None:
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs, harmless
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
