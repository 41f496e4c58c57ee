"""Rate-limit benchmark: what a limited request costs, and whether one resident's flood hurts the others.

    .venv/bin/python bench/rate_limits.py [--seconds 10] [--warmup 2] [--clients 1,32]
                                          [--workers 2] [--flood 32] [--victims 64] [--victim-rate 100]

One run, one fresh database ``upscale_bench_<random>`` (as ``action_logging.py``:
on the server of ``DATABASE_URL`` when set, else the embedded PostgreSQL), and
the app served by uvicorn in its own process (``action_logging.Server``). Every
simulated client is its own phone: its own keep-alive connection and address,
given in ``X-Forwarded-For`` by a trusted proxy (``UPSCALE_TRUSTED_PROXIES=127.0.0.1``).

1. **Cost** (one API process): ``GET /v1/cities`` (public: the address key
   only, no database otherwise) and ``POST /v1/me/actions`` (signed in: address
   and resident keys in one statement) with ``UPSCALE_RATE_LIMIT_STORE`` ``off``
   (the baseline), ``memory`` and ``postgres``, at each ``--clients`` level.
   Limits are set high enough that nothing is refused: this is the price of the
   check itself.
2. **Flood** (``--workers`` API processes, postgres store, default limits): the
   victims (``--victims`` residents logging ``--victim-rate`` single actions a
   second on schedule over four connections; latency counts from the scheduled
   moment) alone; then beside a flood by one resident on ``--flood``
   connections, each posting batches of 500 actions as fast as they are
   answered (mostly 429: the victims' row starts once the flood's first batches,
   which the quota allows, are done and it is refused); then the same flood
   with the limits off (the row starts at its first answer). The limited rows,
   alone and beside the flood, take turns ``--rounds`` times (3). The target:
   the victims' p99 beside the limited flood within 2x of their p99 alone
   (medians of the rounds).

Peak RSS is the API server's process tree. Unexpected answers (anything but
2xx, and 429 for the flood) are counted and make the exit status 1; a missed
target does not.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import statistics
import sys
import time
import uuid
import warnings
from asyncio.subprocess import PIPE
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from action_logging import (
    CITY,
    HttpConnection,
    Kind,
    Monitor,
    Op,
    Plan,
    Resident,
    Result,
    Server,
    connect,
    cpu_used,
    db_connection,
    drive,
    kinds_for,
    log,
    positive_ints,
    postmaster_of,
    report_line,
    split,
)
from procstats import admin_url, run_loop
from upscale_api import db, migrations
from upscale_api.auth import dev_token
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.settings import load_settings

THIS_FILE = str(Path(__file__).resolve())
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0
BATCH = 500
NEVER_REFUSED = "100000000/1"
STORES = ("off", "memory", "postgres")


@dataclass
class Phone:
    """A resident on a connection of their own, from an address of their own."""

    resident: Resident
    address: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.resident.token}",
            "content-type": "application/json",
            "x-forwarded-for": self.address,
        }


class Flood(msgspec.Struct):
    """What the flooding resident's connections got back."""

    answers: dict[int, int] = msgspec.field(default_factory=dict)
    unexpected: list[str] = msgspec.field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return sum(self.answers.values()) / self.seconds if self.seconds else 0.0

    @property
    def refused_share(self) -> float:
        total = sum(self.answers.values())
        return self.answers.get(429, 0) / total if total else 0.0


def address_of(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


class RateLimitBench:
    def __init__(self, url: str, kinds: list[Kind], project_id: str, args: argparse.Namespace, monitor: Monitor):
        self.url = url
        self.kinds = kinds
        self.project_id = project_id
        self.args = args
        self.monitor = monitor
        self.next_address = itertools.count(1)
        self.plans: dict[int, list[Plan]] = {}

    def server(self, store: str, workers: int, limits: dict[str, str]) -> Server:
        settings = {"UPSCALE_RATE_LIMIT_STORE": store, "UPSCALE_TRUSTED_PROXIES": "127.0.0.1"} | limits
        return Server(self.url, workers, None, settings)

    async def phones(self, base_url: str, count: int, tag: str) -> list[Phone]:
        """Residents registered through the API (``PUT /v1/me``), each from an address of their own."""
        phones = []
        for i in range(count):
            uid = f"bench-{tag}-{i}-{secrets.token_hex(3)}"
            phones.append(Phone(Resident(uid, dev_token(uid, self.project_id)), address_of(next(self.next_address))))
        body = msgspec.json.encode({"city": CITY})

        async def register(group: list[Phone]) -> None:
            connection = connect("raw", base_url)
            try:
                for phone in group:
                    status, answer = await connection.request("PUT", "/v1/me", body, phone.headers)
                    if status != 201:
                        raise RuntimeError(f"PUT /v1/me answered {status}: {answer[:300]!r}")
            finally:
                await connection.aclose()

        await asyncio.gather(*(register(group) for group in split(phones, min(16, count))))
        return phones

    def logging_op(self, connection: HttpConnection, phones: list[Phone], plan: Plan | None = None) -> Op:
        """Log one action at a time, going round ``phones`` (never past a per-day limit: rows that log
        for the same phones share their ``plan``)."""
        plan = plan or Plan([p.resident for p in phones], self.kinds)
        by_uid = {p.resident.uid: p for p in phones}

        async def op() -> str | None:
            resident, kind = plan.next()
            body = msgspec.json.encode(
                {
                    "id": str(uuid.uuid4()),
                    "action_type": kind.type.code,
                    "quantity": kind.quantity,
                    "performed_at": datetime.now(UTC).isoformat(),
                }
            )
            try:
                status, answer = await connection.request("POST", "/v1/me/actions", body, by_uid[resident.uid].headers)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                return f"{type(exc).__name__}: {exc}"
            return None if status == 201 else f"{status}: {answer[:300]!r}"

        return op

    # --- 1. What a limited request costs ------------------------------------------

    async def cost(self) -> list[tuple[str, Result]]:
        """The three stores' servers run side by side (idle but for the row measured), and each
        route and level is measured on all three in turn, so that rows compared were measured
        within a minute of each other on a machine whose speed drifts."""
        rows = []
        limits = {"UPSCALE_RATE_LIMIT_RESIDENT": NEVER_REFUSED, "UPSCALE_RATE_LIMIT_ADDRESS": NEVER_REFUSED}
        servers = {store: self.server(store, 1, limits) for store in STORES}
        try:
            for server in servers.values():
                await server.wait_ready()
            for measure in (self.public_reads, self.logging):
                for n in self.args.clients:
                    for store, server in servers.items():
                        self.monitor.server = server.process.pid
                        rows.append((store, await measure(server.base_url, n)))
                        report_line(rows[-1][1])
        finally:
            self.monitor.server = None
            for server in servers.values():
                server.stop()
        return rows

    async def public_reads(self, base_url: str, n: int) -> Result:
        connections = [connect("raw", base_url) for _ in range(n)]

        def op_for(connection: HttpConnection) -> Op:
            headers = {"x-forwarded-for": address_of(next(self.next_address))}

            async def op() -> str | None:
                try:
                    status, answer = await connection.request("GET", "/v1/cities", b"", headers)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    return f"{type(exc).__name__}: {exc}"
                return None if status == 200 else f"{status}: {answer[:300]!r}"

            return op

        try:
            ops = [op_for(c) for c in connections]
            return await drive(
                "GET /v1/cities", ops, self.args.warmup, self.args.seconds, self.monitor, server_rss=True
            )
        finally:
            for c in connections:
                await c.aclose()

    async def logging(self, base_url: str, n: int) -> Result:
        phones = await self.phones(base_url, max(n, 64), f"cost{n}")
        connections = [connect("raw", base_url) for _ in range(n)]
        try:
            ops = [self.logging_op(c, group) for c, group in zip(connections, split(phones, n), strict=True)]
            return await drive(
                "POST /v1/me/actions", ops, self.args.warmup, self.args.seconds, self.monitor, server_rss=True
            )
        finally:
            for c in connections:
                await c.aclose()

    # --- 2. One resident's flood ------------------------------------------------------

    async def flood(self) -> list[tuple[str, Result, Flood | None]]:
        rows: list[tuple[str, Result, Flood | None]] = []
        workers = self.args.workers
        for store in ("postgres", "off"):
            server = self.server(store, workers, {})
            try:
                await server.wait_ready()
                self.monitor.server = server.process.pid
                victims = await self.phones(server.base_url, self.args.victims, f"victim-{store}")
                flooder = (await self.phones(server.base_url, 1, f"flooder-{store}"))[0]
                # Limited, alone and beside the flood in turn, --rounds times: the machine's speed drifts.
                for _ in range(self.args.rounds if store == "postgres" else 0):
                    alone = await self.victim(server.base_url, victims, "victims alone")
                    rows.append((store, alone, None))
                    report_line(alone)
                    rows.append((store, *await self.victim_beside_flood(server.base_url, victims, flooder, store)))
                    report_line(rows[-1][1])
                if store == "off":
                    rows.append((store, *await self.victim_beside_flood(server.base_url, victims, flooder, store)))
                    report_line(rows[-1][1])
            finally:
                self.monitor.server = None
                server.stop()
        return rows

    async def victim(self, base_url: str, victims: list[Phone], label: str) -> Result:
        """The other residents: ``--victim-rate`` single actions a second, on schedule, over four
        connections, whatever the answers take (latency counts from the scheduled moment, so a
        slow answer also delays the requests queued behind it)."""
        args, monitor = self.args, self.monitor
        interval = 1 / args.victim_rate
        connections = [connect("raw", base_url) for _ in range(4)]
        groups = split(victims, 4)
        plans = self.plans.setdefault(id(victims), [Plan([p.resident for p in g], self.kinds) for g in groups])
        ops = [self.logging_op(c, g, plan) for c, g, plan in zip(connections, groups, plans, strict=True)]
        latencies: list[float] = []
        errors: list[str] = []
        start = time.perf_counter() + args.warmup
        end = start + args.seconds

        async def lane(index: int) -> None:
            slot = time.perf_counter() + index * interval
            while slot < end:
                await asyncio.sleep(max(0.0, slot - time.perf_counter()))
                failure = await ops[index]()
                if slot >= start:
                    latencies.append(time.perf_counter() - slot)
                    if failure is not None:
                        errors.append(failure)
                slot += 4 * interval

        async def window() -> tuple[dict[str, Any], dict[str, Any]]:
            await asyncio.sleep(max(0.0, start - time.perf_counter()))
            monitor.reset()
            before = monitor.cpu_snapshot()
            await asyncio.sleep(max(0.0, end - time.perf_counter()))
            return before, monitor.cpu_snapshot()

        try:
            watcher = asyncio.create_task(window())
            await asyncio.gather(*(lane(i) for i in range(4)))
            before, after = await watcher
        finally:
            for c in connections:
                await c.aclose()
        monitor.sample()
        result = Result(label, 4, len(latencies), args.seconds, latencies, len(errors), errors[:5], monitor.peak_server)
        result.cpu = cpu_used(before, after)
        return result

    async def victim_beside_flood(
        self, base_url: str, victims: list[Phone], flooder: Phone, store: str
    ) -> tuple[Result, Flood]:
        """The victims' row while the flooder's connections run in a process of their own
        (so that the victims' latencies are not the load generator's own queue)."""
        spec = {
            "base_url": base_url,
            "headers": flooder.headers,
            "connections": self.args.flood,
            "kinds": [(k.type.code, k.quantity) for k in self.kinds],
            # Limited, the flood's first batches pass (the quota allows 1,000 actions at once): the
            # victims' row starts once it is refused, when the flood is all that is left of it.
            "ready_on": 429 if store != "off" else 200,
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable, THIS_FILE, "_flood", stdin=PIPE, stdout=PIPE, cwd=ROOT
        )
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(msgspec.json.encode(spec) + b"\n")
        await child.stdin.drain()
        if (await child.stdout.readline()).strip() != b"flooding":
            raise RuntimeError("the flood process did not start")
        label = "victims beside a flood" + (", limits off" if store == "off" else "")
        try:
            result = await self.victim(base_url, victims, label)
        finally:
            child.stdin.write(b"stop\n")
            output, _ = await child.communicate()
        return result, msgspec.json.decode(output, type=Flood)


def batch_bodies(kinds: list[tuple[str, float]], count: int) -> list[bytes]:
    """Batches of 500 actions with their own ids, spread over the days a batch may reach back."""
    now = datetime.now(UTC)
    bodies = []
    for b in range(count):
        actions = []
        for i in range(BATCH):
            code, quantity = kinds[(b + i) % len(kinds)]
            performed_at = (now - timedelta(days=i % 7, minutes=b)).isoformat()
            actions.append(
                {"id": str(uuid.uuid4()), "action_type": code, "quantity": quantity, "performed_at": performed_at}
            )
        bodies.append(msgspec.json.encode({"actions": actions}))
    return bodies


async def flood_process() -> None:
    """``_flood``: read the spec on stdin, flood until a line says stop, print the answers as JSON."""
    spec = msgspec.json.decode(sys.stdin.buffer.readline())
    bodies = itertools.cycle(batch_bodies(spec["kinds"], spec["connections"] * 4))
    flood = Flood()
    stop, ready = asyncio.Event(), asyncio.Event()

    async def flooding() -> None:
        connection = connect("raw", spec["base_url"])
        try:
            while not stop.is_set():
                try:
                    status, answer = await connection.request(
                        "POST", "/v1/me/actions/batch", next(bodies), spec["headers"]
                    )
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    flood.unexpected.append(f"{type(exc).__name__}: {exc}")
                    return
                flood.answers[status] = flood.answers.get(status, 0) + 1
                if status == spec["ready_on"]:
                    ready.set()
                if status not in (200, 429) and len(flood.unexpected) < 5:
                    flood.unexpected.append(f"{status}: {answer[:300]!r}")
        finally:
            ready.set()  # a connection that failed must not keep the run waiting
            await connection.aclose()

    started = time.perf_counter()
    tasks = [asyncio.create_task(flooding()) for _ in range(spec["connections"])]
    await ready.wait()
    print("flooding", flush=True)
    await asyncio.to_thread(sys.stdin.buffer.readline)
    stop.set()
    await asyncio.gather(*tasks)
    flood.seconds = time.perf_counter() - started
    sys.stdout.buffer.write(msgspec.json.encode(flood))
    sys.stdout.flush()


# --- The run ----------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    server_url = admin_url()
    name = f"upscale_bench_{secrets.token_hex(4)}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    log(f"database {name} created")
    monitor: Monitor | None = None
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
        kinds = kinds_for(snapshot.cities[CITY], snapshot.action_types)
        monitor = Monitor(postmaster)
        monitor.start()
        bench = RateLimitBench(url, kinds, settings.firebase_project_id, args, monitor)
        log(f"{os.cpu_count()} cores; {args.warmup:g} s warm-up + {args.seconds:g} s measured per row")
        log("1. what a limited request costs (1 API process)")
        cost = await bench.cost()
        log(f"2. one resident's flood ({args.workers} API processes, {args.flood} connections of 500-action batches)")
        flood = await bench.flood()
    finally:
        if monitor is not None:
            monitor.stop()
        await db.drop_database(server_url, name)
        log(f"database {name} dropped")

    print_tables(cost, flood, args)
    unexpected = sum(r.errors for _, r in cost) + sum(r.errors for _, r, _ in flood)
    unexpected += sum(len(f.unexpected) for _, _, f in flood if f is not None)
    for _, _, f in flood:
        for sample in (f.unexpected if f else [])[:5]:
            log(f"  flood: {sample}")
    if unexpected:
        log(f"{unexpected} unexpected answer(s)")
        return 1
    return 0


def print_tables(
    cost: list[tuple[str, Result]], flood: list[tuple[str, Result, Flood | None]], args: argparse.Namespace
) -> None:
    baseline = {(r.what, r.clients): r for store, r in cost if store == "off"}
    out = [
        f"{os.cpu_count()} cores; {args.warmup:g} s warm-up + {args.seconds:g} s measured per row",
        "",
        "1. What a limited request costs: one API process, limits too high to refuse anything",
        "",
        "| store | route | clients | req/s | p50 ms | p99 ms | peak RSS MB | req/s vs off | API CPU ms/req "
        "| PostgreSQL CPU ms/req | rest of the machine, cores | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route in ("GET /v1/cities", "POST /v1/me/actions"):
        for n in args.clients:
            for store, r in cost:
                if r.what != route or r.clients != n:
                    continue
                base = baseline.get((route, n))
                versus = f"{100 * r.rate / base.rate:.0f}%" if base and base.rate else "-"
                rate = r.rate or float("nan")
                out.append(
                    f"| {store} | {route} | {n} | {r.rate:,.0f} | {r.percentile_ms(0.5):.2f} | "
                    f"{r.percentile_ms(0.99):.2f} | {r.rss_bytes / 2**20:.0f} | {versus} | "
                    f"{1000 * r.cpu['API server'] / rate:.2f} | {1000 * r.cpu['PostgreSQL'] / rate:.2f} | "
                    f"{r.cpu['other']:.2f} | {r.errors} |"
                )
    out += [
        "",
        f"2. One resident's flood: {args.workers} API processes; the victims: {args.victims} residents logging "
        f"{args.victim_rate:g} single actions a second on schedule over 4 connections; the flood: one resident "
        f"on {args.flood} connections posting {BATCH}-action batches as fast as they are answered",
        "",
        "| store | victims | req/s | p50 ms | p99 ms | p99 vs alone | peak RSS MB "
        "| rest of the machine (flood process included), cores "
        "| flood req/s | flood answered 429 | flood answers |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    alone_p99 = statistics.median([r.percentile_ms(0.99) for _, r, f in flood if f is None] or [float("nan")])
    for store, r, f in flood:
        ratio = r.percentile_ms(0.99) / alone_p99
        flood_cells = (
            f"{f.rate:,.0f} | {100 * f.refused_share:.1f}% | "
            + ", ".join(f"{status}: {count}" for status, count in sorted(f.answers.items()))
            if f
            else "- | - | -"
        )
        out.append(
            f"| {store} | {r.what} | {r.rate:,.0f} | {r.percentile_ms(0.5):.2f} | {r.percentile_ms(0.99):.2f} | "
            f"{ratio:.2f}x | {r.rss_bytes / 2**20:.0f} | {r.cpu['other']:.2f} | {flood_cells} |"
        )
    beside = [r.percentile_ms(0.99) for store, r, f in flood if f is not None and store == "postgres"]
    if beside:
        beside_p99 = statistics.median(beside)
        ratio = beside_p99 / alone_p99
        out += [
            "",
            f"Target (the victims' p99 beside a limited flood within {TARGET_RATIO:g}x of their p99 alone, medians "
            f"of {len(beside)} rounds): {'met' if ratio <= TARGET_RATIO else 'NOT met'} ({ratio:.2f}x: "
            f"{beside_p99:.2f} ms against {alone_p99:.2f} ms)",
        ]
    print("\n".join(out), flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each row (default 2)")
    parser.add_argument(
        "--clients", type=positive_ints, default=[1, 32], help="concurrency levels of part 1 (default 1,32)"
    )
    parser.add_argument("--workers", type=int, default=2, help="API processes of part 2 (default 2)")
    parser.add_argument("--flood", type=int, default=32, help="the flooding resident's connections (default 32)")
    parser.add_argument("--victims", type=int, default=64, help="residents the victim logs for (default 64)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="part 2: limited rows alone and beside the flood, in turn (default 3)"
    )
    parser.add_argument(
        "--victim-rate", type=float, default=100.0, help="the victims' actions per second, on schedule (default 100)"
    )
    args = parser.parse_args(argv)
    if (
        args.seconds <= 0
        or args.warmup < 0
        or min(args.workers, args.flood, args.victims, args.victim_rate, args.rounds) <= 0
    ):
        parser.error("--seconds, --workers, --flood and --victims must be positive and --warmup not negative")
    return args


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_flood":
        run_loop(flood_process())
        return
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs, harmless
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
