"""``upscale rewards key PARTNER``: a partner's first API key, for operators setting a partner up."""

from __future__ import annotations

import asyncio
import os

import click

from upscale_api import db
from upscale_api.rewards.service import create_key_for
from upscale_api.rewards.structs import NewKey
from upscale_api.settings import load_settings


@click.group("rewards")
def rewards_group() -> None:
    """Rewards: partners' API keys (partners and rewards themselves are definition files)."""


@rewards_group.command("key")
@click.argument("partner")
def key(partner: str) -> None:
    """Create an API key for PARTNER and print it (shown this once; only its hash is stored).
    Coordinators create and revoke keys over the API too; partners rotate their own."""
    settings = load_settings()

    async def work() -> NewKey | None:
        async with db.open_pool(settings) as pool:
            return await create_key_for(pool, partner, f"operator:{os.getenv('USER', '?')}")

    created = asyncio.run(work())
    if created is None:
        raise click.ClickException(f"no partner {partner!r}: apply its file under campaigns/<city>/rewards/ first")
    click.echo(created.key)
    click.echo(
        f"key {created.info.id} ({created.info.prefix}...) for {partner}; send it as 'Authorization: Bearer <key>'",
        err=True,
    )
