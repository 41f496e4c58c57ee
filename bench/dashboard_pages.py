"""How fast the dashboard's pages answer on the demo data, next to a trivial route.

    .venv/bin/python bench/dashboard_pages.py [--requests 300] [--clients 1,4]

One fresh database ``upscale_bench_<random>`` (on ``DATABASE_URL``'s server, else the
embedded PostgreSQL in ``.upscale/``): migrated, the definition files applied, the demo
data seeded (300 residents, four weeks of actions) and scored once (a tick and the
standings), dropped at the end. The app runs as ``upscale serve`` in a process of its
own (rate limits off, Auth-emulator tokens); this process signs in as
``demo-coordinator-kranj`` and asks for each page ``--requests`` times per client count,
N clients each on its own keep-alive connection. ``GET /health/live`` is the baseline:
no session, no template, no database; it is measured in the same run, its slices
alternating with the pages', so the machine's other load falls on both.

Each row: requests per second, p50 and p99 of one request, the CPU one request cost the
API process and the PostgreSQL server (what latency comes down to on an idle machine: on a
shared one, p99 grows with the other load, the CPU does not), and the server's peak RSS
during the row. The target: p99 < 100 ms for every page.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime

import httpx

from procstats import ROOT, PeakSampler, admin_url, descendants, local_parent, proc_table, rss_bytes, run_loop
from upscale_api import db, migrations
from upscale_api.auth import dev_token
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.demo.seed import DEMO_CAMPAIGN, DEMO_CONTEST, seed_demo
from upscale_api.scoring import service as scoring
from upscale_api.settings import load_settings

PROJECT = "demo-upscale"
PAGES = {
    "baseline: GET /health/live": "/health/live",
    "my city's campaigns": "/dashboard/",
    "a campaign: charts, recognition, contest": f"/dashboard/campaigns/{DEMO_CAMPAIGN}",
    "a campaign's figures (htmx refresh)": f"/dashboard/campaigns/{DEMO_CAMPAIGN}#htmx",
    "a contest of two cities (240 participants)": f"/dashboard/campaigns/{DEMO_CONTEST}",
    "campaign editor": f"/dashboard/campaigns/{DEMO_CAMPAIGN}/edit",
    "broadcast form": f"/dashboard/campaigns/{DEMO_CAMPAIGN}/broadcast",
    "held entries": "/dashboard/held-entries?status=pending",
    "city impact report": "/dashboard/cities/kranj/impact",
    "city impact CSV": "/dashboard/cities/kranj/impact.csv",
    "recognition CSV": f"/dashboard/campaigns/{DEMO_CAMPAIGN}/recognition.csv",
}


class ServerPeak(PeakSampler):
    def __init__(self, root: int) -> None:
        super().__init__(0.05)
        self.root = root
        self.peak_server = 0

    def sample(self) -> None:
        super().sample()
        self.peak_server = max(self.peak_server, sum(rss_bytes(p) for p in self.processes_under(self.root)))

    def reset(self) -> None:
        self.peak_server = 0
        super().reset()


def cpu_seconds(root: int | None) -> float:
    """CPU used so far by ``root`` and every process below it (the ended ones included)."""
    if root is None:
        return 0.0
    table = proc_table()
    return sum(table[pid][1] + table[pid][2] for pid in descendants(table, root))


async def prepare(url: str) -> int | None:
    """Migrate, apply the definitions, seed and score; the local PostgreSQL server's pid (None: remote)."""
    settings = load_settings({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"})
    pool = await db.create_pool(url, settings)
    try:
        async with pool.acquire() as conn:
            await migrations.migrate(conn)
        await apply_definitions(pool, read_definitions(ROOT / "campaigns"))
        await seed_demo(pool, await Catalogue(pool).reload())
        now = datetime.now(UTC)
        await scoring.tick(pool, now)
        await scoring.compute_standings(pool, now)
        return local_parent(await pool.fetchval("SELECT pg_backend_pid()"))
    finally:
        await pool.close()


async def sign_in(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        signed = await http.post(
            "/dashboard/sign-in", data={"id_token": dev_token("demo-coordinator-kranj", PROJECT), "next": "/dashboard/"}
        )
        assert signed.status_code == 303, signed.text
        cookie = re.search(r"upscale_dashboard=([0-9a-f]+)", signed.headers["set-cookie"])
        assert cookie is not None
        return cookie.group(1)


async def measure(base: str, path: str, session: str, clients: int, requests: int) -> tuple[float, list[float]]:
    htmx = path.endswith("#htmx")
    path = path.removesuffix("#htmx")
    headers = {"Cookie": f"upscale_dashboard={session}", "Accept-Language": "sl"}
    if htmx:
        headers["HX-Request"] = "true"
    times: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            for _ in range(requests // clients):
                start = time.perf_counter()
                response = await http.get(path)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(times) / (time.perf_counter() - started), times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(args: argparse.Namespace) -> int:
    server_url = admin_url()
    name = f"upscale_bench_{secrets.token_hex(4)}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    server = None
    try:
        print(f"database {name}: migrating, seeding the demo data, scoring it once ...", flush=True)
        postmaster = await prepare(url)
        port = 18000 + secrets.randbelow(1000)
        environ = os.environ | {
            "DATABASE_URL": url,
            "UPSCALE_PORT": str(port),
            "UPSCALE_ENV": "development",
            "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
            "UPSCALE_RATE_LIMIT_STORE": "off",
            "UPSCALE_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "upscale_api",
            "serve",
            env=environ,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        session = await sign_in(base)
        sampler = ServerPeak(server.pid)
        sampler.start()
        print(
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} "
            f"at start; {args.requests} requests per row after {args.warmup} to warm up",
            flush=True,
        )
        header = (
            f"{'page':<44} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'API CPU ms':>10} "
            f"{'PG CPU ms':>9} {'RSS MB':>6}"
        )
        print(header)
        print("-" * len(header))
        for clients in args.clients:
            for label, path in PAGES.items():
                await measure(base, path, session, clients, args.warmup)
                sampler.reset()
                api_before, pg_before = cpu_seconds(server.pid), cpu_seconds(postmaster)
                rate, times = await measure(base, path, session, clients, args.requests)
                api_ms = (cpu_seconds(server.pid) - api_before) * 1000 / len(times)
                pg_ms = (cpu_seconds(postmaster) - pg_before) * 1000 / len(times)
                # the baseline again after each page, so that both see the same load
                await measure(base, "/health/live", session, clients, args.requests // 3)
                print(
                    f"{label:<44} {clients:>7} {rate:>7.0f} {statistics.median(times) * 1000:>7.1f} "
                    f"{p(times, 0.99):>7.1f} {api_ms:>10.2f} {pg_ms:>9.2f} {sampler.peak_server / 2**20:>6.0f}",
                    flush=True,
                )
        sampler.stop()
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return 0
    finally:
        if server is not None:
            for pid in reversed(descendants(proc_table(), server.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 15)
            await asyncio.wait_for(server.wait(), 30)
        await db.drop_database(server_url, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    sys.exit(run_loop(main(parser.parse_args())))
