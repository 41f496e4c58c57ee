"""Real servers for tests that need processes of their own: a PostgreSQL that can be stopped
and started again, PgBouncer in front of a database, and ``upscale`` commands (``serve``,
``worker``, ``migrate``) run as the operator runs them, in processes that can be killed.

Everything listens on 127.0.0.1 or a Unix socket. Each helper cleans up after itself.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from configparser import ConfigParser
from pathlib import Path
from typing import IO

import httpx

from tests.factories import CAMPAIGNS, EMULATOR_HOST, PROJECT_ID, ROOT

UPSCALE = Path(sys.executable).with_name("upscale")
"""The ``upscale`` command of this environment."""
PGBOUNCER_INI = ROOT / "infra" / "pgbouncer" / "pgbouncer.ini"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnServer:
    """An embedded PostgreSQL that can be stopped and started again at the same address."""

    def __init__(self, data_dir: Path) -> None:
        from pgserver import get_server

        self._server = get_server(data_dir / "pgdata", cleanup_mode="delete")
        self.socket_dir: str = str(self._server.get_postmaster_info().socket_dir)
        self.admin_url: str = self._server.get_uri("postgres")

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self._server.pgdata, user=self._server.system_user, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown; ``immediate``: as if the machine lost power (recovery at start)."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        # The options pgserver starts it with: no TCP, the same socket folder, the same log.
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self._server.log), "start")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped already: the test failed in between
            self.stop()
        self._server.cleanup()


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnServer]:
    """A PostgreSQL server of the caller's own, removed with its data afterwards."""
    # Beside the session's embedded server rather than in pytest's temporary folder: as root,
    # pgserver runs PostgreSQL as its own user, who loses its way into that folder whenever
    # another pytest run makes it private again.
    data_dir = ROOT / ".upscale" / f"own-{uuid.uuid4().hex[:12]}"
    data_dir.mkdir(parents=True)
    server = OwnServer(data_dir)
    try:
        yield server
    finally:
        server.remove()
        shutil.rmtree(data_dir, ignore_errors=True)


# --- PgBouncer --------------------------------------------------------------------------------


def pgbouncer_binary() -> str | None:
    """Debian's ``pgbouncer`` (``.ci/run`` installs it), or None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


class PgBouncer:
    """PgBouncer with the settings of ``infra/pgbouncer/pgbouncer.ini`` (transaction pooling),
    on a free port of 127.0.0.1, in front of the PostgreSQL server of ``server_url``.

    Only what ties it to this machine is replaced: where it listens and logs, and how it
    signs in (the test server trusts local connections, so PgBouncer does too).
    ``pool_size`` overrides ``default_pool_size`` (1 makes every client share one server
    connection, which shows what survives transaction pooling).
    """

    def __init__(self, server_url: str, *, pool_size: int | None = None) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed")
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="upscale-pgbouncer-"))
        self._dir.chmod(0o755)
        target = urllib.parse.urlsplit(server_url)
        query = urllib.parse.parse_qs(target.query)
        host = query.get("host", [target.hostname or "127.0.0.1"])[0]
        config = ConfigParser(interpolation=None)
        config.read(PGBOUNCER_INI)
        config["databases"] = {
            "*": f"host={host} port={target.port or 5432} user={target.username or 'postgres'}"
            + (f" password={target.password}" if target.password else "")
        }
        config["pgbouncer"].update(
            listen_addr="127.0.0.1",
            listen_port=str(self.port),
            unix_socket_dir="",
            auth_type="any",  # the test server trusts local connections; the user is the one above
        )
        config["pgbouncer"].pop("auth_file", None)
        if pool_size is not None:
            config["pgbouncer"]["default_pool_size"] = str(pool_size)
        ini = self._dir / "pgbouncer.ini"
        with ini.open("w") as f:
            config.write(f)
        # PgBouncer refuses to run as root; -u switches to the user the embedded PostgreSQL runs as
        # (pgserver's, who can reach its socket), else to the one Debian's package runs it as.
        command = [binary, *(["-u", _unprivileged_user()] if os.geteuid() == 0 else []), str(ini)]
        self._output = (self._dir / "pgbouncer.log").open("wb")  # no logfile set: PgBouncer logs to stderr
        self._process = subprocess.Popen(command, stdout=self._output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {self.log()}")
            time.sleep(0.02)

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self._dir / "pgbouncer.log").read_text()
        return ""

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._output.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def _unprivileged_user() -> str:
    try:
        return pwd.getpwnam("pgserver").pw_name
    except KeyError:
        return "postgres"


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- upscale commands in processes of their own -----------------------------------------------


def upscale_environment(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of an ``upscale`` process in the tests: the test settings
    (``tests.factories.settings_for_tests``), on ``database_url``, plus ``settings``."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("UPSCALE_", "FIREBASE_", "DATABASE_URL", "GOOGLE_"))
    }
    return environ | {
        "DATABASE_URL": database_url,
        "UPSCALE_ENV": "test",
        "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
        "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "UPSCALE_RATE_LIMIT_STORE": "off",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


def upscale(*args: str, environ: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run an ``upscale`` command to its end (e.g. ``migrate``); raises when it fails."""
    return subprocess.run(
        [str(UPSCALE), *args], env=dict(environ), capture_output=True, text=True, timeout=timeout, check=True
    )


class UpscaleProcess:
    """A long-running ``upscale`` command (``serve``, ``worker``) whose output goes to a file."""

    def __init__(self, *args: str, environ: Mapping[str, str], name: str) -> None:
        self.args = args
        self.environ = dict(environ)
        self._output_file: IO[bytes] = tempfile.NamedTemporaryFile(prefix=f"upscale-{name}-", suffix=".log")  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self._process = subprocess.Popen(
            [str(UPSCALE), *self.args],
            env=self.environ,
            stdin=subprocess.DEVNULL,
            stdout=self._output_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        return Path(self._output_file.name).read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the process ends at once, in the middle of whatever it does."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)

    def stop(self) -> None:
        if self.running():
            assert self._process is not None
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def close(self) -> None:
        self.stop()
        self._output_file.close()


class ApiServer(UpscaleProcess):
    """``upscale serve`` on a port of its own; :meth:`start` returns once it answers ``/health/ready``."""

    def __init__(self, environ: Mapping[str, str], *, port: int | None = None, name: str = "api") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            "serve", environ={**environ, "UPSCALE_HOST": "127.0.0.1", "UPSCALE_PORT": str(self.port)}, name=name
        )

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            if not self.running() or time.monotonic() > deadline:
                output = self.output()
                self.close()
                raise RuntimeError(f"upscale serve did not become ready:\n{output[-3000:]}")
            time.sleep(0.05)
