"""Load benchmark: the running service over HTTP with a realistic mix of requests.

    .venv/bin/python bench/load_mix.py [--clients 16,64,256] [--workers 1,2] [--seconds 10] [--warmup 2]

One run, one fresh database ``upscale_bench_<random>`` (on the server of ``DATABASE_URL``
when set, otherwise on the embedded PostgreSQL in ``.upscale/``), migrated, loaded with
``campaigns/`` and the demo data (``upscale seed-demo``: 300 residents with four weeks
of actions, 90 of them in Kranj's active demo campaign), dropped at the end. ``upscale
worker`` runs beside the API for the whole run, as in production: the scoring tick every
5 s, standings every 30 s.

For each API process count (``--workers``, uvicorn workers of ``upscale_api.asgi:app``)
and each concurrency N (``--clients``), N simulated phones, each with one HTTP/1.1
keep-alive connection, send requests one at a time, each drawn at random:

====  ==========================================================  ==========================
 80%  ``POST /v1/me/actions``                                      logging (own residents,
                                                                   within the daily limits)
  5%  ``GET /v1/me/impact``                                        a demo resident's totals
  5%  ``GET /v1/me/campaigns/demo-kranj-active-travel``            a participant's progress
  5%  ``GET /v1/campaigns/demo-kranj-active-travel/leaderboard``   the individual standings
2.5%  ``GET /v1/cities/kranj/action-types``                        the catalogue
2.5%  ``GET /v1/campaigns``                                        the city's campaigns
====  ==========================================================  ==========================

Next to each mix row, measured in the same run: the HTTP floor (``GET /health/live`` on
the same server at the same concurrency: what any request costs in uvicorn + Litestar)
and the database ceiling (N asyncpg connections, at most 64, each inserting action rows:
what PostgreSQL takes on this machine). The tables give throughput and p50/p99/p99.9 latency
per route, the API server's peak RSS (all its processes), and the CPU of the load
generator, the API server, PostgreSQL and the worker. Any non-2xx answer makes the exit
status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from action_logging import (
    EMULATOR_HOST,
    Bench,
    Kind,
    Monitor,
    Plan,
    RawConnection,
    Resident,
    Result,
    Server,
    cpu_used,
    db_connection,
    headers_for,
    kinds_for,
    log,
    positive_ints,
    postmaster_of,
    split,
)
from procstats import admin_url, descendants, proc_table, run_loop
from upscale_api import db, migrations
from upscale_api.auth import dev_token
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
UPSCALE = Path(sys.executable).with_name("upscale")
CITY = "kranj"
CEILING_CONNECTIONS = 64
CAMPAIGN = "demo-kranj-active-travel"
PARTICIPANTS = [f"demo-resident-{i:04d}" for i in range(151, 241)]  # Kranj's demo residents, all enrolled
ROUTES: list[tuple[str, float]] = [
    ("POST /v1/me/actions", 0.80),
    ("GET /v1/me/impact", 0.05),
    (f"GET /v1/me/campaigns/{CAMPAIGN}", 0.05),
    (f"GET /v1/campaigns/{CAMPAIGN}/leaderboard", 0.05),
    (f"GET /v1/cities/{CITY}/action-types", 0.025),
    ("GET /v1/campaigns", 0.025),
]


@dataclass
class MixResult:
    what: str
    workers: int
    clients: int
    seconds: float
    latencies: dict[str, list[float]]
    errors: int
    error_samples: list[str]
    rss_bytes: int
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def rate(self, route: str | None = None) -> float:
        count = self.requests if route is None else len(self.latencies.get(route, []))
        return count / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float, route: str | None = None) -> float:
        values = [v for vs in self.latencies.values() for v in vs] if route is None else self.latencies[route]
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


class MixMonitor(Monitor):
    """The action-logging monitor, plus the worker process's CPU."""

    def __init__(self, postmaster: int | None, worker: int) -> None:
        super().__init__(postmaster)
        self.worker = worker

    def cpu_snapshot(self) -> dict[str, Any]:
        snapshot = super().cpu_snapshot()
        table = proc_table()
        snapshot["worker"] = {pid: table[pid][1] + table[pid][2] for pid in descendants(table, self.worker)}
        return snapshot


def worker_cores(before: dict[str, Any], after: dict[str, Any]) -> float:
    wall = after["at"] - before["at"]
    return sum(t - before["worker"].get(pid, 0.0) for pid, t in after["worker"].items()) / wall


class Mix:
    """What one simulated phone sends next: a route drawn by weight, with the body and token it needs."""

    def __init__(self, plan: Plan, seed: int) -> None:
        self.plan = plan
        self.rng = random.Random(seed)
        self.routes = [route for route, _ in ROUTES]
        self.weights = [weight for _, weight in ROUTES]

    def next(self, participants: list[Resident]) -> tuple[str, str, str, bytes, dict[str, str]]:
        """(route, method, path, body, headers)."""
        route = self.rng.choices(self.routes, self.weights)[0]
        method, path = route.split(" ", 1)
        if method == "POST":
            resident, kind = self.plan.next()
            body = msgspec.json.encode(
                {
                    "id": str(uuid.uuid4()),
                    "action_type": kind.type.code,
                    "quantity": kind.quantity,
                    "performed_at": datetime.now(UTC).isoformat(),
                }
            )
            return route, method, path, body, headers_for(resident)
        if path.endswith("/leaderboard"):
            path += "?scope=individual&limit=10"
        return route, method, path, b"", headers_for(self.rng.choice(participants))


async def drive_mix(
    what: str,
    workers: int,
    mixes: list[Mix],
    participants: list[Resident],
    base_url: str,
    args: argparse.Namespace,
    monitor: MixMonitor,
) -> MixResult:
    """Each phone in a loop on its own task: ``--warmup`` seconds unrecorded, then ``--seconds`` recorded."""
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    errors = 0
    samples: list[str] = []
    start = time.perf_counter() + args.warmup
    end = start + args.seconds
    last_end = start

    async def phone(mix: Mix) -> None:
        nonlocal errors, last_end
        connection = RawConnection(base_url)
        try:
            while (t0 := time.perf_counter()) < end:
                route, method, path, body, headers = mix.next(participants)
                try:
                    status, answer = await connection.request(method, path, body, headers)
                    failure = None if 200 <= status < 300 else f"{route}: {status} {answer[:200]!r}"
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    failure = f"{route}: {type(exc).__name__}: {exc}"
                    connection = RawConnection(base_url)
                t1 = time.perf_counter()
                if failure is not None:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(failure)
                if t0 >= start:
                    latencies[route].append(t1 - t0)
                    last_end = max(last_end, t1)
        finally:
            await connection.aclose()

    async def window() -> tuple[dict[str, Any], dict[str, Any]]:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        monitor.reset()
        before = monitor.cpu_snapshot()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        return before, monitor.cpu_snapshot()

    watcher = asyncio.create_task(window())
    await asyncio.gather(*(phone(mix) for mix in mixes))
    before, after = await watcher
    monitor.sample()
    result = MixResult(
        what, workers, len(mixes), last_end - start, dict(latencies), errors, samples, monitor.peak_server
    )
    result.cpu = cpu_used(before, after) | {"worker": worker_cores(before, after)}
    return result


# --- The run ----------------------------------------------------------------------------------


def start_worker(database_url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "UPSCALE_ENV": "development",
        "UPSCALE_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
    }
    output = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([str(UPSCALE), "worker"], env=env, stdout=output, stderr=subprocess.STDOUT)


async def wait_for_standings(base_url: str, participant: Resident, within: float = 90.0) -> None:
    """The worker's first tick and standings, so that reads show real numbers."""
    connection = RawConnection(base_url)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            status, answer = await connection.request(
                "GET", f"/v1/campaigns/{CAMPAIGN}/leaderboard?scope=individual", b"", headers_for(participant)
            )
            if status == 200 and msgspec.json.decode(answer)["top"]:
                return
            await asyncio.sleep(1)
    finally:
        await connection.aclose()
    raise RuntimeError("the worker computed no standings in time")


async def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    server_url = admin_url()
    name = f"upscale_bench_{uuid.uuid4().hex[:8]}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    log(f"database {name} created")
    ceilings: dict[int, Result] = {}
    floors: dict[tuple[int, int], Result] = {}
    mixes: list[MixResult] = []
    worker: subprocess.Popen[bytes] | None = None
    monitor: MixMonitor | None = None
    try:
        async with db_connection(url) as conn:
            await migrations.migrate(conn)
            postmaster = await postmaster_of(conn)
        pool = await db.create_pool(url, settings)
        try:
            await apply_definitions(pool, read_definitions(ROOT / "campaigns"))
            snapshot = await Catalogue(pool).reload()
        finally:
            await pool.close()
        seeded = subprocess.run(  # noqa: ASYNC221 (before anything is measured)
            [str(UPSCALE), "seed-demo"],
            env=dict(os.environ) | {"DATABASE_URL": url, "UPSCALE_CAMPAIGNS_DIR": str(ROOT / "campaigns")},
            capture_output=True,
            text=True,
            check=True,
        )
        log(seeded.stdout.strip())
        worker = start_worker(url)
        monitor = MixMonitor(postmaster, worker.pid)
        monitor.start()
        city = snapshot.cities[CITY]
        kinds: list[Kind] = kinds_for(city, snapshot.action_types)
        bench = Bench(url, city, kinds, ZoneInfo(city.time_zone), settings.firebase_project_id, args, monitor, settings)
        participants = [Resident(uid, dev_token(uid, settings.firebase_project_id)) for uid in PARTICIPANTS]
        log(
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}; "
            f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per row"
        )
        for n in args.clients:
            # At most 64 connections: past that PostgreSQL's throughput does not grow, and the
            # server's max_connections (100 by default) is shared with the API and the worker.
            ceilings[n] = await bench.ceiling(min(n, CEILING_CONNECTIONS))
            log_line(ceilings[n])
        for workers in args.workers:
            server = Server(url, workers, None)
            try:
                await server.wait_ready()
                monitor.server = server.process.pid
                await wait_for_standings(server.base_url, participants[0])
                plural = "es" if workers > 1 else ""
                for n in args.clients:
                    floors[workers, n] = await bench.floor(server.base_url, n, f"HTTP floor, {workers} process{plural}")
                    log_line(floors[workers, n])
                    residents = await bench.register(server.base_url, args.residents, f"mix{workers}x{n}")
                    phones = [Mix(Plan(group, kinds), seed=i) for i, group in enumerate(split(residents, n))]
                    mix = await drive_mix(
                        f"mix, {workers} process{plural}", workers, phones, participants, server.base_url, args, monitor
                    )
                    mixes.append(mix)
                    log_line(mix)
            finally:
                monitor.server = None
                server.stop()
    finally:
        if monitor is not None:
            monitor.stop()
        if worker is not None:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(15)
        await db.drop_database(server_url, name)
        log(f"database {name} dropped")

    print_tables(ceilings, floors, mixes, args)
    errors = sum(r.errors for r in [*ceilings.values(), *floors.values(), *mixes])
    if errors:
        log(f"{errors} request(s) failed")
        return 1
    return 0


def log_line(r: Result | MixResult) -> None:
    if isinstance(r, MixResult):
        log(
            f"  {r.what:<24} {r.clients:>3} clients: {r.rate():8.0f} req/s  p50 {r.percentile_ms(0.5):7.2f} ms  "
            f"p99 {r.percentile_ms(0.99):7.2f} ms  p99.9 {r.percentile_ms(0.999):7.2f} ms  "
            f"RSS {r.rss_bytes / 2**20:6.1f} MB  non-2xx {r.errors}"
        )
    else:
        log(
            f"  {r.what:<24} {r.clients:>3} clients: {r.rate:8.0f} req/s  p50 {r.percentile_ms(0.5):7.2f} ms  "
            f"p99 {r.percentile_ms(0.99):7.2f} ms  non-2xx {r.errors}"
        )
    for sample in r.error_samples:
        log(f"    error: {sample}")


def print_tables(
    ceilings: dict[int, Result], floors: dict[tuple[int, int], Result], mixes: list[MixResult], args: argparse.Namespace
) -> None:
    out = [
        f"{os.cpu_count()} cores; {args.warmup:g} s warm-up + {args.seconds:g} s measured per row; "
        f"load average at the end {os.getloadavg()[0]:.2f}",
        "",
        "| API processes | clients | route | share | req/s | p50 ms | p99 ms | p99.9 ms |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for m in mixes:
        for route, _ in ROUTES:
            if route in m.latencies:
                share = len(m.latencies[route]) / m.requests
                p50, p99, p999 = (m.percentile_ms(q, route) for q in (0.5, 0.99, 0.999))
                out.append(
                    f"| {m.workers} | {m.clients} | `{route}` | {share:.1%} | {m.rate(route):,.0f} "
                    f"| {p50:.2f} | {p99:.2f} | {p999:.2f} |"
                )
        out.append(
            f"| {m.workers} | {m.clients} | **all** | 100% | **{m.rate():,.0f}** | {m.percentile_ms(0.5):.2f} "
            f"| {m.percentile_ms(0.99):.2f} | {m.percentile_ms(0.999):.2f} |"
        )
    out += [
        "",
        "Next to the same run's ceilings; CPU in cores during the measured window.",
        "",
        "| API processes | clients | mix req/s | HTTP floor req/s | DB ceiling req/s | API peak RSS MB "
        "| load generator | API | PostgreSQL | worker | rest | non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in mixes:
        floor = floors.get((m.workers, m.clients))
        ceiling = ceilings.get(m.clients)
        c = m.cpu
        out.append(
            f"| {m.workers} | {m.clients} | {m.rate():,.0f} | {floor.rate if floor else float('nan'):,.0f} "
            f"| {ceiling.rate if ceiling else float('nan'):,.0f} | {m.rss_bytes / 2**20:.0f} "
            f"| {c['load generator']:.2f} | {c['API server']:.2f} | {c['PostgreSQL']:.2f} | {c['worker']:.2f} "
            f"| {max(0.0, c['other'] - c['worker']):.2f} | {m.errors} |"
        )
    out += ["", "CPU per mixed request (ms): API server, PostgreSQL.", ""]
    for m in mixes:
        rate = m.rate() or float("nan")
        out.append(
            f"- {m.workers} process(es), {m.clients} clients: API {1000 * m.cpu['API server'] / rate:.2f} ms, "
            f"PostgreSQL {1000 * m.cpu['PostgreSQL'] / rate:.2f} ms"
        )
    print("\n".join(out), flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each row (default 2)")
    parser.add_argument(
        "--clients", type=positive_ints, default=[16, 64, 256], help="concurrency levels (default 16,64,256)"
    )
    parser.add_argument("--workers", type=positive_ints, default=[1, 2], help="API process counts (default 1,2)")
    parser.add_argument("--residents", type=int, default=512, help="logging residents per row (default 512)")
    args = parser.parse_args(argv)
    args.client = "raw"  # Bench's floor row reads it
    if args.residents < max(args.clients):
        parser.error("--residents must be at least the highest --clients")
    return args


def main() -> None:
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
