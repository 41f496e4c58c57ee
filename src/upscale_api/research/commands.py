"""``upscale research export --study CODE --out DIR``: the anonymised export, with its progress."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from upscale_api import db
from upscale_api.research import export as exports
from upscale_api.research import service
from upscale_api.settings import SettingsError, load_settings


@click.group("research")
def research_group() -> None:
    """Research: anonymised exports of studies."""


@research_group.command("export")
@click.option("--study", "code", required=True, help="The study's code.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="An empty or new folder.")
@click.option("--note", help="Why, for the audit log.")
def export_command(code: str, out: Path, note: str | None) -> None:
    """Write an anonymised export of a study into OUT (CSV, Parquet, datapackage.json, codebook, provenance)."""
    settings = load_settings()
    try:
        settings.research_key()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None

    async def work() -> exports.ExportResult:
        async with db.open_pool(settings) as pool:
            study = await service.study_id(pool, code)
            if study is None:
                raise click.ClickException(f"unknown study: {code}")
            async with pool.acquire() as conn:
                export_id = await service.create_export(
                    conn, study, f"cli:{os.getenv('USER', '?')}", "cli", {"note": note, "out": str(out)}
                )
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=Console(stderr=True)) as bar:
                tasks: dict[str, TaskID] = {}

                def progress(table: str, rows: int) -> None:
                    if table not in tasks:
                        tasks[table] = bar.add_task(table)
                    bar.update(tasks[table], description=f"{table}: {rows:,} rows")

                try:
                    result = await exports.run_export(
                        pool, settings, export_id, out, now=datetime.now(UTC), progress=progress
                    )
                except exports.ExportRefused as exc:
                    await exports.fail(pool, export_id, str(exc))
                    raise click.ClickException(str(exc)) from None
            await exports.finish(pool, result, settings.upscale_research_key_epoch)
            return result

    result = asyncio.run(work())
    gate = result.gate
    click.echo(
        f"export {result.export_id}: {gate.consenting - gate.suppressed} of {gate.consenting} consenting participants "
        f"(k = {gate.k_reached} on {', '.join(gate.quasi_identifiers) or 'no quasi-identifiers'}), "
        + ", ".join(f"{table} {rows:,}" for table, rows in result.rows.items())
        + f" rows, in {out}"
    )
