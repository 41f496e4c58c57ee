"""Push fan-out benchmark: the notification sender through firebase-admin to the fake FCM server.

    .venv/bin/python bench/push_fanout.py [--notifications 100000] [--batch 500] [--senders 1]
                                          [--ceiling-messages 30000] [--httpx-messages 3000]
                                          [--connections 100] [--fake-nodelay]

One run, one fresh database ``upscale_bench_<random>`` (on the server of
``DATABASE_URL`` when set, otherwise on the embedded PostgreSQL in ``.upscale/``),
migrated, dropped at the end. The fake FCM server (``tests.fakes.fcm.FakeFCM``,
uvicorn) runs in a process of its own on 127.0.0.1, so it does not share this
process's GIL; a fresh one for each row. Rows of the table:

``ceiling (raw HTTP/1.1)``
    ``--connections`` asyncio tasks, each with one keep-alive connection (a few
    lines of asyncio HTTP/1.1, as in ``bench/action_logging.py``), posting valid
    FCM v1 bodies to the fake, ``--ceiling-messages`` in all. What the fake takes
    on this machine; the 100% of "% of ceiling".
``bare httpx.AsyncClient``
    The same with one ``httpx.AsyncClient`` (pool of ``--connections``): the HTTP
    client the SDK uses, without the SDK.
``sender (firebase-admin)``
    ``--notifications`` residents, each with one device, each with one message due
    now (quiet hours off, daily cap 20). ``plan_due`` once, one unmeasured warm-up
    batch (extra messages, so the SDK's connection pool is open), then
    ``--senders`` tasks loop ``send_batch(pool, app, now, batch)`` until it returns
    0. End to end: database claim, ``messaging.send_each_async``, record.

A second table gives the CPU each party used per message (this process, the fake
server, PostgreSQL). Any failed send makes the exit status 1; a missed target does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.fakes.fcm in the fake server's process

from procstats import (  # noqa: E402 (the bench folder is on sys.path when run as a script)
    admin_url,
    descendants,
    local_parent,
    machine_busy_seconds,
    proc_table,
    rss_bytes,
)
from upscale_api import db, migrations  # noqa: E402
from upscale_api.notifications import sender  # noqa: E402
from upscale_api.notifications.fcm import OFFLINE_TOKEN, messaging_app  # noqa: E402
from upscale_api.settings import load_settings  # noqa: E402

PROJECT = "demo-upscale-bench"
TARGET_RATE = 5_000.0
TARGET_SHARE = 0.50
FLAT_RSS_SLACK_MB = 20.0  # end RSS at most this much above the RSS after the first 10%


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- /proc ---------------------------------------------------------------------


@dataclass
class CpuSnapshot:
    groups: dict[str, dict[int, float]]
    machine: float
    at: float


def cpu_snapshot(roots: dict[str, int | None]) -> CpuSnapshot:
    """CPU seconds so far of each group: this process alone, the fake server, PostgreSQL's process tree."""
    table = proc_table()
    groups: dict[str, dict[int, float]] = {}
    for name, root in roots.items():
        if root is None:
            groups[name] = {}
        elif name == "benchmark":
            groups[name] = {root: table[root][1]} if root in table else {}
        else:
            groups[name] = {pid: table[pid][1] + table[pid][2] for pid in descendants(table, root)}
    return CpuSnapshot(groups, machine_busy_seconds(), time.perf_counter())


def cpu_seconds(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    used = {
        name: sum(t - before.groups[name].get(pid, 0.0) for pid, t in pids.items())
        for name, pids in after.groups.items()
    }
    used["other"] = max(0.0, after.machine - before.machine - sum(used.values()))
    return used


class RssSampler(threading.Thread):
    """Peak RSS of this process, sampled every 20 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="rss")
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.02):
            self.peak = max(self.peak, rss_bytes(os.getpid()))

    def reset(self) -> None:
        self.peak = rss_bytes(os.getpid())

    def stop(self) -> None:
        self._stop_event.set()


# --- The fake FCM server in its own process -------------------------------------


def serve_fake(nodelay: bool) -> None:
    """``_fake`` mode: start FakeFCM, print its URL, run until stdin closes.

    ``nodelay``: set TCP_NODELAY on the fake's listening socket (accepted sockets
    inherit it). As written, the fake's sockets leave Nagle's algorithm on and
    uvicorn writes a response's head and body separately, so on a keep-alive
    connection the body waits for the client's delayed ACK: about 45 ms per request.
    """
    import socket

    from tests.fakes import fcm as fake_module

    if nodelay:

        class NoDelaySocket(socket.socket):
            def bind(self, address: Any) -> None:
                self.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().bind(address)

        setattr(socket, "socket", NoDelaySocket)  # noqa: B010 - only in the fake server's own process

    with fake_module.FakeFCM() as fcm:
        print(fcm.url, flush=True)
        sys.stdin.read()


class FakeServer:
    def __init__(self, nodelay: bool) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_fake", *(["nodelay"] if nodelay else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("the fake FCM server did not start")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- Results ---------------------------------------------------------------------


@dataclass
class Row:
    what: str
    messages: int
    seconds: float
    failures: int
    batch_times: list[float] = field(default_factory=list)
    peak_rss: int = 0
    fake_rss: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_early: int = 0
    rss_end: int = 0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def batch_ms(self, q: float) -> float:
        if not self.batch_times:
            return float("nan")
        ordered = sorted(self.batch_times)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def fcm_body(i: int) -> bytes:
    """A valid FCM v1 request like the sender's (notification, data, android ttl, fid)."""
    message = {
        "message": {
            "fid": f"fid-bench-{i}",
            "notification": {"title": "Nov teden", "body": "Na kolo!"},
            "data": {"kind": "reminder"},
            "android": {"ttl": "21600s"},
        }
    }
    return json.dumps(message, separators=(",", ":")).encode()


class RawConnection:
    """Minimal HTTP/1.1 keep-alive client (Content-Length responses only), as in action_logging.py."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {OFFLINE_TOKEN}\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        answer = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = answer[:-4].split(b"\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return int(status_line.split(b" ", 2)[1])

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def ceiling(what: str, client: str, total: int, connections: int, postmaster: int | None, nodelay: bool) -> Row:
    fake = FakeServer(nodelay)
    try:
        path = f"/v1/projects/{PROJECT}/messages:send"
        bodies = [fcm_body(i) for i in range(total)]
        failures = 0
        next_index = 0
        roots = {"benchmark": os.getpid(), "fake FCM": fake.pid, "PostgreSQL": postmaster}
        if client == "raw":
            raws = [RawConnection(fake.url) for _ in range(connections)]
            for conn in raws:  # open the connections before the clock starts
                await conn.post(path, bodies[0])

            def post_raw(conn: RawConnection) -> Callable[[int], Awaitable[int]]:
                async def post(i: int) -> int:
                    return await conn.post(path, bodies[i])

                return post

            workers = [post_raw(conn) for conn in raws]
        else:
            hx = httpx.AsyncClient(
                base_url=fake.url,
                limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
                timeout=httpx.Timeout(60.0),
                headers={"authorization": f"Bearer {OFFLINE_TOKEN}", "content-type": "application/json"},
            )
            await asyncio.gather(*(hx.post(path, content=bodies[0]) for _ in range(connections)))

            async def post_httpx(i: int) -> int:
                return (await hx.post(path, content=bodies[i])).status_code

            workers = [post_httpx] * connections

        async def worker(post: Callable[[int], Awaitable[int]]) -> None:
            nonlocal next_index, failures
            while next_index < total:
                i = next_index
                next_index += 1
                if await post(i) != 200:
                    failures += 1

        before = cpu_snapshot(roots)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in workers))
        seconds = time.perf_counter() - t0
        after = cpu_snapshot(roots)
        if client == "raw":
            for conn in raws:
                await conn.aclose()
        else:
            await hx.aclose()
        row = Row(what, total, seconds, failures, fake_rss=rss_bytes(fake.pid))
        row.cpu = cpu_seconds(before, after)
        row.peak_rss = rss_bytes(os.getpid())
        return row
    finally:
        fake.stop()


# --- The sender row ----------------------------------------------------------------

SETUP = [
    "INSERT INTO cities (code, country, name, time_zone, languages) "
    "VALUES ('kranj', 'SI', '{\"en\": \"Kranj\"}', 'Europe/Ljubljana', '{sl,en}')",
    "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
    "SELECT 'bench-' || g, c.id, 'sl', c.time_zone FROM generate_series(1, $1::int) g, cities c",
    "INSERT INTO devices (installation_id, resident_id, city_id, platform, app_version) "
    "SELECT 'fid-bench-' || r.id, r.id, r.city_id, 'android', '1.0' FROM residents r",
    "INSERT INTO notification_settings (resident_id, quiet_start, quiet_end, daily_cap) "
    "SELECT id, '00:00', '00:00', 20 FROM residents",
    "INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, not_before) "
    "SELECT id, city_id, 'reminder', 'bench-1', 'Nov teden', 'Na kolo!', 'sl', now() + interval '6 hours', "
    "now() - interval '1 minute' FROM residents",
]


async def sender_row(url: str, args: argparse.Namespace, postmaster: int | None, sampler: RssSampler) -> Row:
    total = args.notifications + args.batch  # plus one warm-up batch
    t_setup = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        conn = await asyncpg.connect(url)
        stack.push_async_callback(conn.close)
        async with conn.transaction():
            for statement in SETUP:
                await (conn.execute(statement, total) if "$1" in statement else conn.execute(statement))
        await conn.execute("ANALYZE")
    settings = load_settings()
    pool = await db.create_pool(url, settings)
    fake = FakeServer(args.fake_nodelay)
    try:
        now = datetime.now(UTC)
        await sender.plan_due(pool, now, limit=total)
        planned = await pool.fetchval("SELECT count(*) FROM notification_deliveries WHERE status = 'pending'")
        log(
            f"  setup: {total:,} notifications planned into {planned:,} deliveries "
            f"in {time.perf_counter() - t_setup:.1f} s"
        )
        app = messaging_app(PROJECT, endpoint=fake.url, timeout_seconds=60.0)
        t0 = time.perf_counter()
        warm = await sender.send_batch(pool, app, now, batch=args.batch)
        log(f"  warm-up batch: {warm} in {(time.perf_counter() - t0) * 1000:.0f} ms")

        batch_times: list[float] = []
        done = 0
        rss_early = 0
        roots = {"benchmark": os.getpid(), "fake FCM": fake.pid, "PostgreSQL": postmaster}

        async def loop() -> None:
            nonlocal done, rss_early
            while True:
                b0 = time.perf_counter()
                n = await sender.send_batch(pool, app, now, batch=args.batch)
                if n == 0:
                    return
                batch_times.append(time.perf_counter() - b0)
                done += n
                if not rss_early and done >= args.notifications // 10:
                    rss_early = rss_bytes(os.getpid())

        sampler.reset()
        before = cpu_snapshot(roots)
        t0 = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(args.senders)))
        seconds = time.perf_counter() - t0
        after = cpu_snapshot(roots)
        status_rows = await pool.fetch("SELECT status, count(*) AS n FROM notification_deliveries GROUP BY status")
        counts: dict[str, int] = {r["status"]: r["n"] for r in status_rows}
        sent = counts.pop("sent", 0)
        row = Row(
            f"sender (firebase-admin), {args.senders} sender{'s' if args.senders > 1 else ''}",
            done,
            seconds,
            sum(counts.values()),
            batch_times,
            peak_rss=sampler.peak,
            fake_rss=rss_bytes(fake.pid),
            rss_early=rss_early,
            rss_end=rss_bytes(os.getpid()),
        )
        row.cpu = cpu_seconds(before, after)
        if counts or sent != total:
            log(f"  deliveries not sent: {counts} (sent {sent:,} of {total:,})")
        return row
    finally:
        await pool.close()
        fake.stop()


# --- The run -------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    server_url = admin_url()
    name = f"upscale_bench_{secrets.token_hex(4)}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    log(f"database {name} created")
    rows: list[Row] = []
    sampler = RssSampler()
    sampler.start()
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrations.migrate(conn)
            postmaster = local_parent(await conn.fetchval("SELECT pg_backend_pid()"))
            version = (await conn.fetchval("SELECT version()")).split(" on ")[0]
        finally:
            await conn.close()
        log(
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {version}, "
            f"load average {os.getloadavg()[0]:.2f}; {args.connections} connections for the ceiling rows"
        )
        if not args.skip_ceiling:
            rows.append(
                await ceiling(
                    "ceiling (raw HTTP/1.1)",
                    "raw",
                    args.ceiling_messages,
                    args.connections,
                    postmaster,
                    args.fake_nodelay,
                )
            )
            log(f"  {rows[-1].what}: {rows[-1].rate:,.0f} msg/s")
            rows.append(
                await ceiling(
                    "bare httpx.AsyncClient",
                    "httpx",
                    args.httpx_messages,
                    args.connections,
                    postmaster,
                    args.fake_nodelay,
                )
            )
            log(f"  {rows[-1].what}: {rows[-1].rate:,.0f} msg/s")
        rows.append(await sender_row(url, args, postmaster, sampler))
        log(f"  {rows[-1].what}: {rows[-1].rate:,.0f} msg/s")
    finally:
        sampler.stop()
        await db.drop_database(server_url, name)
        log(f"database {name} dropped")

    print_tables(rows)
    failures = sum(r.failures for r in rows)
    if failures:
        log(f"{failures} message(s) failed")
        return 1
    return 0


def print_tables(rows: list[Row]) -> None:
    top = rows[0].rate if rows and rows[0].what.startswith("ceiling") else 0.0
    mb = 2**20
    print()
    print(
        "| what | messages | msg/s | p50 batch ms | p99 batch ms | peak RSS MB | fake RSS MB | % of ceiling | failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = f"{r.rate / top:.0%}" if top else "n/a"
        p50 = f"{r.batch_ms(0.5):.0f}" if r.batch_times else "-"
        p99 = f"{r.batch_ms(0.99):.0f}" if r.batch_times else "-"
        print(
            f"| {r.what} | {r.messages:,} | {r.rate:,.0f} | {p50} | {p99} | {r.peak_rss / mb:.0f} | "
            f"{r.fake_rss / mb:.0f} | {share} | {r.failures} |"
        )
    print()
    print(
        "| what | seconds | benchmark process ms/msg (cores) | fake FCM ms/msg (cores) "
        "| PostgreSQL ms/msg (cores) | other (cores) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = []
        for name in ("benchmark", "fake FCM", "PostgreSQL"):
            used = r.cpu.get(name, 0.0)
            cells.append(f"{used * 1000 / max(r.messages, 1):.3f} ({used / r.seconds:.2f})")
        cells.append(f"({r.cpu.get('other', 0.0) / r.seconds:.2f})")
        print(f"| {r.what} | {r.seconds:.1f} | " + " | ".join(cells) + " |")
    print()
    sdk = rows[-1]
    rate_ok = sdk.rate >= TARGET_RATE
    share_ok = bool(top) and sdk.rate >= TARGET_SHARE * top
    flat = sdk.rss_end - sdk.rss_early <= FLAT_RSS_SLACK_MB * mb
    print(
        f"RSS while draining: {sdk.rss_early / mb:.0f} MB after the first 10%, {sdk.rss_end / mb:.0f} MB at the end, "
        f"peak {sdk.peak_rss / mb:.0f} MB."
    )
    share = f"{sdk.rate / top:.0%} of {top:,.0f}" if top else "no ceiling measured"
    print(
        f"Targets: >= {TARGET_RATE:,.0f} msg/s: {'met' if rate_ok else 'NOT met'} ({sdk.rate:,.0f}); "
        f">= {TARGET_SHARE:.0%} of the ceiling: {'met' if share_ok else 'NOT met'} ({share}); "
        f"memory flat (end <= 10% mark + {FLAT_RSS_SLACK_MB:.0f} MB): {'met' if flat else 'NOT met'}."
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--notifications", type=int, default=100_000, help="messages the sender drains")
    parser.add_argument("--batch", type=int, default=sender.BATCH, help="send_batch size (at most 500)")
    parser.add_argument("--senders", type=int, default=1, help="concurrent send_batch loops")
    parser.add_argument("--ceiling-messages", type=int, default=30_000, help="messages per ceiling row")
    parser.add_argument("--httpx-messages", type=int, default=3_000, help="messages of the bare httpx row (slow)")
    parser.add_argument("--connections", type=int, default=100, help="connections of the ceiling rows")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument(
        "--fake-nodelay",
        action="store_true",
        help="set TCP_NODELAY on the fake server's sockets (it has a ~45 ms delayed-ACK stall per request without)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 500:
        parser.error("--batch must be between 1 and 500 (send_each_async's limit)")
    return args


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_fake":
        serve_fake(sys.argv[2:] == ["nodelay"])
        return
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        import uvloop

        runner: Callable[[Any], int] = uvloop.run
    except ImportError:
        runner = asyncio.run
    sys.exit(runner(run(args)))


if __name__ == "__main__":
    main()
