"""Redemption benchmark: ``POST /v1/me/redemptions`` on one hot reward, next to logging actions.

    .venv/bin/python bench/redemptions.py [--seconds 10] [--warmup 2] [--clients 1,16,64] [--residents 256]

One run, one fresh database ``upscale_bench_<random>`` (as ``action_logging.py``:
on the server of ``DATABASE_URL`` when set, else the embedded PostgreSQL),
migrated and loaded with ``campaigns/``, dropped at the end; the app served by
uvicorn in its own process (``action_logging.Server``, one worker, rate limits
off). Before measuring, ``--residents`` residents register, enrol in a Kranj
campaign, log 100 km cycled (1,000 points each) and are scored once. At each
concurrency level N, for ``--seconds`` after ``--warmup`` (rows of the table):

``log action``
    ``POST /v1/me/actions`` as ``action_logging.py`` sends it: the baseline of the
    same run, on the same server and database.
``redeem, one hot reward``
    every client redeems the same reward (1 point, a stock of ten million, no
    limit per resident), each request a new id, the clients' residents in turn:
    every redemption takes that reward's row lock, so this is the contention.
``redeem, a reward per client``
    the same, but each client redeems a reward of its own (N rewards of one
    partner): the same work without the shared row.

Every request must succeed (201); non-2xx answers are counted and make the exit
status 1. A second table gives the CPU each party used, per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from action_logging import (
    CITY,
    ROOT,
    HttpConnection,
    Monitor,
    Op,
    Plan,
    Resident,
    Result,
    Server,
    connect,
    db_connection,
    drive,
    headers_for,
    kinds_for,
    log,
    log_action_op,
    new_client,
    positive_ints,
    postmaster_of,
    report_line,
    split,
)
from procstats import admin_url, run_loop
from upscale_api import db, migrations
from upscale_api.auth import dev_token
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.campaigns.structs import Campaign
from upscale_api.catalogue.service import Catalogue, City
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.rewards.store import apply_partners
from upscale_api.rewards.structs import PartnerDefinition
from upscale_api.scoring.service import tick
from upscale_api.settings import load_settings

CAMPAIGN = "bench-rewards"
PARTNER = "bench-partner"
HOT = "bench-hot"
TEXT = {"sl": "Besedilo", "en": "Text"}


async def _setup(url: str, city: City, rewards: int) -> None:
    """A Kranj campaign (10 points a km cycled) and a partner with the hot reward and ``rewards`` more."""
    settings = load_settings()
    today = datetime.now(UTC).date()
    campaign = msgspec.convert(
        {
            "code": CAMPAIGN,
            "cities": [CITY],
            "title": TEXT,
            "description": TEXT,
            "starts_on": (today - timedelta(days=5)).isoformat(),
            "ends_on": (today + timedelta(days=30)).isoformat(),
            "enrolment": "open",
            "action": [{"type": "cycle-instead-of-car", "points_per_unit": 10}],
        },
        Campaign,
    )
    codes = [HOT] + [f"bench-reward-{i}" for i in range(rewards)]
    partner = msgspec.convert(
        {
            "code": PARTNER,
            "kind": "shop",
            "name": TEXT,
            "description": TEXT,
            "reward": [
                {"code": code, "title": TEXT, "description": TEXT, "cost": 1, "stock": 10_000_000} for code in codes
            ],
        },
        PartnerDefinition,
    )
    pool = await db.create_pool(url, settings)
    try:
        async with pool.acquire() as conn, conn.transaction():
            _, problems = await apply_campaigns(conn, [campaign], {city.code: city.time_zone}, "api", today)
            assert problems == [], problems
            _, refused = await apply_partners(conn, [(city.code, partner)], "api")
            assert refused == [], refused
    finally:
        await pool.close()


async def _earners(base_url: str, project_id: str, count: int, earn: bool = True) -> list[Resident]:
    """Residents who registered, enrolled and cycled 100 km (scored later: 1,000 points each);
    without ``earn`` only registered."""
    residents = []
    for i in range(count):
        uid = f"bench-redeemer-{i}-{secrets.token_hex(3)}"
        residents.append(Resident(uid, dev_token(uid, project_id)))

    async def prepare(group: list[Resident]) -> None:
        async with new_client(base_url) as client:
            for resident in group:
                headers = headers_for(resident)
                steps: list[tuple[str, str, dict[str, Any], int]] = [
                    ("PUT", "/v1/me", {"city": CITY}, 201),
                    ("POST", f"/v1/campaigns/{CAMPAIGN}/enrolment", {}, 201),
                    (
                        "POST",
                        "/v1/me/actions",
                        {
                            "id": str(uuid.uuid4()),
                            "action_type": "cycle-instead-of-car",
                            "quantity": 100,
                            "performed_at": datetime.now(UTC).isoformat(),
                        },
                        201,
                    ),
                ]
                for method, path, body, expected in steps if earn else steps[:1]:
                    answer = await client.request(method, path, json=body, headers=headers)
                    if answer.status_code != expected:
                        raise RuntimeError(f"{method} {path} answered {answer.status_code}: {answer.text[:300]}")

    await asyncio.gather(*(prepare(group) for group in split(residents, min(16, count))))
    return residents


def _redeeming(client: HttpConnection, residents: list[Resident], reward: str) -> Op:
    turn = iter(range(10**12))

    async def op() -> str | None:
        resident = residents[next(turn) % len(residents)]
        body = msgspec.json.encode({"id": str(uuid.uuid4()), "reward": reward})
        try:
            status, answer = await client.request("POST", "/v1/me/redemptions", body, headers_for(resident))
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if status == 201 else f"{status}: {answer[:300]!r}"

    return op


async def _row(label: str, n: int, ops_for: Any, base_url: str, args: argparse.Namespace, monitor: Monitor) -> Result:
    clients = [connect("raw", base_url) for _ in range(n)]
    try:
        ops = [ops_for(i, client) for i, client in enumerate(clients)]
        return await drive(label, ops, args.warmup, args.seconds, monitor, server_rss=True)
    finally:
        for client in clients:
            await client.aclose()


async def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    server_url = admin_url()
    name = f"upscale_bench_{secrets.token_hex(4)}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    log(f"database {name} created")
    results: list[Result] = []
    monitor: Monitor | None = None
    server: Server | None = None
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
        city = snapshot.cities[CITY]
        kinds = kinds_for(city, snapshot.action_types)
        top = max(args.clients)
        await _setup(url, city, top)
        server = Server(url, 1, None)
        await server.wait_ready()
        earners = await _earners(server.base_url, settings.firebase_project_id, args.residents)
        pool = await db.create_pool(url, settings)
        try:
            await tick(pool, datetime.now(UTC))
        finally:
            await pool.close()
        monitor = Monitor(postmaster)
        monitor.start()
        monitor.server = server.process.pid
        log(
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.residents} residents with "
            f"1,000 points each; {args.warmup:g} s warm-up + {args.seconds:g} s measured per row"
        )
        for n in args.clients:
            # Fresh residents per level, so that nobody reaches a daily limit (as action_logging.py).
            loggers = await _earners(server.base_url, settings.firebase_project_id, args.residents, earn=False)
            groups = split(loggers, n)
            plans = [Plan(group, kinds) for group in groups]
            results.append(
                await _row(
                    "log action",
                    n,
                    lambda i, c, plans=plans: log_action_op(c, plans[i]),
                    server.base_url,
                    args,
                    monitor,
                )
            )
            report_line(results[-1])
            spenders = split(earners, n)
            results.append(
                await _row(
                    "redeem, one hot reward",
                    n,
                    lambda i, c, spenders=spenders: _redeeming(c, spenders[i], HOT),
                    server.base_url,
                    args,
                    monitor,
                )
            )
            report_line(results[-1])
            results.append(
                await _row(
                    "redeem, a reward per client",
                    n,
                    lambda i, c, spenders=spenders: _redeeming(c, spenders[i], f"bench-reward-{i}"),
                    server.base_url,
                    args,
                    monitor,
                )
            )
            report_line(results[-1])
        async with db_connection(url) as conn:
            stored = await conn.fetchval("SELECT count(*) FROM redemptions")
            claimed = await conn.fetchval("SELECT sum(claimed) FROM rewards")
        log(f"{stored} redemptions stored, {claimed} items claimed")
        if stored != claimed:
            log("the stock does not match the redemptions")
            return 1
    finally:
        if server is not None:
            server.stop()
        if monitor is not None:
            monitor.stop()
        await db.drop_database(server_url, name)
        log(f"database {name} dropped")

    print_tables(results, args)
    errors = sum(r.errors for r in results)
    if errors:
        log(f"{errors} request(s) failed")
        return 1
    return 0


def print_tables(results: list[Result], args: argparse.Namespace) -> None:
    baseline = {r.clients: r.rate for r in results if r.what == "log action"}
    out = [
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end; "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per row",
        "",
        "| what | clients | req/s | p50 ms | p99 ms | peak RSS MB | % of logging | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        share = f"{100 * r.rate / baseline[r.clients]:.0f}%" if baseline.get(r.clients) else "-"
        out.append(
            f"| {r.what} | {r.clients} | {r.rate:,.0f} | {r.percentile_ms(0.5):.2f} | {r.percentile_ms(0.99):.2f} "
            f"| {r.rss_bytes / 2**20:.0f} | {share} | {r.errors} |"
        )
    out += [
        "",
        "CPU in the measured window: cores used (CPU ms per request).",
        "",
        "| what | clients | load generator | API server | PostgreSQL | rest of the machine |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.rate or float("nan")
        cells = [f"{r.cpu[g]:.2f} ({1000 * r.cpu[g] / c:.2f})" for g in ("load generator", "API server", "PostgreSQL")]
        out.append(f"| {r.what} | {r.clients} | {' | '.join(cells)} | {r.cpu['other']:.2f} |")
    print("\n".join(out), flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each row (default 2)")
    parser.add_argument(
        "--clients", type=positive_ints, default=[1, 16, 64], help="concurrency levels (default 1,16,64)"
    )
    parser.add_argument("--residents", type=int, default=256, help="residents redeeming, and as many logging")
    args = parser.parse_args(argv)
    if args.residents < max(args.clients):
        parser.error("--residents must be at least the highest --clients")
    return args


def main() -> None:
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
