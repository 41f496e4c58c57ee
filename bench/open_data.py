"""Open data at country scale: serving a city's open aggregates, next to a trivial route in the same run.

    python3 run.py bench bench/open_data.py [--database upscale_country] [--clients 1,8,32]
                                            [--seconds 10] [--warmup 2] [--skip-publish]

It needs the country-scale data set, scored: ``bench/country.py`` generates it
(``python3 run.py bench bench/scoring.py --generate`` generates and scores it);
a database whose scoring tables are empty is scored here first with
``scoring.service.rebuild``. The database is migrated (so it has this version's
tables) and every city is published as the worker's job does
(``opendata.service.publish_all``), timed, unless ``--skip-publish`` finds
publications there already.

Then the app runs under uvicorn in its own process (``action_logging.Server``,
one worker, rate limits off: every request comes from one address), and at
each ``--clients`` level each row is measured for ``--seconds`` after a
``--warmup``, each client with its own keep-alive connection:

``GET /health/live``
    the baseline: no database, no body; what any request costs here.
``GET /v1/cities``
    a public route answered from the in-memory catalogue (212 cities).
``stats <city>``
    ``GET /v1/open/cities/<city>/stats`` for the city with the largest
    publication (Kranj here), Ljubljana (the most residents) and a small
    municipality: a full body each time, gzip-compressed as a harvester
    asks for it (``Accept-Encoding: gzip``); once more for the largest
    without compression.
``stats <city> (304)``
    the same with ``If-None-Match`` naming the current ETag: what a polling
    harvester costs.
``csv <city>``, ``dataset <city>``
    the CSV download and the DCAT-AP metadata.

It prints the publication's time and sizes and a table (throughput, p50/p99,
peak RSS of the API server, bytes per answer, cores). Then each open-data row
again, taking turns with ``GET /health/live`` on every connection, so that
both see the same load from the rest of the machine (on shared cores it
moves every p99 from run to run), and per client level whether every
open-data route meets p99 < 20 ms. Any answer but 200/304 makes the exit
status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import statistics
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from action_logging import Monitor, Result, Server, drive, log, postmaster_of
from procstats import admin_url, run_loop
from upscale_api import db, migrations
from upscale_api.scoring import service as scoring
from upscale_api.settings import load_settings

TARGET_P99_MS = 20.0


class Connection:
    """One HTTP/1.1 keep-alive connection; reads bodies by Content-Length (none on 304)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[bytes, bytes], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**24)
        assert self.reader is not None
        lines = [f"GET {path} HTTP/1.1", f"host: {self.host}:{self.port}", *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        fields = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        status = int(status_line.split(b" ", 2)[1])
        length = int(fields.get(b"content-length", b"0"))
        body = await self.reader.readexactly(length) if length else b""
        return status, fields, body

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


Op = Callable[[], Awaitable[str | None]]


def getter(connection: Connection, path: str, headers: dict[str, str], sizes: list[int]) -> Op:
    async def op() -> str | None:
        status, _, body = await connection.get(path, headers)
        sizes.append(len(body))
        return None if status in (200, 304) else f"{status} {body[:200]!r}"

    return op


async def ensure_scored_and_published(url: str, skip_publish: bool) -> list[str]:
    """Migrate, score if nothing is scored, publish every city; returns the summary lines."""
    settings = load_settings({"UPSCALE_DB_POOL_MAX": "4"})
    pool = await db.create_pool(url, settings)
    lines = []
    try:
        async with pool.acquire() as conn:
            await migrations.migrate(conn)
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM resident_days)"):
            log("scoring tables are empty: rebuilding (several minutes) ...")
            await scoring.rebuild(pool, datetime.now(UTC))
        published = await pool.fetchval("SELECT count(*) FROM open_data_publications")
        if not (skip_publish and published):
            from upscale_api.opendata.service import publish_all

            log("publishing every city ...")
            started = time.perf_counter()
            await publish_all(pool, load_settings(), datetime.now(UTC))
            lines.append(f"publishing every city: {time.perf_counter() - started:.1f} s")
            log(lines[-1])
        sizes = await pool.fetchrow(
            "SELECT count(*) AS cities, sum(rows) AS rows, sum(suppressed) AS suppressed, "
            "max(length(json_body)) AS largest_json, sum(length(json_body)) AS json FROM open_data_publications"
        )
        assert sizes is not None
        lines.append(
            f"publications: {sizes['cities']} cities, {sizes['rows']:,} rows, {sizes['suppressed']:,} withheld, "
            f"largest JSON {sizes['largest_json'] / 1e6:.2f} MB, all JSON {sizes['json'] / 1e6:.1f} MB"
        )
        counts = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM residents) AS residents, (SELECT count(*) FROM action_logs) AS actions, "
            "(SELECT count(*) FROM resident_days) AS resident_days"
        )
        assert counts is not None
        lines.append(
            f"data set: {counts['residents']:,} residents, {counts['actions']:,} actions, "
            f"{counts['resident_days']:,} resident days"
        )
    finally:
        await pool.close()
    return lines


async def cities_to_read(url: str) -> tuple[str, str]:
    """The city with the largest publication and a small one."""
    conn = await db.create_pool(url, load_settings({"UPSCALE_DB_POOL_MIN": "1", "UPSCALE_DB_POOL_MAX": "3"}))
    try:
        rows = await conn.fetch(
            "SELECT c.code FROM open_data_publications p JOIN cities c ON c.id = p.city_id ORDER BY length(json_body)"
        )
    finally:
        await conn.close()
    return rows[-1]["code"], rows[len(rows) // 10]["code"]


async def run(args: argparse.Namespace) -> int:
    url = db.with_database(admin_url(), args.database)
    summary = await ensure_scored_and_published(url, args.skip_publish)
    largest, small = await cities_to_read(url)
    server = Server(url, 1, None)
    results: list[tuple[Result, float]] = []
    pairs: list[Pair] = []
    failed = 0
    try:
        await server.wait_ready(120)
        probe = Connection(server.base_url)
        etags = {}
        for city in {largest, "ljubljana", small}:
            status, fields, _ = await probe.get(f"/v1/open/cities/{city}/stats", {})
            assert status == 200, status
            etags[city] = fields[b"etag"].decode()
        await probe.aclose()
        rows: list[tuple[str, str, dict[str, str]]] = [
            ("GET /health/live (baseline)", "/health/live", {}),
            ("GET /v1/cities", "/v1/cities", {}),
        ]
        gzip = {"accept-encoding": "gzip"}
        for city in (largest, "ljubljana", small):
            rows.append((f"stats {city}", f"/v1/open/cities/{city}/stats", gzip))
        rows.append((f"stats {largest}, not compressed", f"/v1/open/cities/{largest}/stats", {}))
        rows.append((f"stats {largest} (304)", f"/v1/open/cities/{largest}/stats", {"if-none-match": etags[largest]}))
        rows.append((f"csv {largest}", f"/v1/open/cities/{largest}/stats.csv", gzip))
        rows.append((f"dataset {largest}", f"/v1/open/cities/{largest}/dataset", gzip))
        async with _postmaster(url) as postmaster:
            monitor = Monitor(postmaster)
            monitor.server = server.process.pid
            monitor.start()
            for clients in args.clients:
                for what, path, headers in rows:
                    connections = [Connection(server.base_url) for _ in range(clients)]
                    sizes: list[int] = []
                    ops = [getter(c, path, headers, sizes) for c in connections]
                    result = await drive(what, ops, args.warmup, args.seconds, monitor, server_rss=True)
                    for c in connections:
                        await c.aclose()
                    failed += result.errors
                    mean_size = sum(sizes) / len(sizes) if sizes else 0.0
                    results.append((result, mean_size))
                    log(f"{what}, {clients} clients: p99 {result.percentile_ms(0.99):.2f} ms")
            for clients in args.clients:
                for what, path, headers in rows[2:]:
                    pair = await paired(server.base_url, what, path, headers, clients, args.warmup, args.seconds)
                    failed += pair.errors
                    pairs.append(pair)
                    log(f"{what} beside /health/live, {clients} clients: p99 {pair.p99(pair.route):.2f} ms "
                        f"against {pair.p99(pair.baseline):.2f} ms")  # fmt: skip
            monitor.stop()
    finally:
        server.stop()
    print_tables(summary, results, pairs)
    return 1 if failed else 0


@dataclass
class Pair:
    """A route and the trivial route taking turns on every connection, in the same seconds."""

    what: str
    clients: int
    seconds: float
    route: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    errors: int = 0

    @staticmethod
    def p50(latencies: list[float]) -> float:
        return statistics.median(latencies) * 1000

    @staticmethod
    def p99(latencies: list[float]) -> float:
        ordered = sorted(latencies)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000


async def paired(
    base_url: str, what: str, path: str, headers: dict[str, str], clients: int, warmup: float, seconds: float
) -> Pair:
    """Each client alternates ``path`` and ``GET /health/live``: both see the same load from the rest
    of the machine, which on shared cores moves every p99 from run to run."""
    pair = Pair(what, clients, seconds)
    start = time.perf_counter() + warmup
    end = start + seconds

    async def client() -> None:
        connection = Connection(base_url)
        try:
            while time.perf_counter() < end:
                for target, extra, into in ((path, headers, pair.route), ("/health/live", {}, pair.baseline)):
                    t0 = time.perf_counter()
                    status, _, _ = await connection.get(target, extra)
                    t1 = time.perf_counter()
                    if status not in (200, 304):
                        pair.errors += 1
                    if t0 >= start:
                        into.append(t1 - t0)
        finally:
            await connection.aclose()

    await asyncio.gather(*(client() for _ in range(clients)))
    return pair


@contextlib.asynccontextmanager
async def _postmaster(url: str) -> AsyncIterator[int | None]:
    conn = await db.create_pool(url, load_settings({"UPSCALE_DB_POOL_MIN": "1", "UPSCALE_DB_POOL_MAX": "3"}))
    try:
        async with conn.acquire() as c:
            yield await postmaster_of(c)
    finally:
        await conn.close()


def print_tables(summary: list[str], results: list[tuple[Result, float]], pairs: list[Pair]) -> None:
    print()
    for line in summary:
        print(line)
    print()
    print(
        "| what | clients | req/s | p50 ms | p99 ms | peak RSS MB | bytes/answer | API server cores "
        "| PostgreSQL cores | failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r, size in results:
        print(
            f"| {r.what} | {r.clients} | {r.rate:,.0f} | {r.percentile_ms(0.5):.2f} | {r.percentile_ms(0.99):.2f} | "
            f"{r.rss_bytes / 1e6:.0f} | {size:,.0f} | {r.cpu.get('API server', 0):.2f} | "
            f"{r.cpu.get('PostgreSQL', 0):.2f} | {r.errors} |"
        )
    print()
    print("Each route taking turns with GET /health/live on every connection (the same seconds, the same noise):")
    print()
    print(
        "| what | clients | its req/s | its p50 ms | its p99 ms | /health/live p50 ms | /health/live p99 ms | failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in pairs:
        print(
            f"| {p.what} | {p.clients} | {len(p.route) / p.seconds:,.0f} | {p.p50(p.route):.2f} | "
            f"{p.p99(p.route):.2f} | {p.p50(p.baseline):.2f} | {p.p99(p.baseline):.2f} | {p.errors} |"
        )
    print()
    opened = [p for p in pairs if "not compressed" not in p.what]
    for clients in sorted({p.clients for p in opened}):
        at = [p for p in opened if p.clients == clients]
        worst = max(at, key=lambda p: p.p99(p.route))
        misses = [p.what for p in at if p.p99(p.route) >= TARGET_P99_MS]
        verdict = "met" if not misses else "not met: " + ", ".join(misses)
        worst_p99, beside = worst.p99(worst.route), worst.p99(worst.baseline)
        print(
            f"{clients} clients: p99 < {TARGET_P99_MS:.0f} ms on every open-data route (compressed as asked): "
            f"{verdict} (worst {worst.what}: {worst_p99:.2f} ms; /health/live beside it {beside:.2f} ms)"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="upscale_country", help="the country-scale database (bench/country.py)")
    parser.add_argument("--clients", default="1,8,32", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--skip-publish", action="store_true", help="reuse the publications already stored")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
