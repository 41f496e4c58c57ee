"""``upscale seed-demo``: the demo residents, roles and actions, written once."""

from __future__ import annotations

import asyncio

import click

from upscale_api import db
from upscale_api.catalogue.service import Catalogue
from upscale_api.demo.seed import seed_demo
from upscale_api.settings import load_settings


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Write the demo residents, roles and four weeks of actions (once)."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            await load_and_seed(pool)

    asyncio.run(work())


async def load_and_seed(pool: db.Pool) -> None:
    """Seed the demo data unless it is there, and say which."""
    result = await seed_demo(pool, await Catalogue(pool).reload())
    if result.residents:
        click.echo(f"demo data: {result.residents} residents, {result.actions} actions")
    else:
        click.echo("demo data: already there, nothing written")
