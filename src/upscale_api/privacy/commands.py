"""``upscale privacy export|erase UID``: data requests that reach the operator instead of the app
(a letter, an e-mail), answered as the app's own calls answer them; ``upscale privacy retention``
runs the retention job once."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from upscale_api import db
from upscale_api.errors import Problem
from upscale_api.privacy import service
from upscale_api.privacy.retention import RetentionPolicy, apply_retention
from upscale_api.settings import load_settings


@click.group("privacy")
def privacy_group() -> None:
    """Residents' data requests handled by an operator, and retention."""


@privacy_group.command("export")
@click.argument("uid")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
def export_command(uid: str, output: Path | None) -> None:
    """Write everything held about the Firebase user UID as JSON (what GET /v1/me/export gives them)."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            try:
                resident = await service.find_for_export(pool, uid)
            except Problem as exc:
                raise click.ClickException(f"{uid}: not a registered resident ({exc.detail})") from None
            sink = output.open("wb") if output else sys.stdout.buffer
            try:
                async for chunk in service.export(pool, uid, resident["id"], datetime.now(UTC)):
                    sink.write(chunk)
            finally:
                if output:
                    sink.close()

    asyncio.run(work())


@privacy_group.command("erase")
@click.argument("uid")
@click.confirmation_option(prompt="Erase this person's account and data for good?")
def erase_command(uid: str) -> None:
    """Erase the Firebase user UID (what DELETE /v1/me does): resident data, staff roles, identity in decisions."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            erased = await service.erase_account(pool, settings, uid, datetime.now(UTC))
        click.echo(f"{uid}: {'erased' if erased else 'no resident data held; staff roles and decisions cleared'}")

    asyncio.run(work())


@privacy_group.command("retention")
def retention_command() -> None:
    """Run the retention job once now (the worker runs it every hour)."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            report = await apply_retention(pool, datetime.now(UTC), RetentionPolicy.from_settings(settings))
        click.echo(f"retention: {report}")

    asyncio.run(work())
