"""The anonymised research export against a raw ``COPY ... TO`` of the same action rows, in the same run.

    python3 run.py bench bench/research_export.py [--generate] [--scale full|small] [--database NAME]

On the country-scale database of ``bench/country.py`` (``--generate`` makes it
first with the same size options; otherwise it must exist). A study is put on
the national campaign: every resident enrolled in it grants research consent
and is assigned to one of two arms (written set-based, as a benchmark set-up).
Then, each once, measured:

``raw COPY``
    ``COPY (SELECT a.* FROM action_logs a JOIN study_assignments ...) TO STDOUT``
    of the study's participants' live actions in the study's days, to a file:
    what PostgreSQL alone takes to hand the rows out.
``export``
    ``upscale_api.research.export.run_export`` of the study: participants and the
    k-anonymity gate, every microdata table as CSV and Parquet, aggregates,
    codebook, datapackage.json, provenance and checksums.

The table gives seconds, action rows, rows per second, the ratio to the raw
COPY, and the peak RSS of this process (the export runs in it). The target:
the export within 3x the raw COPY, peak memory under 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

import country
from procstats import PeakSampler, admin_url
from upscale_api import db
from upscale_api.research import export as exports
from upscale_api.research import service as research
from upscale_api.research.store import apply_studies
from upscale_api.research.structs import Study
from upscale_api.settings import load_settings

STUDY = "bench-national-study"

CONSENT_EVERYONE = """
WITH given AS (
    SELECT e.resident_id, e.city_id, (SELECT max(version) FROM consent_documents WHERE purpose = 'research') AS version
    FROM enrolments e WHERE e.campaign_id = $1 AND e.left_at IS NULL
), history AS (
    INSERT INTO consent_decisions (resident_id, city_id, purpose, version, granted)
    SELECT resident_id, city_id, 'research', version, true FROM given
)
INSERT INTO consents (resident_id, purpose, city_id, version, granted, decided_at)
SELECT resident_id, 'research', city_id, version, true, now() FROM given
ON CONFLICT DO NOTHING
"""

ASSIGN_EVERYONE = """
INSERT INTO study_assignments (study_id, resident_id, city_id, arm_id, stratum, position, probability, assigned_at)
SELECT s.id, e.resident_id, e.city_id,
       (SELECT a.id FROM study_arms a WHERE a.study_id = s.id ORDER BY a.code OFFSET (e.resident_id % 2) LIMIT 1),
       'all', row_number() OVER (ORDER BY e.resident_id) - 1, 0.5, e.enrolled_at
FROM enrolments e, studies s
WHERE e.campaign_id = $1 AND e.left_at IS NULL AND s.code = $2
ON CONFLICT DO NOTHING
"""

RAW_COPY = """
SELECT a.* FROM action_logs a
JOIN study_assignments s ON s.resident_id = a.resident_id
    AND s.study_id = (SELECT id FROM studies WHERE code = '{study}')
WHERE a.deleted_at IS NULL AND a.local_date BETWEEN '{first}'::date AND '{last}'::date
"""

NATIONAL = """
SELECT code, starts_on, ends_on FROM campaigns
WHERE id = (SELECT campaign_id FROM enrolments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)
"""


async def prepare(pool: db.Pool) -> tuple[str, str, str]:
    national = await pool.fetchrow(NATIONAL)
    assert national is not None, "no campaign with enrolments: generate the data set first (--generate)"
    study = msgspec.convert(
        {
            "code": STUDY,
            "title": {"sl": "Primerjalna raziskava", "en": "Benchmark study"},
            "description": {"sl": "Za meritve.", "en": "For measurements."},
            "campaigns": [national["code"]],
            "seed": "bench-seed-1",
            "arm": [
                {"code": "control", "control": True, "title": {"sl": "K", "en": "C"}},
                {"code": "treated", "title": {"sl": "T", "en": "T"}},
            ],
            "export": {"k": 5, "quasi_identifiers": ["city"], "max_suppressed_share": 0.05},
        },
        Study,
    )
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM studies WHERE code = $1", STUDY):
            _, problems = await apply_studies(conn, [("ljubljana", study)], "file")
            assert problems == [], problems
            campaign_id = await conn.fetchval("SELECT id FROM campaigns WHERE code = $1", national["code"])
            await conn.execute(CONSENT_EVERYONE, campaign_id)
            await conn.execute(ASSIGN_EVERYONE, campaign_id, STUDY)
    return STUDY, str(national["starts_on"]), str(national["ends_on"])


async def run(args: argparse.Namespace) -> int:
    server = admin_url()
    if args.generate:
        scale = country.scale_of(args)
        await country.generate(
            residents=scale.residents, actions=scale.actions, campaigns=scale.campaigns, database=args.database
        )
    settings = load_settings(dict(os.environ) | {"UPSCALE_DB_POOL_MAX": "4", "UPSCALE_DB_POOL_MIN": "1"})
    pool = await db.create_pool(db.with_database(server, args.database), settings)
    work = Path(tempfile.mkdtemp(prefix="upscale-export-"))
    sampler = PeakSampler(0.05)
    sampler.start()
    rows = []
    try:
        study, first, last = await prepare(pool)
        participants = await pool.fetchval(
            "SELECT count(*) FROM study_assignments WHERE study_id = (SELECT id FROM studies WHERE code = $1)", study
        )
        country.log(f"study {study}: {participants:,} participants, days {first} .. {last}")

        sampler.reset()
        t0 = time.perf_counter()
        async with pool.acquire() as conn:
            status = await conn.copy_from_query(
                RAW_COPY.format(study=study, first=first, last=last), output=str(work / "raw.csv"), format="csv"
            )
        raw_seconds, raw_rows = time.perf_counter() - t0, int(status.split()[-1])
        rows.append(("raw COPY", raw_seconds, raw_rows, sampler.peak_self))

        study_id = await research.study_id(pool, study)
        assert study_id is not None
        async with pool.acquire() as conn:
            export_id = await research.create_export(conn, study_id, "bench", "cli", {})
        sampler.reset()
        t0 = time.perf_counter()
        result = await exports.run_export(pool, settings, export_id, work / "export", now=datetime.now(UTC))
        rows.append(("export", time.perf_counter() - t0, result.rows["actions"], sampler.peak_self))
        await exports.fail(pool, export_id, "benchmark run: files deleted")
    finally:
        sampler.stop()
        await pool.close()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nload average before/after: {os.getloadavg()[0]:.2f} (1 min)")
    print("| run | seconds | action rows | rows/s | x raw COPY | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, count, peak in rows:
        print(
            f"| {name} | {seconds:.1f} | {count:,} | {count / seconds:,.0f} | {seconds / raw_seconds:.2f} | "
            f"{peak / 2**20:,.0f} |"
        )
    ratio, peak = rows[1][1] / raw_seconds, rows[1][3]
    met = ratio <= 3 and peak < 2**30
    verdict = "met" if met else "NOT met"
    print(f"\ntarget (export <= 3x raw COPY, peak < 1 GiB): {verdict} ({ratio:.2f}x, {peak / 2**20:,.0f} MiB)")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    country.scale_arguments(parser)
    parser.add_argument("--generate", action="store_true", help="generate the country data set first")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
