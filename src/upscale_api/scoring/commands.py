"""``upscale rescore``: after a factor or rule correction, savings and scores computed again."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from upscale_api import db
from upscale_api.campaigns.service import campaign_id
from upscale_api.scoring.service import RescoreReport, rebuild, rescore
from upscale_api.settings import load_settings


@click.command("rescore")
@click.option("--campaign", help="Only this campaign's scores (after a rule or points correction).")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), help="Only days on or after this one (YYYY-MM-DD).")
@click.option(
    "--full",
    is_flag=True,
    help="Everything in one transaction, fastest; score reads wait until it is done (a maintenance window).",
)
def rescore_command(campaign: str | None, since: datetime | None, full: bool) -> None:
    """Recompute savings and scores after a factor or campaign rule correction, with a progress bar."""
    if full and (campaign is not None or since is not None):
        raise click.ClickException("--full recomputes everything: give it without --campaign and --from")
    settings = load_settings()

    async def work() -> RescoreReport:
        async with db.open_pool(settings) as pool:
            only = None if campaign is None else await campaign_id(pool, campaign)
            if campaign is not None and only is None:
                raise click.ClickException(f"unknown campaign: {campaign}")
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            ) as bar:
                task = bar.add_task("steps" if full else "residents", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                now = datetime.now(UTC)
                if full:
                    return await rebuild(pool, now, progress=advance)
                day: date | None = since.date() if since else None
                return await rescore(
                    pool, now, campaign_id=only, since=day, parts=settings.upscale_scoring_parts, progress=advance
                )

    report = asyncio.run(work())
    for change in report.factor_changes:
        click.echo(f"{change.action_type}: {change.actions} actions, {change.delta_kg:+.3f} kg CO2e")
    if campaign is None and not report.factor_changes:
        click.echo("every stored saving already uses the factor versions in force")
    click.echo(
        f"recomputed {report.resident_days} resident days and {report.participants} participants "
        f"in {report.seconds:.1f} s; campaign points {report.points_before:,.1f} -> {report.points_after:,.1f}, "
        f"kg CO2e {report.co2e_kg_before:,.3f} -> {report.co2e_kg_after:,.3f}"
    )
