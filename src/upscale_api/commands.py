"""The ``upscale`` commands that run the service: ``dev``, ``serve``, ``worker``, ``migrate``, ``token``.

The commands of a domain live in its ``commands.py``; :mod:`upscale_api.core`
adds them all to the ``upscale`` group.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from upscale_api import db, migrations
from upscale_api.observability.logs import configure_logging
from upscale_api.observability.metrics import MULTIPROCESS_DIR
from upscale_api.settings import Settings, load_settings

log = logging.getLogger(__name__)

DEV_EMULATOR_HOST = "127.0.0.1:9099"


@click.command()
@click.option("--no-seed", is_flag=True, help="Do not write the demo data.")
def dev(no_seed: bool) -> None:
    """Start with an embedded database and demo data: migrate, load the definitions, serve with the worker."""

    from upscale_api.app import create_app
    from upscale_api.definitions.commands import read_or_fail
    from upscale_api.definitions.service import apply_definitions
    from upscale_api.demo.commands import load_and_seed

    os.environ.setdefault("FIREBASE_AUTH_EMULATOR_HOST", DEV_EMULATOR_HOST)
    os.environ.setdefault("UPSCALE_LOG_FORMAT", "console")
    settings = load_settings()

    async def prepare() -> None:
        async with db.open_pool(settings) as pool:
            await apply_migrations(pool, settings)
            await apply_definitions(pool, read_or_fail(settings.campaigns_dir))
            if not no_seed:
                await load_and_seed(pool)

    asyncio.run(prepare())
    base = f"http://{settings.upscale_host}:{settings.upscale_port}"
    click.echo(
        f"\n  upscale-api (development) on {base}\n"
        f"  API docs:        {base}/schema\n"
        f"  OpenAPI:         {base}/schema/openapi.json\n"
        f"  a dev token:     python3 run.py upscale token demo-resident-0001   (any uid works)\n"
        f'  then:            curl -H "Authorization: Bearer $TOKEN" {base}/v1/me/impact\n'
        f"  a researcher:    demo-researcher-kranj, study demo-kranj-evening-reminders:\n"
        f"                   {base}/v1/research/studies/demo-kranj-evening-reminders\n"
        f"  dashboard:       {base}/dashboard/   sign in as demo-coordinator-kranj (coordinator of Kranj)\n"
        f"  data folder:     {settings.data_dir / 'pgdata'} (kept across restarts)\n"
    )
    _serve(create_app(settings, with_worker=True), settings)


@click.command()
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Server processes.")
def serve(workers: int) -> None:
    """Serve the API (the schema must be current). SIGTERM: answer 503 for a drain, let requests finish, stop."""
    settings = load_settings()
    if workers > 1:
        if settings.upscale_rate_limit_store == "memory":
            # Counted per process, the limits would let N times as much through.
            os.environ["UPSCALE_RATE_LIMIT_STORE"] = "postgres"
            click.echo(f"rate limits: counted in PostgreSQL, shared by the {workers} workers", err=True)
        with _shared_metrics():
            _serve("upscale_api.asgi:app", settings, workers=workers)
        return
    from upscale_api.app import create_app

    if os.environ.get(MULTIPROCESS_DIR):
        _wipe_metrics(Path(os.environ[MULTIPROCESS_DIR]))
    _serve(create_app(settings), settings)


def _serve(app: Any, settings: Settings, *, workers: int = 1) -> None:
    """uvicorn with our logging (no access log of its own) and the graceful stop's timeout."""
    import uvicorn

    configure_logging(settings)
    uvicorn.run(
        app,
        host=settings.upscale_host,
        port=settings.upscale_port,
        workers=workers,
        # The app alone decides which X-Forwarded-For to believe (UPSCALE_TRUSTED_PROXIES).
        proxy_headers=False,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.upscale_shutdown_timeout_seconds),
    )


@contextmanager
def _shared_metrics() -> Iterator[None]:
    """Give the server processes one directory for their metrics (prometheus_client's multiprocess
    mode), emptied first: counts of an earlier run must not add up with these."""
    if os.environ.get(MULTIPROCESS_DIR):
        _wipe_metrics(Path(os.environ[MULTIPROCESS_DIR]))
        yield
        return
    with tempfile.TemporaryDirectory(prefix="upscale-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


def _wipe_metrics(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


@click.command()
def worker() -> None:
    """Run the scheduled jobs: scoring, standings, campaign results, nudges, weekly summaries, push delivery."""
    from upscale_api.worker import Worker, pool_settings

    settings = load_settings()
    configure_logging(settings)

    async def work() -> None:
        async with db.open_pool(pool_settings(settings)) as pool:
            async with pool.acquire() as conn:
                if await migrations.pending(conn):
                    raise click.ClickException("the database schema is behind: run `upscale migrate`")
            metrics = _worker_metrics_server(settings)  # first: the jobs' first runs are due as Worker() is made
            jobs = Worker(pool, settings)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            serving = asyncio.create_task(metrics.serve()) if metrics is not None else None
            jobs.start()
            await stop.wait()
            log.info("stopping: letting running jobs finish (up to %s s)", settings.upscale_shutdown_timeout_seconds)
            await jobs.finish(settings.upscale_shutdown_timeout_seconds)
            if metrics is not None and serving is not None:
                metrics.should_exit = True
                await serving

    asyncio.run(work())


def _worker_metrics_server(settings: Settings) -> Any:
    """uvicorn serving the worker's ``/metrics`` on its port, or None (no metrics token, or port 0)."""
    if not settings.upscale_metrics_token or not settings.upscale_worker_metrics_port:
        return None
    import uvicorn

    from upscale_api.observability.routes import metrics_app

    class MetricsServer(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the worker's own handlers stop it; uvicorn's would take SIGTERM away from them

    config = uvicorn.Config(
        metrics_app(settings),
        host=settings.upscale_host,
        port=settings.upscale_worker_metrics_port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    return MetricsServer(config)


@click.command()
@click.option("--status", is_flag=True, help="List every migration and when it was applied.")
@click.option("--dry-run", is_flag=True, help="List what would be applied; apply nothing.")
def migrate(status: bool, dry_run: bool) -> None:
    """Apply pending schema migrations."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            if status:
                await _print_status(pool)
            else:
                await apply_migrations(pool, settings, dry_run=dry_run)

    asyncio.run(work())


async def apply_migrations(pool: db.Pool, settings: Settings, *, dry_run: bool = False) -> None:
    """Apply (or with ``dry_run`` list) the pending migrations and say which."""
    timeouts = migrations.Timeouts(
        lock=settings.upscale_migration_lock_timeout, statement=settings.upscale_migration_statement_timeout
    )
    async with pool.acquire() as conn:
        try:
            done = await migrations.migrate(conn, timeouts, dry_run=dry_run)
        except migrations.MigrationError as exc:
            raise click.ClickException(str(exc)) from None
    for migration in done:
        click.echo(f"{'would apply' if dry_run else 'applied'} migration {migration.label}")
    if not done:
        click.echo("schema is current")


async def _print_status(pool: db.Pool) -> None:
    async with pool.acquire() as conn:
        listed = await migrations.status(conn)
    for entry in listed:
        when = f"applied {entry.applied_at:%Y-%m-%d %H:%M:%S %Z}" if entry.applied_at else "pending"
        click.echo(f"{entry.migration.label:<50} {when}")
    waiting = sum(entry.applied_at is None for entry in listed)
    click.echo(f"{len(listed) - waiting} applied, {waiting} pending")


@click.command()
@click.argument("uid")
@click.option("--hours", type=float, default=12.0, show_default=True, help="Lifetime.")
@click.option("--provider", default="anonymous", show_default=True, help="Sign-in provider claim.")
def token(uid: str, hours: float, provider: str) -> None:
    """Print a development ID token for UID (Auth-emulator mode; never in production)."""
    from upscale_api.auth import dev_token

    settings = load_settings()
    if settings.upscale_env == "production":
        raise click.ClickException("development tokens do not exist in production")
    click.echo(dev_token(uid, settings.firebase_project_id, lifetime_seconds=int(hours * 3600), provider=provider))
