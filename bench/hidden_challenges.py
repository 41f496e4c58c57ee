"""Scoring only the challenges a participant's arm gets: what the check costs the challenge statements.

    python3 run.py bench bench/hidden_challenges.py [--generate] [--scale full|small] [--residents N]
                                                   [--actions N] [--campaigns N] [--database NAME]
                                                   [--participants 2000] [--repeats 15] [--rebuild-repeats 3]

Runs on a database made by ``bench/country.py`` (``--database``, default
``upscale_country``; ``--generate`` makes it first with the sizes given), scored
once with ``scoring.rebuild`` if it was not yet. The server's settings are left
as they are. Each row runs a statement in a transaction that is rolled back,
alternating with its baseline, ``--repeats`` times:

``baseline: CHALLENGES without the arms' check``
    ``queries.CHALLENGES`` with the ``restricted`` and ``hidden`` definitions and
    the ``NOT EXISTS`` on them taken out: the statement as it was before arms
    decided what is judged.
``CHALLENGES``
    The statement as a tick runs it. Both over the same unit: ``--participants``
    current enrolments picked at random (the same ones every time), marked as a
    tick marks them, from all their days (no stored history).
``REBUILD_CHALLENGES`` (and its baseline)
    The same for a full rebuild's statement over every participant, with the
    rebuild's settings, ``--rebuild-repeats`` times.

Both pairs run twice: on the data as generated (no campaign is in a study), and
with a study on the national campaign whose treated arm (one of two) gets two of
its challenges, a distinct-days one and a team rule, and 70% of its participants
consenting and assigned (set up in a transaction rolled back at the end).
Peak memory is the PostgreSQL backend's anonymous RSS, sampled every 20 ms.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import msgspec

import country
from procstats import PeakSampler, admin_url, run_loop
from upscale_api import db
from upscale_api.research.service import assign_waiting
from upscale_api.research.store import apply_studies
from upscale_api.research.structs import Study
from upscale_api.scoring import queries, service
from upscale_api.settings import load_settings

STUDY = "bench-hidden-challenges"
CHECK = re.compile(r"\), restricted AS MATERIALIZED \(.*?\n\), counted AS", re.DOTALL)
FILTER = re.compile(r"\n *-- a challenge the participant's arm.*?FROM hidden\)", re.DOTALL)


def without_check(statement: str) -> str:
    """``statement`` as it was before arms decided what is judged."""
    bare = FILTER.sub("", CHECK.sub("), counted AS", statement))
    if "hidden" in bare or "restricted" in bare:
        raise ValueError("the arms' check is written differently: update this benchmark's patterns")
    return bare


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Backend(PeakSampler):
    """Samples the peak anonymous RSS of one PostgreSQL backend."""

    def __init__(self, pid: int) -> None:
        super().__init__(0.02)
        self.pid = pid
        self.peak_backend = 0

    def sample(self) -> None:
        super().sample()
        try:
            with open(f"/proc/{self.pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"RssAnon:"):
                        self.peak_backend = max(self.peak_backend, int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            pass

    def reset(self) -> None:
        self.peak_backend = 0
        super().reset()


@dataclass
class Row:
    case: str
    operation: str
    participants: int
    latencies: list[float] = field(default_factory=list)
    peak_backend: int = 0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


@dataclass
class Pair:
    """A statement measured against its baseline: the steps before it, how often, over how many participants,
    and the (campaign, resident) pairs of a unit to copy into ``bench_unit`` first."""

    name: str
    setup: list[str]
    statement: str
    repeats: int
    participants: int
    unit: list[tuple[int, int]] = field(default_factory=list)


async def timed(conn: asyncpg.Connection, pair: Pair, statement: str, now: datetime) -> float:
    """Seconds ``statement`` takes after the pair's setup, in a transaction (or savepoint) rolled back."""
    tx = conn.transaction()
    await tx.start()
    try:
        for step in pair.setup:
            await conn.execute(step)
            if pair.unit and step.startswith("CREATE TEMP TABLE bench_unit"):
                await conn.copy_records_to_table("bench_unit", records=pair.unit)
        start = time.perf_counter()
        await conn.execute(statement, now)
        return time.perf_counter() - start
    finally:
        await tx.rollback()


async def measure(conn: asyncpg.Connection, backend: Backend, case: str, pairs: list[Pair], now: datetime) -> list[Row]:
    """Each pair's statement against its baseline, alternating."""
    rows = []
    for pair in pairs:
        log(f"{case}: {pair.name} ...")
        baseline = Row(case, f"baseline: {pair.name} without the arms' check", pair.participants)
        checked = Row(case, pair.name, pair.participants)
        for _ in range(pair.repeats):
            for row, sql in ((baseline, without_check(pair.statement)), (checked, pair.statement)):
                backend.reset()
                row.latencies.append(await timed(conn, pair, sql, now))
                backend.sample()
                row.peak_backend = max(row.peak_backend, backend.peak_backend)
        rows += [baseline, checked]
    return rows


async def add_study(conn: asyncpg.Connection, now: datetime) -> str:
    """A study on the national campaign (the largest): its treated arm gets a distinct-days challenge and
    a team rule; 70% of its participants consent and are assigned. Returns the campaign's code."""
    campaign = await conn.fetchrow(
        "SELECT k.code, k.id, (SELECT c.code FROM cities c WHERE c.id = k.city_id) AS city "
        "FROM campaigns k JOIN enrolments e ON e.campaign_id = k.id GROUP BY k.id ORDER BY count(*) DESC LIMIT 1"
    )
    kinds = {
        r["kind"]: r["code"]
        for r in await conn.fetch(
            "SELECT DISTINCT ON (rule ->> 'kind') rule ->> 'kind' AS kind, code FROM challenges "
            "WHERE campaign_id = $1 AND active ORDER BY rule ->> 'kind', code",
            campaign["id"],
        )
    }
    hidden = [kinds[k] for k in ("distinct_days", "team_participation") if k in kinds]
    text = {"sl": "Primerjava", "en": "Benchmark"}
    study = msgspec.convert(
        {
            "code": STUDY,
            "title": text,
            "description": text,
            "campaigns": [campaign["code"]],
            "seed": "bench-seed",
            "arm": [
                {"code": "control", "control": True, "title": text},
                {"code": "treated", "title": text, "challenges": hidden},
            ],
        },
        Study,
    )
    _, problems = await apply_studies(conn, [(campaign["city"], study)], "file")
    if problems:
        raise RuntimeError(f"the benchmark's study was refused: {problems}")
    await conn.execute(
        "INSERT INTO consents (resident_id, purpose, city_id, version, granted, decided_at) "
        "SELECT e.resident_id, 'research', e.city_id, "
        "       (SELECT max(version) FROM consent_documents WHERE purpose = 'research'), true, $2 "
        "FROM enrolments e WHERE e.campaign_id = $1 AND e.left_at IS NULL AND hashint8(e.resident_id) % 10 < 7 "
        "ON CONFLICT (resident_id, purpose) DO UPDATE SET granted = true, version = excluded.version",
        campaign["id"],
        now,
    )
    assigned = await assign_waiting(conn, [STUDY], now)
    log(f"study on {campaign['code']}: the treated arm gets {', '.join(hidden)}; {assigned:,} assigned")
    return str(campaign["code"])


def print_table(rows: list[Row], args: argparse.Namespace, generated: str) -> None:
    print(
        f"\nScoring only the challenges an arm gets ({generated}; {args.repeats} runs of CHALLENGES, "
        f"{args.rebuild_repeats} of REBUILD_CHALLENGES, each alternating with its baseline)\n"
    )
    print("| case | statement | participants/s | p50 ms | p99 ms | vs baseline (p50) | peak backend memory |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for i, row in enumerate(rows):
        p50 = row.percentile_ms(0.5)
        base = rows[i - 1] if i % 2 else row
        ratio = "" if base is row else f"{(p50 / base.percentile_ms(0.5) - 1) * 100:+.1f}%"
        throughput = row.participants / statistics.median(row.latencies)
        print(
            f"| {row.case} | {row.operation} | {throughput:,.0f} | {p50:.1f} | {row.percentile_ms(0.99):.1f} | "
            f"{ratio} | {row.peak_backend / 2**20:.0f} MB |"
        )


async def run(args: argparse.Namespace) -> int:
    server_url = admin_url()
    scale = country.scale_of(args)
    if args.generate:
        await country.generate(
            residents=scale.residents,
            actions=scale.actions,
            campaigns=scale.campaigns,
            database=args.database,
            seed=args.seed,
            server_url=server_url,
        )
    url = db.with_database(server_url, args.database)
    now = datetime.now(UTC)
    settings = load_settings()
    pool = await db.create_pool(url, msgspec.structs.replace(settings, upscale_db_pool_min=1, upscale_db_pool_max=3))
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT EXISTS (SELECT FROM campaign_scores)"):
            log("scoring the data once (scoring.rebuild) ...")
            await service.rebuild(pool, now)
    conn = await pool.acquire()
    backend = Backend(conn.get_server_pid())
    backend.start()
    try:
        await conn.execute("ANALYZE")
        enrolments = await conn.fetch(
            "SELECT campaign_id, resident_id FROM enrolments WHERE left_at IS NULL ORDER BY campaign_id, resident_id"
        )
        unit = random.Random(args.seed).sample(list(enrolments), min(args.participants, len(enrolments)))
        # The unit's participants marked as MARK_ALL_MEMBERS marks everyone.
        mark = queries.MARK_ALL_MEMBERS.split(";")[0].replace(
            "FROM enrolments e CROSS JOIN",
            "FROM enrolments e JOIN bench_unit u USING (campaign_id, resident_id) CROSS JOIN",
        )
        unit_setup = [
            queries.UNIT_SETTINGS,
            queries.SCRATCH,
            queries.NEWS_TABLE,
            "CREATE TEMP TABLE bench_unit (campaign_id integer, resident_id bigint) ON COMMIT DROP",
            mark,
            queries.ANALYZE_SCRATCH,
        ]
        fill_unit = [(c, r) for c, r in unit]
        rebuild_setup = [
            queries.REBUILD_SETTINGS,
            queries.SCRATCH,
            queries.NEWS_TABLE,
            queries.MARK_ALL_MEMBERS,
            queries.ANALYZE_SCRATCH,
            ";".join((queries.PLANNER_DEFAULTS, queries.HASHED_RULES)),
        ]
        everyone = len(enrolments)
        pairs = [
            Pair("CHALLENGES", unit_setup, queries.CHALLENGES, args.repeats, len(unit), fill_unit),
            Pair("REBUILD_CHALLENGES", rebuild_setup, queries.REBUILD_CHALLENGES, args.rebuild_repeats, everyone),
        ]
        rows = await measure(conn, backend, "no study", pairs, now)
        study = conn.transaction()
        await study.start()
        try:
            campaign = await add_study(conn, now)
            await conn.execute("ANALYZE study_assignments, consents, study_arms, study_campaigns, studies")
            rows += await measure(conn, backend, f"study on {campaign}", pairs, now)
        finally:
            await study.rollback()
        print_table(rows, args, await describe(conn))
    finally:
        backend.stop()
        await pool.release(conn)
        await pool.close()
    return 0


async def describe(conn: asyncpg.Connection) -> str:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM residents) AS residents, (SELECT count(*) FROM action_logs) AS actions, "
        "(SELECT count(*) FROM campaigns) AS campaigns, (SELECT count(*) FROM enrolments) AS enrolments"
    )
    return (
        f"{row['residents']:,} residents, {row['actions']:,} actions, {row['campaigns']:,} campaigns, "
        f"{row['enrolments']:,} enrolments"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--generate", action="store_true", help="(re)generate the database first (bench/country.py)")
    country.scale_arguments(parser)
    parser.add_argument("--participants", type=int, default=2000, help="participants in the tick's unit (2,000)")
    parser.add_argument("--repeats", type=int, default=15, help="runs of CHALLENGES and its baseline (15)")
    parser.add_argument("--rebuild-repeats", type=int, default=3, help="runs of REBUILD_CHALLENGES (3)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    return run_loop(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
