"""Action-logging benchmark: ``POST /v1/me/actions`` next to a bare asyncpg insert loop.

    .venv/bin/python bench/action_logging.py [--seconds 10] [--warmup 2] [--clients 1,16,64]
                                             [--workers 1[,2]] [--client raw|httpx] [--profile FILE]

One run, one fresh database ``upscale_bench_<random>`` (on the server of
``DATABASE_URL`` when set, otherwise on the embedded PostgreSQL in ``.upscale/``),
migrated and loaded with ``campaigns/``, dropped at the end. At each concurrency
level N it measures, for ``--seconds`` after ``--warmup`` (rows of the table):

``ceiling (asyncpg INSERT)``
    N asyncio tasks, each holding one of N asyncpg connections, each running one
    autocommit ``INSERT INTO action_logs ... VALUES`` with the columns the app
    writes. What this database takes on this machine; the baseline for "% of ceiling".
``app SQL (no HTTP)``
    The statements the endpoint runs for one action (``BEGIN``; lock the
    resident; look up the id; day totals; ``INSERT ... FROM unnest``; ``COMMIT``),
    taken from ``upscale_api.actions.queries``, over an asyncpg pool with an
    acquire/release per action like the app. The endpoint minus HTTP, Litestar and auth.
``HTTP floor``
    ``GET /health/live`` on the same server: no token, no body, no database.
    What any request costs in uvicorn + Litestar with this load generator.
``endpoint``
    The real app served by uvicorn in a separate process (127.0.0.1, access log
    off, Firebase Auth-emulator mode, settings from the environment), driven by N
    simulated clients, each with its own HTTP/1.1 keep-alive connection and its own
    residents (registered with ``PUT /v1/me`` first), sending one action at a time.
    The clients run in this process on one asyncio loop (uvloop when installed).

Every request must succeed: each resident logs types and quantities that stay
within the per-day limits. Non-2xx answers are counted; any makes the exit
status 1 (a missed performance target does not).

The load generator, the API server and PostgreSQL share the machine's cores; a
second table says how much CPU each used, per request.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import msgspec

from procstats import (
    PeakSampler,
    admin_url,
    descendants,
    local_parent,
    machine_busy_seconds,
    proc_table,
    rss_bytes,
    run_loop,
)
from upscale_api import db, migrations
from upscale_api.actions import service as actions_service
from upscale_api.actions.structs import ActionIn
from upscale_api.auth import dev_token
from upscale_api.catalogue.service import ActionType, Catalogue, City
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CITY = "kranj"
EMULATOR_HOST = "127.0.0.1:9099"
TARGET_SHARE = 0.50
TARGET_P99_MS = 25.0
MAX_ERROR_SAMPLES = 5

CEILING_INSERT = """
INSERT INTO action_logs
    (id, resident_id, city_id, action_type_id, quantity, performed_at, local_date,
     baseline_factor_id, option_factor_id, co2e_kg)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- What each simulated client logs ------------------------------------------


@dataclass(frozen=True)
class Kind:
    """An action type with the quantity the benchmark logs and how many fit in a day."""

    type: ActionType
    quantity: float
    per_day: int

    @property
    def co2e_kg(self) -> float:
        return round(self.quantity * self.type.saving_per_unit_kg, 6)


@dataclass
class Resident:
    uid: str
    token: str
    id: int = 0


def kinds_for(city: City, types: dict[str, ActionType]) -> list[Kind]:
    """Every type offered in ``city``, at its smallest quantity, with how many such entries fit in a day."""
    kinds = []
    for t in types.values():
        if city.id in t.city_ids:
            per_day = math.floor(t.max_per_day / t.min_quantity + 1e-6)
            if per_day > 0:
                kinds.append(Kind(t, t.min_quantity, per_day))
    if not kinds:
        raise SystemExit(f"no action type is offered in {city.code}")
    return kinds


class Plan:
    """Which of a client's residents logs which action next; never past a per-day limit.

    Requests go round the residents and types, so each (resident, type, day)
    gets few rows and the day-total query stays as cheap as it is in real use.
    """

    def __init__(self, residents: list[Resident], kinds: list[Kind]) -> None:
        self._slots = self._walk(residents, kinds)

    def next(self) -> tuple[Resident, Kind]:
        return next(self._slots)

    @staticmethod
    def _walk(residents: list[Resident], kinds: list[Kind]) -> Iterator[tuple[Resident, Kind]]:
        used: collections.Counter[tuple[str, str]] = collections.Counter()
        while True:
            progressed = False
            for kind in kinds:
                for resident in residents:
                    key = (resident.uid, kind.type.code)
                    if used[key] < kind.per_day:
                        used[key] += 1
                        progressed = True
                        yield resident, kind
            if not progressed:
                raise RuntimeError("the residents used up their daily limits: raise --residents")


def split(residents: list[Resident], n: int) -> list[list[Resident]]:
    return [residents[i::n] for i in range(n)]


# --- Measuring ----------------------------------------------------------------


@dataclass
class Result:
    what: str
    clients: int
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    error_samples: list[str]
    rss_bytes: int
    cpu: dict[str, float] = field(default_factory=dict)
    """Cores used during the measured window, by process group."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, math.ceil(q * len(ordered)) - 1)
        return ordered[rank] * 1000


class Monitor(PeakSampler):
    """Samples resident memory (every 20 ms) and CPU time of the processes involved (Linux /proc)."""

    def __init__(self, postmaster: int | None) -> None:
        super().__init__(0.02)
        self.server: int | None = None
        """pid of the API server (its worker processes are found below it)."""
        self.postmaster = postmaster
        self.peak_server = 0

    def sample(self) -> None:
        super().sample()
        server = self.server
        if server is None:
            return
        self.peak_server = max(self.peak_server, sum(rss_bytes(pid) for pid in self.processes_under(server)))

    def reset(self) -> None:
        self.peak_server = 0
        super().reset()

    def cpu_snapshot(self) -> dict[str, Any]:
        table = proc_table()
        roots = {"API server": self.server, "PostgreSQL": self.postmaster}
        snapshot: dict[str, Any] = {
            name: {pid: table[pid][1] + table[pid][2] for pid in descendants(table, root)} if root else {}
            for name, root in roots.items()
        }
        # This process's own CPU only: the API server is its child.
        snapshot["load generator"] = {self.me: table[self.me][1]} if self.me in table else {}
        snapshot["machine"] = machine_busy_seconds()
        snapshot["at"] = time.perf_counter()
        return snapshot


def cpu_used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Cores used per group between two snapshots; ``other`` is the rest of the machine."""
    wall = after["at"] - before["at"]
    used = {}
    for name in ("load generator", "API server", "PostgreSQL"):
        start, end = before[name], after[name]
        used[name] = sum(t - start.get(pid, 0.0) for pid, t in end.items()) / wall
    machine = (after["machine"] - before["machine"]) / wall
    used["other"] = max(0.0, machine - sum(used.values()))
    return used


Op = Callable[[], Awaitable[str | None]]
"""One request; returns None on success or a short description of the failure."""


async def drive(
    what: str, ops: list[Op], warmup: float, seconds: float, monitor: Monitor, *, server_rss: bool
) -> Result:
    """Run each op in a loop on its own task: ``warmup`` seconds unrecorded, then ``seconds`` recorded."""
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    loop_start = time.perf_counter()
    start = loop_start + warmup
    end = start + seconds
    last_end = start

    async def client(op: Op) -> None:
        nonlocal errors, last_end
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                return
            failure = await op()
            t1 = time.perf_counter()
            if failure is not None:
                errors += 1
                if len(samples) < MAX_ERROR_SAMPLES:
                    samples.append(failure)
            if t0 >= start:
                latencies.append(t1 - t0)
                last_end = max(last_end, t1)

    async def window() -> tuple[dict[str, Any], dict[str, Any]]:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        monitor.reset()
        before = monitor.cpu_snapshot()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        after = monitor.cpu_snapshot()
        return before, after

    watcher = asyncio.create_task(window())
    await asyncio.gather(*(client(op) for op in ops))
    before, after = await watcher
    monitor.sample()
    rss = monitor.peak_server if server_rss else monitor.peak_self
    result = Result(what, len(ops), len(latencies), last_end - start, latencies, errors, samples, rss)
    result.cpu = cpu_used(before, after)
    return result


def report_line(r: Result) -> None:
    log(
        f"  {r.what:<22} {r.clients:>3} clients: {r.rate:8.0f} req/s  p50 {r.percentile_ms(0.5):6.2f} ms  "
        f"p99 {r.percentile_ms(0.99):6.2f} ms  RSS {r.rss_bytes / 2**20:6.1f} MB  non-2xx {r.errors}"
    )
    for sample in r.error_samples:
        log(f"    error: {sample}")


# --- The three kinds of work --------------------------------------------------


@dataclass
class Bench:
    url: str
    city: City
    kinds: list[Kind]
    zone: ZoneInfo
    project_id: str
    args: argparse.Namespace
    monitor: Monitor
    settings: Settings

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    async def residents_in_db(self, conn: db.Connection, count: int, tag: str) -> list[Resident]:
        """Residents written straight to the table (for the SQL-only runs)."""
        uids = [f"bench-{tag}-{i}-{secrets.token_hex(3)}" for i in range(count)]
        rows = await conn.fetch(
            """
            INSERT INTO residents (firebase_uid, city_id, locale, time_zone)
            SELECT uid, $2, 'sl', $3 FROM unnest($1::text[]) AS uid
            RETURNING id, firebase_uid
            """,
            uids,
            self.city.id,
            self.city.time_zone,
        )
        return [Resident(row["firebase_uid"], "", row["id"]) for row in rows]

    async def ceiling(self, n: int) -> Result:
        async with db_connection(self.url) as conn:
            residents = await self.residents_in_db(conn, self.args.residents, f"ceiling{n}")
        plans = [Plan(group, self.kinds) for group in split(residents, n)]
        pool = await asyncpg.create_pool(self.url, min_size=n, max_size=n)
        assert pool is not None
        connections = [await pool.acquire() for _ in range(n)]
        city_id = self.city.id

        def op_for(conn: db.Connection, plan: Plan) -> Op:
            async def op() -> str | None:
                resident, kind = plan.next()
                now = datetime.now(UTC)
                t = kind.type
                try:
                    await conn.execute(
                        CEILING_INSERT,
                        uuid.uuid4(),
                        resident.id,
                        city_id,
                        t.id,
                        kind.quantity,
                        now,
                        self.local_date(now),
                        t.baseline_factor_id,
                        t.option_factor_id,
                        kind.co2e_kg,
                    )
                except (asyncpg.PostgresError, OSError) as exc:
                    return f"{type(exc).__name__}: {exc}"
                return None

            return op

        try:
            ops = [op_for(conn, plan) for conn, plan in zip(connections, plans, strict=True)]
            return await drive(
                "ceiling (asyncpg INSERT)", ops, self.args.warmup, self.args.seconds, self.monitor, server_rss=False
            )
        finally:
            for conn in connections:
                await pool.release(conn)
            await pool.close()

    async def app_sql(self, n: int) -> Result:
        """The endpoint's service call (``actions.service.log_actions``) over a pool like the app's."""
        async with db_connection(self.url) as conn:
            residents = await self.residents_in_db(conn, self.args.residents, f"sql{n}")
        plans = [Plan(group, self.kinds) for group in split(residents, n)]
        pool = await db.create_pool(self.url, self.settings)
        snapshot = await Catalogue(pool).reload()
        policy = actions_service.Policy(backdate=timedelta(days=7), delete_grace=timedelta(hours=24))

        def op_for(plan: Plan) -> Op:
            async def op() -> str | None:
                resident, kind = plan.next()
                now = datetime.now(UTC)
                item = ActionIn(id=uuid.uuid4(), action_type=kind.type.code, quantity=kind.quantity, performed_at=now)
                try:
                    (outcome,) = await actions_service.log_actions(pool, snapshot, policy, resident.uid, [item], now)
                except (asyncpg.PostgresError, OSError) as exc:
                    return f"{type(exc).__name__}: {exc}"
                return None if outcome.status == "stored" else outcome.status

            return op

        try:
            ops = [op_for(plan) for plan in plans]
            return await drive(
                "app SQL (no HTTP)", ops, self.args.warmup, self.args.seconds, self.monitor, server_rss=False
            )
        finally:
            await pool.close()

    async def register(self, base_url: str, count: int, tag: str) -> list[Resident]:
        """Residents registered through the API, ``PUT /v1/me`` (this also caches their tokens)."""
        residents = []
        for i in range(count):
            uid = f"bench-{tag}-{i}-{secrets.token_hex(3)}"
            residents.append(Resident(uid, dev_token(uid, self.project_id)))
        body = msgspec.json.encode({"city": self.city.code})

        async def register_some(group: list[Resident]) -> None:
            async with new_client(base_url) as client:
                for resident in group:
                    r = await client.put("/v1/me", content=body, headers=headers_for(resident))
                    if r.status_code != 201:
                        raise RuntimeError(f"PUT /v1/me answered {r.status_code}: {r.text[:300]}")

        await asyncio.gather(*(register_some(group) for group in split(residents, min(16, count))))
        return residents

    async def endpoint(self, base_url: str, n: int, label: str) -> Result:
        residents = await self.register(base_url, self.args.residents, f"api{n}")
        plans = [Plan(group, self.kinds) for group in split(residents, n)]
        clients = [connect(self.args.client, base_url) for _ in range(n)]

        try:
            ops = [log_action_op(client, plan) for client, plan in zip(clients, plans, strict=True)]
            return await drive(label, ops, self.args.warmup, self.args.seconds, self.monitor, server_rss=True)
        finally:
            for client in clients:
                await client.aclose()

    async def floor(self, base_url: str, n: int, label: str) -> Result:
        """``GET /health/live``: no body, no token, no database; what any request costs in this stack."""
        clients = [connect(self.args.client, base_url) for _ in range(n)]

        def op_for(client: HttpConnection) -> Op:
            async def op() -> str | None:
                try:
                    status, answer = await client.request("GET", "/health/live", b"", {})
                except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    return f"{type(exc).__name__}: {exc}"
                return None if status == 200 else f"{status}: {answer[:300]!r}"

            return op

        try:
            ops = [op_for(client) for client in clients]
            return await drive(label, ops, self.args.warmup, self.args.seconds, self.monitor, server_rss=True)
        finally:
            for client in clients:
                await client.aclose()


# --- HTTP clients: one keep-alive connection each, a simulated phone ------------


class HttpConnection:
    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class HttpxConnection(HttpConnection):
    """httpx.AsyncClient limited to one HTTP/1.1 keep-alive connection (``--client httpx``)."""

    def __init__(self, base_url: str) -> None:
        self.client = new_client(base_url)

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        r = await self.client.request(method, path, content=body or None, headers=headers)
        return r.status_code, r.content

    async def aclose(self) -> None:
        await self.client.aclose()


class RawConnection(HttpConnection):
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (``--client raw``, the default).

    The load generator shares the cores with the server and PostgreSQL, so what it
    costs per request is taken from them: httpx spends 0.7-1.1 ms of CPU per request
    (one core at 1,000-1,450 req/s, far below what the server answers on a no-op route),
    this client 0.05-0.2 ms. It reads responses with a Content-Length only, which is
    what the app sends for these routes.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        length = None
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ValueError("chunked responses are not supported by --client raw")
        if length is None:
            raise ValueError("response without content-length")
        answer = await self.reader.readexactly(length) if length else b""
        return int(status_line.split(b" ", 2)[1]), answer

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


def connect(kind: str, base_url: str) -> HttpConnection:
    return RawConnection(base_url) if kind == "raw" else HttpxConnection(base_url)


def new_client(base_url: str) -> httpx.AsyncClient:
    """One HTTP/1.1 keep-alive connection: a simulated phone."""
    return httpx.AsyncClient(
        base_url=base_url,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=httpx.Timeout(30.0),
    )


def log_action_op(client: HttpConnection, plan: Plan) -> Op:
    """One request of the mix: the plan's next resident logs its next action over ``client``;
    the op returns None for 201, else what went wrong."""

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
            status, answer = await client.request("POST", "/v1/me/actions", body, headers_for(resident))
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if status == 201 else f"{status}: {answer[:300]!r}"

    return op


def headers_for(resident: Resident) -> dict[str, str]:
    return {"authorization": f"Bearer {resident.token}", "content-type": "application/json"}


@contextlib.asynccontextmanager
async def db_connection(url: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


# --- The API server -----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """The app under uvicorn in its own process (this file, ``_serve`` mode)."""

    def __init__(
        self, database_url: str, workers: int, profile: Path | None, settings: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self.profile = profile
        self.base_url = f"http://127.0.0.1:{self.port}"
        # Rate limits off unless set: every request here comes from one address (bench/rate_limits.py measures them).
        env = {"UPSCALE_RATE_LIMIT_STORE": "off"} | dict(os.environ) | (settings or {})
        env.update(
            DATABASE_URL=database_url,
            FIREBASE_AUTH_EMULATOR_HOST=EMULATOR_HOST,
            UPSCALE_CAMPAIGNS_DIR=str(ROOT / "campaigns"),
            UPSCALE_ENV="development",
        )
        self.log_file = tempfile.NamedTemporaryFile(prefix="upscale-bench-server-", suffix=".log", delete=False)  # noqa: SIM115
        command = [sys.executable, str(Path(__file__).resolve()), "_serve", str(self.port), str(workers)]
        if profile is not None:
            command.append(str(profile))
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT)

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the API server exited with {self.process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health/ready")).status_code == 200:
                        if self.workers > 1:
                            await asyncio.sleep(2.0)  # let every worker finish start-up
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the API server was not ready within {within:.0f} s:\n{self.log_tail()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log_file.close()
        Path(self.log_file.name).unlink(missing_ok=True)

    def log_tail(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")[-3000:]


def serve(argv: list[str]) -> None:
    """``_serve PORT WORKERS [PROFILE]``: run the app with uvicorn; settings come from the environment.

    With PROFILE, SIGUSR1 starts cProfile and SIGUSR2 stops it and writes the stats there.
    """
    import uvicorn

    port, workers = int(argv[0]), int(argv[1])
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "access_log": False,
        "log_level": "warning",
        "proxy_headers": False,  # as `upscale serve`: the app decides whose X-Forwarded-For to believe
    }
    if workers > 1:
        uvicorn.run("upscale_api.asgi:app", workers=workers, **options)
        return
    from upscale_api.app import create_app

    app = create_app(load_settings())
    if len(argv) > 2:
        import cProfile

        profile_path = argv[2]
        profiler = cProfile.Profile()

        def start(*_: Any) -> None:
            profiler.enable()

        def stop(*_: Any) -> None:
            profiler.disable()
            profiler.dump_stats(profile_path)

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    uvicorn.run(app, **options)


# --- The run ------------------------------------------------------------------


async def postmaster_of(conn: db.Connection) -> int | None:
    """pid of the PostgreSQL server process when it runs on this machine (for its CPU time)."""
    return local_parent(await conn.fetchval("SELECT pg_backend_pid()"))


async def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    server_url = admin_url()
    name = f"upscale_bench_{secrets.token_hex(4)}"
    await db.ensure_database(server_url, name)
    url = db.with_database(server_url, name)
    log(f"database {name} created")
    results: list[Result] = []
    monitor: Monitor | None = None
    try:
        async with db_connection(url) as conn:
            await migrations.migrate(conn)
            postmaster = await postmaster_of(conn)
            settings_row = await conn.fetchrow(
                "SELECT version() AS version, current_setting('synchronous_commit') AS sync, "
                "current_setting('fsync') AS fsync, current_setting('shared_buffers') AS shared_buffers"
            )
        pool = await db.create_pool(url, settings)
        try:
            await apply_definitions(pool, read_definitions(ROOT / "campaigns"))
            snapshot = await Catalogue(pool).reload()
        finally:
            await pool.close()
        city = snapshot.cities[CITY]
        kinds = kinds_for(city, snapshot.action_types)
        monitor = Monitor(postmaster)
        monitor.start()
        bench = Bench(url, city, kinds, ZoneInfo(city.time_zone), settings.firebase_project_id, args, monitor, settings)
        assert settings_row is not None
        log(
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {settings_row['version'].split(' on ')[0]}, "
            f"synchronous_commit={settings_row['sync']}, fsync={settings_row['fsync']}, "
            f"shared_buffers={settings_row['shared_buffers']}, load average {os.getloadavg()[0]:.2f}"
        )
        log(
            f"{len(kinds)} action types; {args.residents} residents per level; "
            f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per row"
        )

        if not args.skip_baselines:
            for n in args.clients:
                results.append(await bench.ceiling(n))
                report_line(results[-1])
                results.append(await bench.app_sql(n))
                report_line(results[-1])
        for workers in args.workers:
            label = f"endpoint, {workers} worker{'s' if workers > 1 else ''}"
            profile = args.profile if args.profile and workers == 1 else None
            server = Server(url, workers, profile)
            try:
                await server.wait_ready()
                monitor.server = server.process.pid
                for n in args.clients:
                    if not args.skip_floor:
                        floor_label = f"HTTP floor, {workers} worker{'s' if workers > 1 else ''}"
                        results.append(await bench.floor(server.base_url, n, floor_label))
                        report_line(results[-1])
                    profiling = profile is not None and n == max(args.clients)
                    if profiling:
                        asyncio.get_running_loop().call_later(args.warmup, server.signal, signal.SIGUSR1)
                    results.append(
                        await bench.endpoint(server.base_url, n, label + (" (profiled)" if profiling else ""))
                    )
                    report_line(results[-1])
                    if profiling:
                        server.signal(signal.SIGUSR2)
                        await asyncio.sleep(1.0)
            finally:
                monitor.server = None
                server.stop()
            if profile is not None:
                print_profile(profile, max(args.clients))
    finally:
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


def print_profile(path: Path, clients: int) -> None:
    import pstats

    if not path.exists():
        log(f"no profile written to {path}")
        return
    log(f"\nprofile of the API server at {clients} clients (cProfile, slows it down), {path}:")
    stats = pstats.Stats(str(path), stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def print_tables(results: list[Result], args: argparse.Namespace) -> None:
    ceiling = {r.clients: r.rate for r in results if r.what.startswith("ceiling")}
    rank = {"ceiling": 0, "app SQL": 1, "HTTP floor": 2, "endpoint": 3}

    def key(r: Result) -> tuple[int, int]:
        return r.clients, next((v for k, v in rank.items() if r.what.startswith(k)), 9)

    order = sorted(results, key=key)
    out = [
        f"{os.cpu_count()} cores; load generator HTTP client: {args.client}; "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per row",
        "",
        "| what | clients | req/s | p50 ms | p99 ms | peak RSS MB | % of ceiling | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in order:
        of_ceiling = f"{100 * r.rate / ceiling[r.clients]:.0f}%" if ceiling.get(r.clients) else "-"
        out.append(
            f"| {r.what} | {r.clients} | {r.rate:,.0f} | {r.percentile_ms(0.5):.2f} | {r.percentile_ms(0.99):.2f} "
            f"| {r.rss_bytes / 2**20:.0f} | {of_ceiling} | {r.errors} |"
        )
    out += [
        "",
        f"CPU in the measured window: cores used (CPU ms per request); the machine has {os.cpu_count()} cores.",
        "",
        "| what | clients | load generator | API server | PostgreSQL | rest of the machine |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in order:
        c = r.rate or float("nan")
        cells = [f"{r.cpu[g]:.2f} ({1000 * r.cpu[g] / c:.2f})" for g in ("load generator", "API server", "PostgreSQL")]
        out.append(f"| {r.what} | {r.clients} | {' | '.join(cells)} | {r.cpu['other']:.2f} |")
    top = max(args.clients)
    out.append("")
    for r in results:
        if r.what.startswith("endpoint") and r.clients == top and ceiling.get(top):
            share = r.rate / ceiling[top]
            p99 = r.percentile_ms(0.99)
            met = share >= TARGET_SHARE and p99 < TARGET_P99_MS
            out.append(
                f"Target at {top} clients (>= {TARGET_SHARE:.0%} of the ceiling and p99 < {TARGET_P99_MS:g} ms), "
                f"{r.what}: {'met' if met else 'NOT met'} ({share:.0%} of the ceiling, p99 {p99:.1f} ms)"
            )
    print("\n".join(out), flush=True)


def positive_ints(text: str) -> list[int]:
    """An argparse type: a comma-separated list of positive integers (``1,16,64``)."""
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each row (default 2)")
    parser.add_argument(
        "--clients", type=positive_ints, default=[1, 16, 64], help="concurrency levels (default 1,16,64)"
    )
    parser.add_argument(
        "--workers", type=positive_ints, default=[1], help="uvicorn worker counts to run, e.g. 1,2 (default 1)"
    )
    parser.add_argument(
        "--residents", type=int, default=256, help="residents per row, shared out among its clients (default 256)"
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="HTTP client of the load generator: raw, a minimal asyncio HTTP/1.1 client (default), or httpx, "
        "which costs 0.7-1.1 ms of CPU per request and by itself caps a 2-core machine at 1,000-1,450 req/s",
    )
    parser.add_argument("--skip-baselines", action="store_true", help="no ceiling and app-SQL rows")
    parser.add_argument("--skip-floor", action="store_true", help="no HTTP-floor rows (GET /health/live)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a cProfile of the (1-worker) API server at the highest "
        "concurrency to this file and print its top functions; its numbers are not comparable",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    if args.residents < max(args.clients):
        parser.error("--residents must be at least the highest --clients")
    return args


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve(sys.argv[2:])
        return
    args = parse_args(sys.argv[1:])
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs, harmless
    sys.exit(run_loop(run(args)))


if __name__ == "__main__":
    main()
