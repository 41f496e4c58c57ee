"""Push fan-out benchmark: the notification sender through each candidate HTTP client to the fake FCM server.

    .venv/bin/python bench/push_fanout.py [--notifications 20000] [--processes 2] [--senders 2] [--batch 500]
                                          [--clients direct,sdk,sdk+aiohttp,sdk+pyreqwest,sdk+pyqwest]
                                          [--protocols http1,http2] [--ceiling-messages 30000]
                                          [--httpx-messages 3000] [--connections 100] [--skip-ceiling]

One run, one fresh database ``upscale_bench_<random>`` (on the server of
``DATABASE_URL`` when set, otherwise on the embedded PostgreSQL in ``.upscale/``),
migrated, dropped at the end. The fake FCM server (``tests.fakes.fcm.FakeFCM``)
runs in a process of its own on 127.0.0.1, so it does not share the clients'
GIL; a fresh one for each row. Over HTTP/1.1 it is uvicorn; over HTTP/2 the same
ASGI app (the same checks, answers and records) behind a small h2c front
(``H2cServer``, prior knowledge, no TLS). Rows of the table:

``ceiling (raw HTTP/1.1)``
    ``--connections`` asyncio tasks, each with one keep-alive connection (a few
    lines of asyncio HTTP/1.1, as in ``bench/action_logging.py``), posting valid
    FCM v1 bodies to the fake, ``--ceiling-messages`` in all. What the fake takes
    on this machine; the 100% of "% of ceiling", and the client CPU per message
    the targets compare with.
``bare httpx.AsyncClient``
    The same through one ``httpx.AsyncClient`` (pool of ``--connections``), the
    client under firebase-admin, ``--httpx-messages`` in all.
``bare pyreqwest`` (HTTP/1.1 and HTTP/2)
    The same through one pyreqwest client, at most ``--connections`` in flight:
    the floor of the client the sender uses.
``sender: <client>`` (for each of ``--clients`` and ``--protocols``)
    ``--notifications`` residents, each with one device and one message due now
    (quiet hours off, daily cap 20), ``plan_due`` once. Then ``--processes``
    sender processes, like as many worker replicas: each with its own asyncpg pool
    and firebase-admin App, sends one unmeasured warm-up batch (extra messages, so
    the connections are open), waits for the common start, and runs ``--senders``
    tasks that loop ``send_batch(pool, sender, now, batch)`` until it returns 0
    (as the worker's ``sender.drain``, two by default).
    The replicas share the work through ``FOR UPDATE SKIP LOCKED``. End to end:
    database claim, send, record. The clients (``notifications/transport.py``):

    - ``direct``: what the worker uses, ``DirectSender``: pyreqwest posts, firebase-admin
      encodes, authorises, retries and maps errors;
    - ``sdk``: firebase-admin's ``send_each_async`` as shipped (httpx over httpcore; over
      HTTP/2 httpcore's HTTP/2 on one connection, told about prior knowledge);
    - ``sdk+aiohttp``, ``sdk+pyreqwest``, ``sdk+pyqwest``: ``send_each_async`` with the
      httpx-aiohttp, pyreqwest or pyqwest transport under its httpx client
      (``use_httpx_transport``); aiohttp speaks HTTP/1.1 only.

A second table gives the CPU each party used per message (the client: this
process for the ceiling rows, the sender processes for the sender rows; the fake
server; PostgreSQL, only the backends of this run's database and the server's
own processes, since the server may be shared), and the messages one core of the
client sends a second at that cost. Any failed send makes the exit status 1; a
missed target does not.
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
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.fakes.fcm in the fake server's process

from procstats import (  # noqa: E402 (the bench folder is on sys.path when run as a script)
    PeakSampler,
    admin_url,
    descendants,
    local_parent,
    machine_busy_seconds,
    proc_table,
    rss_bytes,
    run_loop,
)
from upscale_api import db, migrations  # noqa: E402
from upscale_api.notifications import sender  # noqa: E402
from upscale_api.notifications.fcm import OFFLINE_TOKEN, messaging_app  # noqa: E402
from upscale_api.notifications.transport import (  # noqa: E402
    BatchSender,
    DirectSender,
    SdkSender,
    use_httpx_transport,
)
from upscale_api.settings import load_settings  # noqa: E402

PROJECT = "demo-upscale-bench"
TARGET_RATE = 3_000.0  # msg/s from the sender processes
TARGET_CPU_RATIO = 5.0  # or: sender CPU per message at most this many times the raw client's
FLAT_RSS_SLACK_MB = 20.0  # end RSS at most this much above the RSS after the first 10%
CLIENTS = {
    "direct": "direct pyreqwest (the worker's)",
    "sdk": "firebase-admin as shipped (httpx)",
    "sdk+aiohttp": "firebase-admin + httpx-aiohttp transport",
    "sdk+pyreqwest": "firebase-admin + pyreqwest httpx transport",
    "sdk+pyqwest": "firebase-admin + pyqwest httpx transport",
}
HTTP1_ONLY = {"sdk+aiohttp"}
PROTOCOLS = {"http1": "HTTP/1.1", "http2": "HTTP/2"}
T = TypeVar("T")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- /proc ---------------------------------------------------------------------


@dataclass
class CpuSnapshot:
    groups: dict[str, dict[int, float]]
    machine: float
    at: float


@dataclass(frozen=True)
class Postgres:
    """The local PostgreSQL server's processes, less the backends that serve other databases.

    The embedded server may be shared with other work on the machine; a backend's process title
    (``postgres: user database host state``, ``postgres: autovacuum worker database``) names its
    database, so another database's work lands in "other", not in PostgreSQL's column.
    """

    postmaster: int | None
    other_databases: frozenset[str]

    def pids(self, table: dict[int, tuple[int, float, float]]) -> list[int]:
        if self.postmaster is None:
            return []
        return [pid for pid in descendants(table, self.postmaster) if not self._serves_other_database(pid)]

    def _serves_other_database(self, pid: int) -> bool:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return any(word in self.other_databases for word in title.split()[1:])


def cpu_snapshot(clients: list[int], fake: int, postgres: Postgres) -> CpuSnapshot:
    """CPU seconds so far of the client processes, the fake server and PostgreSQL (see :class:`Postgres`).

    Processes alone, without the children they reaped: this process reaps the fake servers of earlier
    rows, and PostgreSQL's postmaster the backends of every database.
    """
    table = proc_table()
    groups = {
        "client": [pid for pid in clients if pid in table],
        "fake FCM": descendants(table, fake),
        "PostgreSQL": postgres.pids(table),
    }
    return CpuSnapshot(
        {name: {pid: table[pid][1] for pid in pids} for name, pids in groups.items()},
        machine_busy_seconds(),
        time.perf_counter(),
    )


def cpu_seconds(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    used = {
        name: sum(t - before.groups[name].get(pid, 0.0) for pid, t in pids.items())
        for name, pids in after.groups.items()
    }
    used["other"] = max(0.0, after.machine - before.machine - sum(used.values()))
    return used


# --- The fake FCM server in its own process -------------------------------------


def serve_fake(h2c: bool) -> None:
    """``_fake`` mode: start FakeFCM, print its URL, run until stdin closes.

    ``h2c``: serve FakeFCM's ASGI app over HTTP/2 without TLS (prior knowledge) instead of uvicorn's
    HTTP/1.1, with the same checks, answers and records.
    """
    from tests.fakes.fcm import FakeFCM

    if h2c:
        run_loop(serve_h2c(FakeFCM()._asgi))
        return
    with FakeFCM() as fcm:
        print(fcm.url, flush=True)
        sys.stdin.read()


async def serve_h2c(app: Callable[..., Awaitable[None]]) -> None:
    server = await asyncio.get_running_loop().create_server(lambda: H2cServer(app), "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    server.close()


class H2cServer(asyncio.Protocol):
    """One HTTP/2 connection (h2c, prior knowledge) in front of an ASGI app; each stream is one request."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        import h2.config
        import h2.connection

        self.app = app
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.requests: dict[int, tuple[list[tuple[bytes, bytes]], list[bytes]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.h2.initiate_connection()
        self.flush()

    def data_received(self, data: bytes) -> None:
        import h2.events

        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived) and event.stream_id is not None:
                self.requests[event.stream_id] = ([(bytes(k), bytes(v)) for k, v in event.headers or []], [])
            elif isinstance(event, h2.events.DataReceived) and event.stream_id is not None:
                self.requests[event.stream_id][1].append(event.data or b"")
                self.h2.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id is not None:
                headers, chunks = self.requests.pop(event.stream_id)
                task = asyncio.get_running_loop().create_task(self.answer(event.stream_id, headers, b"".join(chunks)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif isinstance(event, h2.events.ConnectionTerminated) and self.transport is not None:
                self.transport.close()
        self.flush()

    async def answer(self, stream_id: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        pseudo = {k.decode(): v.decode() for k, v in headers if k.startswith(b":")}
        scope = {
            "type": "http",
            "http_version": "2",
            "method": pseudo.get(":method", "GET"),
            "path": pseudo.get(":path", "/").split("?")[0],
            "headers": [(k, v) for k, v in headers if not k.startswith(b":")],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.h2.send_headers(stream_id, [(b":status", str(message["status"]).encode()), *message["headers"]])
            else:
                self.h2.send_data(stream_id, message.get("body", b""), end_stream=not message.get("more_body"))
            self.flush()

        await self.app(scope, receive, send)

    def flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.h2.data_to_send())


def make_sender(app: Any, client: str, h2c: bool) -> tuple[BatchSender, Callable[[], Awaitable[None]]]:
    """The ``client`` row's sender for ``app``, and what closes its connections; ``h2c``: HTTP/2 with prior
    knowledge to the ``http://`` fake."""
    if client == "direct":
        direct = DirectSender(app, prior_knowledge=h2c)
        return direct, direct.aclose
    transport: httpx.AsyncBaseTransport | None = None
    if client == "sdk" and h2c:
        # The SDK asks httpx for HTTP/2, which it gets from Google over TLS (ALPN); over http://
        # httpx speaks HTTP/2 only when told about prior knowledge, which the SDK has no option for.
        transport = httpx.AsyncHTTPTransport(retries=0, http1=False, http2=True)
    elif client == "sdk+aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=httpx.Limits(max_connections=100, max_keepalive_connections=100))
    elif client == "sdk+pyreqwest":
        from pyreqwest.client import ClientBuilder
        from pyreqwest.compatibility.httpx import HttpxTransport

        builder = ClientBuilder().max_connections(100).pool_max_idle_per_host(100).follow_redirects(False)
        transport = HttpxTransport((builder.http2_prior_knowledge() if h2c else builder).build())
    elif client == "sdk+pyqwest":
        import pyqwest
        from pyqwest.httpx import AsyncPyqwestTransport

        version = pyqwest.HTTPVersion.HTTP2 if h2c else pyqwest.HTTPVersion.HTTP1
        transport = AsyncPyqwestTransport(pyqwest.HTTPTransport(http_version=version))
    if transport is None:
        return SdkSender(app), SdkSender(app).aclose
    use_httpx_transport(app, transport)
    return SdkSender(app), transport.aclose


class FakeServer:
    def __init__(self, h2c: bool = False) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_fake", *(["h2c"] if h2c else [])],
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
    peak_rss: int = 0  # of the client process; the largest of the sender processes
    fake_rss: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_drain: list[tuple[int, int]] = field(default_factory=list)  # per sender process: after 10% of its share, end

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        """The client's CPU milliseconds per message."""
        return self.cpu.get("client", 0.0) * 1000 / max(self.messages, 1)

    @property
    def per_core(self) -> float:
        """Messages one fully used core of the client sends a second at this cost."""
        return 1000 / self.cpu_ms if self.cpu_ms else 0.0

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


Post = Callable[[int], Awaitable[int]]


async def bare_clients(
    client: str, url: str, bodies: list[bytes], connections: int, h2c: bool
) -> tuple[list[Post], Any]:
    """``connections`` posting functions of one ``client`` (each posts ``bodies[i]``, returns the status), and
    the coroutine function that closes them. The connections are open when it returns."""
    path = f"/v1/projects/{PROJECT}/messages:send"
    headers = {"authorization": f"Bearer {OFFLINE_TOKEN}", "content-type": "application/json"}
    if client == "raw":
        raws = [RawConnection(url) for _ in range(connections)]

        def post_raw(conn: RawConnection) -> Post:
            async def post(i: int) -> int:
                return await conn.post(path, bodies[i])

            return post

        posts = [post_raw(conn) for conn in raws]

        async def close_raw() -> None:
            for conn in raws:
                await conn.aclose()

        close: Any = close_raw
    elif client == "httpx":
        hx = httpx.AsyncClient(
            base_url=url,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            timeout=httpx.Timeout(60.0),
            headers=headers,
        )

        async def post_httpx(i: int) -> int:
            return (await hx.post(path, content=bodies[i])).status_code

        posts, close = [post_httpx] * connections, hx.aclose
    else:
        from pyreqwest.client import ClientBuilder

        builder = ClientBuilder().default_headers(headers).max_connections(connections)
        builder = builder.pool_max_idle_per_host(connections).timeout(timedelta(seconds=60))
        client_ = (builder.http2_prior_knowledge() if h2c else builder).build()

        async def post_pyreqwest(i: int) -> int:
            response = await client_.post(url + path).body_bytes(bodies[i]).build().send()
            await response.bytes()
            return response.status

        posts, close = [post_pyreqwest] * connections, client_.close
    await asyncio.gather(*(post(0) for post in posts))  # open the connections before the clock starts
    return posts, close


async def ceiling(what: str, client: str, total: int, connections: int, postgres: Postgres, h2c: bool = False) -> Row:
    fake = FakeServer(h2c=h2c)
    try:
        bodies = [fcm_body(i) for i in range(total)]
        failures = 0
        next_index = 0
        posts, close = await bare_clients(client, fake.url, bodies, connections, h2c)

        async def worker(post: Post) -> None:
            nonlocal next_index, failures
            while next_index < total:
                i = next_index
                next_index += 1
                if await post(i) != 200:
                    failures += 1

        before = cpu_snapshot([os.getpid()], fake.pid, postgres)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(post) for post in posts))
        seconds = time.perf_counter() - t0
        after = cpu_snapshot([os.getpid()], fake.pid, postgres)
        await close()
        row = Row(what, total, seconds, failures, fake_rss=rss_bytes(fake.pid))
        row.cpu = cpu_seconds(before, after)
        row.peak_rss = rss_bytes(os.getpid())
        return row
    finally:
        fake.stop()


# --- The sender row ----------------------------------------------------------------

SETUP = [
    "TRUNCATE cities, residents, devices, notification_settings, notifications, notification_deliveries, "
    "notification_attempts RESTART IDENTITY CASCADE",
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


async def sender_row(url: str, args: argparse.Namespace, postgres: Postgres, client: str, protocol: str) -> Row:
    h2c = protocol == "http2"
    total = args.notifications + args.processes * args.batch  # plus one warm-up batch per process
    t_setup = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        conn = await asyncpg.connect(url)
        stack.push_async_callback(conn.close)
        async with conn.transaction():
            for statement in SETUP:
                await (conn.execute(statement, total) if "$1" in statement else conn.execute(statement))
        await conn.execute("ANALYZE")
        now = datetime.now(UTC)
        pool = await db.create_pool(url, load_settings())
        stack.push_async_callback(pool.close)
        await sender.plan_due(pool, now, limit=total)
        planned = await pool.fetchval("SELECT count(*) FROM notification_deliveries WHERE status = 'pending'")
        log(
            f"  setup: {total:,} notifications planned into {planned:,} deliveries "
            f"in {time.perf_counter() - t_setup:.1f} s"
        )
        fake = FakeServer(h2c=h2c)
        stack.callback(fake.stop)
        share = args.notifications // args.processes
        settings = [url, fake.url, now.isoformat(), str(args.batch), str(args.senders), str(share), client]
        settings.append("h2c" if h2c else "http/1.1")
        replicas = [start_replica(settings) for _ in range(args.processes)]
        for process in replicas:
            stack.callback(stop_replica, process)
        t0 = time.perf_counter()
        warm = [json.loads(line) for line in await asyncio.gather(*(read_line(p) for p in replicas))]
        log(
            f"  warm-up: {args.processes} process(es), {sum(w['ready'] for w in warm)} messages "
            f"in {(time.perf_counter() - t0) * 1000:.0f} ms"
        )

        pids = [p.pid for p in replicas]
        before = cpu_snapshot(pids, fake.pid, postgres)
        t0 = time.perf_counter()
        for process in replicas:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [json.loads(line) for line in await asyncio.gather(*(read_line(p) for p in replicas))]
        seconds = time.perf_counter() - t0
        after = cpu_snapshot(pids, fake.pid, postgres)  # the replicas wait for stdin to close before exiting

        status_rows = await pool.fetch("SELECT status, count(*) AS n FROM notification_deliveries GROUP BY status")
        counts: dict[str, int] = {r["status"]: r["n"] for r in status_rows}
        sent = counts.pop("sent", 0)
        row = Row(
            f"sender: {CLIENTS[client]}, {PROTOCOLS[protocol]}",
            sum(r["done"] for r in results),
            seconds,
            sum(counts.values()),
            [t for r in results for t in r["batch_times"]],
            peak_rss=max(r["peak_rss"] for r in results),
            fake_rss=rss_bytes(fake.pid),
            rss_drain=[(r["rss_early"], r["rss_end"]) for r in results],
        )
        row.cpu = cpu_seconds(before, after)
        if counts or sent != total:
            log(f"  deliveries not sent: {counts} (sent {sent:,} of {total:,})")
        return row


def start_replica(settings: list[str]) -> subprocess.Popen[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "_sender", *settings]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)


async def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = await asyncio.to_thread(process.stdout.readline)
    if not line:
        raise RuntimeError(f"sender process {process.pid} stopped (exit status {process.wait()})")
    return line


def stop_replica(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_sender(argv: list[str]) -> None:
    """``_sender`` mode: one sender replica. Warm up, print ``{"ready": n}``, wait for a line on stdin,
    drain, print the results as one JSON line, then wait for stdin to close before closing its database
    connections and exiting, so that its CPU and its PostgreSQL backends' can still be read."""
    url, fake_url, now, batch, loops, share, client, protocol = argv
    when = datetime.fromisoformat(now)
    run_loop(replica(url, fake_url, when, int(batch), int(loops), int(share), client, protocol == "h2c"))


async def replica(
    url: str, fake_url: str, now: datetime, batch: int, loops: int, share: int, client: str, h2c: bool
) -> None:
    pool = await db.create_pool(url, load_settings())
    try:
        app, close = make_sender(messaging_app(PROJECT, endpoint=fake_url, timeout_seconds=60.0), client, h2c)
        warm = await sender.send_batch(pool, app, now, batch=batch)
        print(json.dumps({"ready": warm}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)

        batch_times: list[float] = []
        done = 0
        rss_early = 0
        sampler = PeakSampler(0.02)
        sampler.start()

        async def loop() -> None:
            nonlocal done, rss_early
            while True:
                b0 = time.perf_counter()
                n = await sender.send_batch(pool, app, now, batch=batch)
                if n == 0:
                    return
                batch_times.append(time.perf_counter() - b0)
                done += n
                if not rss_early and done >= share // 10:
                    rss_early = rss_bytes(os.getpid())

        await asyncio.gather(*(loop() for _ in range(loops)))
        sampler.stop()
        result = {
            "done": done,
            "batch_times": batch_times,
            "peak_rss": sampler.peak_self,
            "rss_early": rss_early,
            "rss_end": rss_bytes(os.getpid()),
        }
        await close()
        print(json.dumps(result), flush=True)
        await asyncio.to_thread(sys.stdin.read)
    finally:
        await pool.close()


# --- The run -------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    server_url = admin_url()
    name = f"upscale_bench_{secrets.token_hex(4)}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    log(f"database {name} created")
    rows: list[Row] = []
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrations.migrate(conn)
            others = await conn.fetch(
                "SELECT datname FROM pg_database "
                "WHERE datname NOT IN (current_database(), 'postgres', 'template0', 'template1')"
            )
            postgres = Postgres(
                local_parent(await conn.fetchval("SELECT pg_backend_pid()")), frozenset(r["datname"] for r in others)
            )
            version = (await conn.fetchval("SELECT version()")).split(" on ")[0]
        finally:
            await conn.close()
        log(
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {version}, "
            f"load average {os.getloadavg()[0]:.2f}; {args.connections} connections for the ceiling rows"
        )
        if not args.skip_ceiling:
            bare = [("ceiling (raw HTTP/1.1)", "raw", args.ceiling_messages, False)]
            bare.append(("bare httpx.AsyncClient, HTTP/1.1", "httpx", args.httpx_messages, False))
            bare += [
                (f"bare pyreqwest, {PROTOCOLS[p]}", "pyreqwest", args.ceiling_messages, p == "http2")
                for p in args.protocols
            ]
            for what, client, messages, h2c in bare:
                rows.append(await ceiling(what, client, messages, args.connections, postgres, h2c))
                log(f"  {rows[-1].what}: {rows[-1].rate:,.0f} msg/s")
        for protocol in args.protocols:
            for client in args.clients:
                if protocol == "http2" and client in HTTP1_ONLY:
                    continue
                rows.append(await sender_row(url, args, postgres, client, protocol))
                log(f"  {rows[-1].what}: {rows[-1].rate:,.0f} msg/s (load average {os.getloadavg()[0]:.2f})")
    finally:
        await db.drop_database(server_url, name)
        log(f"database {name} dropped")

    print_tables(rows, args)
    failures = sum(r.failures for r in rows)
    if failures:
        log(f"{failures} message(s) failed")
        return 1
    return 0


def print_tables(rows: list[Row], args: argparse.Namespace) -> None:
    top = rows[0] if rows and rows[0].what.startswith("ceiling") else None
    mb = 2**20
    print()
    print(
        "| what | messages | msg/s | p50 batch ms | p99 batch ms | peak RSS MB | fake RSS MB | % of ceiling | failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = f"{r.rate / top.rate:.0%}" if top else "n/a"
        p50 = f"{r.batch_ms(0.5):.0f}" if r.batch_times else "-"
        p99 = f"{r.batch_ms(0.99):.0f}" if r.batch_times else "-"
        print(
            f"| {r.what} | {r.messages:,} | {r.rate:,.0f} | {p50} | {p99} | {r.peak_rss / mb:.0f} | "
            f"{r.fake_rss / mb:.0f} | {share} | {r.failures} |"
        )
    print()
    print(
        "| what | seconds | client ms/msg (cores) | msg/s per client core | fake FCM ms/msg (cores) "
        "| PostgreSQL ms/msg (cores) | other (cores) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = []
        for name in ("client", "fake FCM", "PostgreSQL"):
            used = r.cpu.get(name, 0.0)
            cells.append(f"{used * 1000 / max(r.messages, 1):.3f} ({used / r.seconds:.2f})")
        cells.insert(1, f"{r.per_core:,.0f}")
        cells.append(f"({r.cpu.get('other', 0.0) / r.seconds:.2f})")
        print(f"| {r.what} | {r.seconds:.1f} | " + " | ".join(cells) + " |")
    print()
    for r in rows:
        if r.rss_drain:
            drain = ", ".join(f"{early / mb:.0f} -> {end / mb:.0f} MB" for early, end in r.rss_drain)
            print(f"RSS of each sender process, after 10% of its share -> at the end: {r.what}: {drain}.")
    floor = top.cpu_ms if top else 0.0
    for r in rows:
        if not r.what.startswith(f"sender: {CLIENTS['direct']}"):
            continue
        rate_ok = r.rate >= TARGET_RATE
        cpu_ok = bool(floor) and r.cpu_ms <= TARGET_CPU_RATIO * floor
        flat = bool(r.rss_drain) and all(end - early <= FLAT_RSS_SLACK_MB * mb for early, end in r.rss_drain)
        ratio = f"{r.cpu_ms / floor:.1f}x" if floor else "no raw row"
        print(
            f"Targets, {r.what}, {args.processes} process(es): >= {TARGET_RATE:,.0f} msg/s: "
            f"{'met' if rate_ok else 'NOT met'} ({r.rate:,.0f}); client CPU per message <= {TARGET_CPU_RATIO:.0f}x "
            f"the raw row's: {'met' if cpu_ok else 'NOT met'} ({r.cpu_ms:.3f} ms, {ratio}); memory flat over "
            f"{r.messages:,} messages (end <= 10% mark + {FLAT_RSS_SLACK_MB:.0f} MB): {'met' if flat else 'NOT met'}."
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--notifications", type=int, default=20_000, help="messages each sender row drains")
    parser.add_argument("--processes", type=int, default=2, help="sender processes (worker replicas)")
    parser.add_argument(
        "--senders", type=int, default=sender.LOOPS, help="concurrent send_batch loops per sender process, as drain()"
    )
    parser.add_argument("--batch", type=int, default=sender.BATCH, help="send_batch size (at most 500)")
    parser.add_argument(
        "--clients", type=_names(CLIENTS), default=list(CLIENTS), help=f"sender rows, of {','.join(CLIENTS)}"
    )
    parser.add_argument("--protocols", type=_names(PROTOCOLS), default=list(PROTOCOLS), help="http1, http2 or both")
    parser.add_argument("--ceiling-messages", type=int, default=30_000, help="messages per bare-client row")
    parser.add_argument("--httpx-messages", type=int, default=3_000, help="messages of the bare httpx row (slow)")
    parser.add_argument("--connections", type=int, default=100, help="connections of the bare-client rows")
    parser.add_argument("--skip-ceiling", action="store_true", help="no bare-client rows")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 500:
        parser.error("--batch must be between 1 and 500 (send_each_async's limit)")
    if args.processes < 1 or args.senders < 1:
        parser.error("--processes and --senders must be at least 1")
    return args


def _names(known: dict[str, str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{unknown or text!r}: choose from {', '.join(known)}")
        return names

    return parse


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_fake":
        serve_fake(sys.argv[2:] == ["h2c"])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_sender":
        serve_sender(sys.argv[2:])
        return
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
