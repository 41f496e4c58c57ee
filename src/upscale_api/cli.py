"""The ``upscale`` command.

upscale dev                 embedded PostgreSQL, migrate, load definitions, seed demo, serve
upscale serve               serve the API (schema must be current)
upscale migrate             apply pending schema migrations
upscale token UID           print a development ID token (Auth-emulator mode only)
upscale campaigns validate  check the definition files under campaigns/
upscale campaigns apply     store them (idempotent); --dry-run shows what would change
upscale seed-demo           write the demo residents and actions (once)
upscale grant UID ROLE      grant coordinator (with --city), researcher or admin
upscale revoke UID ROLE     take a role back
upscale report city CODE    a city's kg CO2e avoided per month and category (table or CSV)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upscale_api import db, migrations
from upscale_api.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from upscale_api.reports.structs import CityImpact

DEV_EMULATOR_HOST = "127.0.0.1:9099"


class CommandError(Exception):
    """Ends the command with this message and exit status 1."""


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run drowns the rest
    try:
        if args.command == "dev":
            os.environ.setdefault("FIREBASE_AUTH_EMULATOR_HOST", DEV_EMULATOR_HOST)
        settings = load_settings()
        args.run(settings, args)
    except SettingsError as exc:
        parser.exit(2, f"upscale: invalid setting {exc}\n")
    except CommandError as exc:
        parser.exit(1, f"upscale: {exc}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upscale", description="upscale-api: climate action campaigns for cities")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="start with an embedded database and demo data")
    dev.add_argument("--no-seed", action="store_true", help="do not write demo data")
    dev.set_defaults(run=_dev)

    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.set_defaults(run=_serve)

    commands.add_parser("worker", help="run the scheduled jobs").set_defaults(run=_worker)
    migrate = commands.add_parser("migrate", help="apply pending schema migrations")
    migrate.add_argument("--status", action="store_true", help="list every migration and when it was applied")
    migrate.add_argument("--dry-run", action="store_true", help="list what would be applied; apply nothing")
    migrate.set_defaults(run=_migrate)

    token = commands.add_parser("token", help="print a development ID token for a uid")
    token.add_argument("uid")
    token.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12)")
    token.add_argument("--provider", default="anonymous", help="sign-in provider claim (default anonymous)")
    token.set_defaults(run=_token)

    campaigns = commands.add_parser("campaigns", help="definition files (campaigns as code)")
    campaign_commands = campaigns.add_subparsers(dest="campaigns_command", required=True)
    validate = campaign_commands.add_parser("validate", help="check the files; print every problem")
    validate.add_argument("path", nargs="?", type=Path)
    validate.set_defaults(run=_campaigns_validate)
    apply = campaign_commands.add_parser("apply", help="store the files in the database")
    apply.add_argument("path", nargs="?", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    apply.set_defaults(run=_campaigns_apply)

    commands.add_parser("seed-demo", help="write demo residents and actions once").set_defaults(run=_seed_demo)

    rescore = commands.add_parser(
        "rescore", help="recompute savings and scores after a factor or campaign rule correction"
    )
    rescore.add_argument("--campaign", help="only this campaign's scores (after a rule or points correction)")
    rescore.add_argument("--from", dest="since", type=date.fromisoformat, help="only days on or after this one")
    rescore.add_argument(
        "--full",
        action="store_true",
        help="everything in one transaction, fastest; score reads wait until it is done (a maintenance window)",
    )
    rescore.set_defaults(run=_rescore)

    report = commands.add_parser("report", help="reports for operators")
    report_commands = report.add_subparsers(dest="report_command", required=True)
    city_report = report_commands.add_parser(
        "city", help="a city's kg CO2e avoided per month and category, participants, share of its target"
    )
    city_report.add_argument("code", help="the city, e.g. kranj")
    city_report.add_argument("--from", dest="start", metavar="YYYY-MM", help="first month (default: 11 before --to)")
    city_report.add_argument("--to", dest="end", metavar="YYYY-MM", help="last month (default: this month)")
    city_report.add_argument("--format", choices=["table", "csv"], default="table", help="output (default table)")
    city_report.set_defaults(run=_report_city)

    for name, run in (("grant", _grant), ("revoke", _revoke)):
        role = commands.add_parser(name, help=f"{name} a role")
        role.add_argument("uid")
        role.add_argument("role", choices=["coordinator", "researcher", "admin"])
        role.add_argument("--city", help="the city of a coordinator")
        role.set_defaults(run=run)
    return parser


def _async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[[Settings, argparse.Namespace], None]:
    def run(settings: Settings, args: argparse.Namespace) -> None:
        asyncio.run(fn(settings, args))

    return run


async def _with_pool(settings: Settings, work: Callable[[db.Pool], Awaitable[Any]]) -> Any:
    url = await db.resolve_database_url(settings)
    pool = await db.create_pool(url, settings)
    try:
        return await work(pool)
    finally:
        await pool.close()


async def _apply_migrations(pool: db.Pool, settings: Settings, *, dry_run: bool = False) -> None:
    timeouts = migrations.Timeouts(
        lock=settings.upscale_migration_lock_timeout, statement=settings.upscale_migration_statement_timeout
    )
    async with pool.acquire() as conn:
        try:
            done = await migrations.migrate(conn, timeouts, dry_run=dry_run)
        except migrations.MigrationError as exc:
            raise CommandError(str(exc)) from None
    for migration in done:
        print(f"{'would apply' if dry_run else 'applied'} migration {migration.label}")
    if not done:
        print("schema is current")


async def _print_migration_status(pool: db.Pool) -> None:
    async with pool.acquire() as conn:
        listed = await migrations.status(conn)
    for entry in listed:
        when = f"applied {entry.applied_at:%Y-%m-%d %H:%M:%S %Z}" if entry.applied_at else "pending"
        print(f"{entry.migration.label:<50} {when}")
    waiting = sum(entry.applied_at is None for entry in listed)
    print(f"{len(listed) - waiting} applied, {waiting} pending")


@_async
async def _worker(settings: Settings, args: argparse.Namespace) -> None:
    import signal

    from upscale_api.worker import Worker, pool_settings

    async def work(pool: db.Pool) -> None:
        async with pool.acquire() as conn:
            if await migrations.pending(conn):
                raise CommandError("the database schema is behind: run `upscale migrate`")
        worker = Worker(pool, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        worker.start()
        await stop.wait()
        worker.stop()

    await _with_pool(pool_settings(settings), work)


@_async
async def _migrate(settings: Settings, args: argparse.Namespace) -> None:
    if args.status:
        await _with_pool(settings, _print_migration_status)
    else:
        await _with_pool(settings, lambda pool: _apply_migrations(pool, settings, dry_run=args.dry_run))


def _read_definitions(path: Path) -> Any:
    from upscale_api.definitions.files import InvalidDefinitions, read_definitions

    try:
        return read_definitions(path)
    except InvalidDefinitions as exc:
        for error in exc.errors:
            print(f"{path / error.file}: {error.field or '(file)'}: {error.reason}", file=sys.stderr)
        raise CommandError(f"{len(exc.errors)} problem(s) in {path}; nothing was applied") from None


def _campaigns_validate(settings: Settings, args: argparse.Namespace) -> None:
    path = args.path or settings.campaigns_dir
    d = _read_definitions(path)
    print(
        f"{path}: valid ({len(d.cities)} cities, {len(d.action_types)} action types, "
        f"{len(d.factors)} factor versions, {len(d.campaigns)} campaigns)"
    )


@_async
async def _campaigns_apply(settings: Settings, args: argparse.Namespace) -> None:
    from upscale_api.definitions.files import InvalidDefinitions
    from upscale_api.definitions.service import apply_definitions

    path = args.path or settings.campaigns_dir
    definitions = _read_definitions(path)

    async def work(pool: db.Pool) -> None:
        try:
            result = await apply_definitions(pool, definitions, dry_run=args.dry_run)
        except InvalidDefinitions as exc:
            for error in exc.errors:
                print(f"{path / error.file}: {error.field}: {error.reason}", file=sys.stderr)
            raise CommandError("nothing was applied") from None
        verb = "would change" if args.dry_run else "changed"
        changes = [f"{name.replace('_', ' ')} {count}" for name, count in result.counts().items() if count]
        print(f"{verb}: " + (", ".join(changes) or "nothing"))

    await _with_pool(settings, work)


@_async
async def _seed_demo(settings: Settings, args: argparse.Namespace) -> None:
    await _with_pool(settings, _load_and_seed)


async def _load_and_seed(pool: db.Pool) -> None:
    from upscale_api.catalogue.service import Catalogue
    from upscale_api.demo.seed import seed_demo

    snapshot = await Catalogue(pool).reload()
    result = await seed_demo(pool, snapshot)
    if result.residents:
        print(f"demo data: {result.residents} residents, {result.actions} actions")
    else:
        print("demo data: already there, nothing written")


@_async
async def _rescore(settings: Settings, args: argparse.Namespace) -> None:
    from upscale_api.scoring.service import rebuild, rescore

    def bar(done: int, total: int) -> None:
        filled = 30 * done // max(total, 1)
        unit = "steps" if args.full else "residents"
        print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {unit}", end="", file=sys.stderr, flush=True)

    if args.full and (args.campaign is not None or args.since is not None):
        raise SystemExit("--full recomputes everything: give it without --campaign and --from")

    async def work(pool: db.Pool) -> None:
        campaign_id = None
        if args.campaign is not None:
            campaign_id = await pool.fetchval("SELECT id FROM campaigns WHERE code = $1", args.campaign)
            if campaign_id is None:
                raise SystemExit(f"unknown campaign: {args.campaign}")
        now = datetime.now(UTC)
        if args.full:
            report = await rebuild(pool, now, progress=bar)
        else:
            report = await rescore(
                pool, now, campaign_id=campaign_id, since=args.since, parts=settings.upscale_scoring_parts, progress=bar
            )
        print(file=sys.stderr)
        for change in report.factor_changes:
            print(f"{change.action_type}: {change.actions} actions, {change.delta_kg:+.3f} kg CO2e")
        if campaign_id is None and not report.factor_changes:
            print("every stored saving already uses the factor versions in force")
        print(
            f"recomputed {report.resident_days} resident days and {report.participants} participants "
            f"in {report.seconds:.1f} s; campaign points {report.points_before:,.1f} -> {report.points_after:,.1f}, "
            f"kg CO2e {report.co2e_kg_before:,.3f} -> {report.co2e_kg_after:,.3f}"
        )

    await _with_pool(settings, work)


@_async
async def _grant(settings: Settings, args: argparse.Namespace) -> None:
    from upscale_api.roles.service import grant_role

    async def work(pool: db.Pool) -> None:
        try:
            added = await grant_role(pool, args.uid, args.role, args.city, granted_by=f"cli:{os.getenv('USER', '?')}")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        role = f"{args.role} of {args.city}" if args.city else args.role
        print(f"{args.uid}: {role} {'granted' if added else 'already granted'}")

    await _with_pool(settings, work)


@_async
async def _revoke(settings: Settings, args: argparse.Namespace) -> None:
    from upscale_api.roles.service import revoke_role

    async def work(pool: db.Pool) -> None:
        removed = await revoke_role(pool, args.uid, args.role, args.city)
        print(f"{args.uid}: {args.role} {'revoked' if removed else 'was not granted'}")

    await _with_pool(settings, work)


@_async
async def _report_city(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from upscale_api.catalogue.service import Catalogue
    from upscale_api.errors import Problem
    from upscale_api.reports.service import report

    async def work(pool: db.Pool) -> None:
        city = (await Catalogue(pool).reload()).cities.get(args.code)
        if city is None:
            raise CommandError(f"unknown city: {args.code}")
        try:
            impact = await report(pool, city, args.start, args.end, datetime.now(UTC))
        except Problem as exc:
            raise CommandError("; ".join(f"--{e.field}: {e.reason}" for e in exc.errors or [])) from None
        if args.format == "csv":
            sys.stdout.write(_impact_csv(impact))
            print(_impact_summary(impact), file=sys.stderr)  # stdout stays plain CSV
        else:
            print(_impact_table(impact))

    await _with_pool(settings, work)


def _impact_summary(impact: CityImpact) -> str:
    computed = (
        f"{impact.computed_at:%Y-%m-%d %H:%M %Z}" if impact.computed_at else "never (the scoring job has not run)"
    )
    if impact.climate_target is None or impact.target_share is None:
        target = "no climate target declared"
    else:
        t = impact.climate_target
        target = (
            f"{impact.target_share:.6%} of the climate target "
            f"(-{t.reduction_t_co2e:,.0f} t CO2e by {t.target_year} against {t.baseline_year})"
        )
    return (
        f"{impact.city} {impact.from_} to {impact.to}: {impact.co2e_kg:,.1f} kg CO2e avoided, "
        f"{impact.actions} actions, {impact.participants} participants; {target}; computed {computed}"
    )


def _impact_table(impact: CityImpact) -> str:
    categories = [c.category for c in impact.months[0].by_category] if impact.months else []
    header = ["month", *categories, "total kg", "actions", "participants"]
    rows = [
        [
            m.month,
            *(f"{c.co2e_kg:,.1f} ({c.actions})" for c in m.by_category),
            f"{m.co2e_kg:,.1f}",
            str(m.actions),
            str(m.participants),
        ]
        for m in impact.months
    ]
    per_category = [
        (sum(m.by_category[i].co2e_kg for m in impact.months), sum(m.by_category[i].actions for m in impact.months))
        for i in range(len(categories))
    ]
    rows.append(
        [
            "total",
            *(f"{kg:,.1f} ({n})" for kg, n in per_category),
            f"{impact.co2e_kg:,.1f}",
            str(impact.actions),
            str(impact.participants),
        ]
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    return "\n".join(
        [
            f"{impact.city}: kg CO2e avoided (actions) per month and category, {impact.time_zone} months",
            "",
            *lines,
            "",
            _impact_summary(impact),
        ]
    )


def _impact_csv(impact: CityImpact) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    categories = [c.category for c in impact.months[0].by_category] if impact.months else []
    writer.writerow(
        [
            "month",
            "co2e_kg",
            "actions",
            "participants",
            *(f"{c}_{k}" for c in categories for k in ("co2e_kg", "actions")),
        ]
    )
    for m in impact.months:
        by_category = [v for c in m.by_category for v in (c.co2e_kg, c.actions)]
        writer.writerow([m.month, m.co2e_kg, m.actions, m.participants, *by_category])
    return out.getvalue()


def _token(settings: Settings, args: argparse.Namespace) -> None:
    from upscale_api.auth import dev_token

    if settings.upscale_env == "production":
        raise CommandError("development tokens do not exist in production")
    print(
        dev_token(
            args.uid, settings.firebase_project_id, lifetime_seconds=int(args.hours * 3600), provider=args.provider
        )
    )


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    # The app alone decides which X-Forwarded-For to believe (UPSCALE_TRUSTED_PROXIES).
    options: dict[str, Any] = {"host": settings.upscale_host, "port": settings.upscale_port, "proxy_headers": False}
    if args.workers > 1:
        if settings.upscale_rate_limit_store == "memory":
            # Counted per process, the limits would let N times as much through.
            os.environ["UPSCALE_RATE_LIMIT_STORE"] = "postgres"
            print(f"rate limits: counted in PostgreSQL, shared by the {args.workers} workers", file=sys.stderr)
        uvicorn.run("upscale_api.asgi:app", workers=args.workers, log_level="info", **options)
        return
    from upscale_api.app import create_app

    uvicorn.run(create_app(settings), log_level="info", **options)


def _dev(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from upscale_api.app import create_app
    from upscale_api.definitions.service import apply_definitions

    async def prepare() -> None:
        async def work(pool: db.Pool) -> None:
            await _apply_migrations(pool, settings)
            await apply_definitions(pool, _read_definitions(settings.campaigns_dir))
            if not args.no_seed:
                await _load_and_seed(pool)

        await _with_pool(settings, work)

    asyncio.run(prepare())
    base = f"http://{settings.upscale_host}:{settings.upscale_port}"
    print(
        f"\n  upscale-api (development) on {base}\n"
        f"  API docs:        {base}/schema\n"
        f"  OpenAPI:         {base}/schema/openapi.json\n"
        f"  a dev token:     python3 run.py upscale token demo-resident-0001   (any uid works)\n"
        f'  then:            curl -H "Authorization: Bearer $TOKEN" {base}/v1/me/impact\n'
        f"  data folder:     {settings.data_dir / 'pgdata'} (kept across restarts)\n",
        flush=True,
    )
    uvicorn.run(
        create_app(settings, with_worker=True),
        host=settings.upscale_host,
        port=settings.upscale_port,
        proxy_headers=False,
        log_level="info",
    )
