"""What the benchmarks share: CPU and memory read from Linux's /proc, and the
database server to run on (``DATABASE_URL``, else the embedded PostgreSQL).

Read directly rather than through psutil, which lost PostgreSQL's process tree
in some measurements.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from upscale_api import db

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed (as the app does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def proc_table() -> dict[int, tuple[int, float, float]]:
    """``pid -> (parent pid, own CPU seconds, CPU seconds of its exited children)``, from Linux's /proc.

    The third value keeps the CPU of processes that ended in the window: a
    PostgreSQL backend that asyncpg replaced (every 50,000 queries by default)
    lands in the postmaster's. Read directly rather than through psutil.
    """
    table = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as f:
                        data = f.read()
                except OSError:
                    continue  # exited meanwhile
                fields = data[data.rindex(b")") + 2 :].split()
                own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                reaped = (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
                table[int(entry.name)] = (int(fields[1]), own, reaped)
    return table


def descendants(table: dict[int, tuple[int, float, float]], root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children[pid])
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class PeakSampler(threading.Thread):
    """Samples every ``interval`` seconds in a daemon thread until stopped: here
    this process's peak RSS; subclasses add what else they watch to :meth:`sample`."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True, name="sampler")
        self.interval = interval
        self.me = os.getpid()
        self.peak_self = 0
        self._under: tuple[int, float, list[int]] | None = None  # root, when looked up, the processes
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        self.peak_self = max(self.peak_self, rss_bytes(self.me))

    def processes_under(self, root: int) -> list[int]:
        """``root`` and every process below it, looked up again at most once a second."""
        if self._under is None or self._under[0] != root or time.monotonic() - self._under[1] > 1.0:
            self._under = (root, time.monotonic(), descendants(proc_table(), root))
        return self._under[2]

    def reset(self) -> None:
        """Forget the peaks so far (and the processes looked up), then sample once."""
        self.peak_self = 0
        self._under = None
        self.sample()

    def stop(self) -> None:
        self._stop_event.set()


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    idle, iowait = fields[3], fields[4]  # user nice system idle iowait irq softirq steal
    return (sum(fields) - idle - iowait) / CLOCK_TICKS


def admin_url() -> str:
    """A URL on the server to create the bench database on."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    data_dir = ROOT / ".upscale"
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    running = False
    if pid_file.exists():
        with contextlib.suppress(ValueError, OSError, IndexError):
            running = Path(f"/proc/{int(pid_file.read_text().split()[0])}").exists()
    if running:
        # Join without stopping it at exit: someone else started it and may still use it.
        from pgserver.postgres_server import get_server

        return str(get_server(data_dir.resolve() / "pgdata", cleanup_mode=None).get_uri("postgres"))
    return db.start_embedded_server(data_dir)


# What PostgreSQL on a machine like this one is given in production
# (docs/operations.md): a quarter of the memory for its buffers, and
# checkpoints minutes apart. The benchmarks measure with these unless asked
# for the server's defaults.
SERVER_SETTINGS = {
    "shared_buffers": "6GB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "15min",
    "wal_buffers": "64MB",
}


async def configure_server(url: str, *, defaults: bool = False) -> dict[str, str]:
    """Give the server :data:`SERVER_SETTINGS` (or its defaults) with ALTER SYSTEM and
    restart the embedded one if a setting needs it; returns the settings in force.

    A server of ``DATABASE_URL`` is not restarted: its operator is told what waits
    for a restart.
    """
    conn = await asyncpg.connect(url)
    try:
        for name, value in SERVER_SETTINGS.items():
            # Names and values are this module's constants, not input.
            await conn.execute(f"ALTER SYSTEM RESET {name}" if defaults else f"ALTER SYSTEM SET {name} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.5)
        pending = [r["name"] for r in await conn.fetch("SELECT name FROM pg_settings WHERE pending_restart")]
    finally:
        await conn.close()
    if pending and os.environ.get("DATABASE_URL"):
        print(f"restart the PostgreSQL server for {', '.join(pending)} to take effect", flush=True)
    elif pending:
        from pgserver._commands import pg_ctl  # the embedded server runs as pgserver's own user
        from pgserver.postgres_server import get_server

        server = get_server((ROOT / ".upscale" / "pgdata").resolve(), cleanup_mode=None)
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=120)
    conn = await asyncpg.connect(url)
    try:
        return {name: await conn.fetchval(f"SELECT current_setting('{name}')") for name in SERVER_SETTINGS}
    finally:
        await conn.close()


def local_parent(backend: int) -> int | None:
    try:
        if Path(f"/proc/{backend}/comm").read_text().strip() != "postgres":
            return None  # a server elsewhere; a local process merely has the same pid
    except OSError:
        return None
    parent = proc_table().get(backend)
    return parent[0] if parent else None
