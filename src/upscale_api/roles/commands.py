"""``upscale grant|revoke UID ROLE [--city CODE] [--study CODE]``: staff roles, granted from the command line only."""

from __future__ import annotations

import asyncio
import os
from typing import get_args

import click

from upscale_api import db
from upscale_api.roles.service import grant_role, revoke_role
from upscale_api.roles.structs import Role
from upscale_api.settings import load_settings

_ROLE = click.argument("role", type=click.Choice(get_args(Role)))
_CITY = click.option("--city", help="The city of a coordinator.")
_STUDY = click.option("--study", help="The study of a researcher.")


@click.command("grant")
@click.argument("uid")
@_ROLE
@_CITY
@_STUDY
def grant_command(uid: str, role: Role, city: str | None, study: str | None) -> None:
    """Grant ROLE to the Firebase user UID: a coordinator of a city, a researcher of a study or an admin."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            try:
                added = await grant_role(pool, uid, role, city, granted_by=f"cli:{os.getenv('USER', '?')}", study=study)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
        granted = f"{role} of {city or study}" if city or study else role
        click.echo(f"{uid}: {granted} {'granted' if added else 'already granted'}")

    asyncio.run(work())


@click.command("revoke")
@click.argument("uid")
@_ROLE
@_CITY
@_STUDY
def revoke_command(uid: str, role: Role, city: str | None, study: str | None) -> None:
    """Take ROLE back from the Firebase user UID."""
    settings = load_settings()

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            removed = await revoke_role(pool, uid, role, city, study=study)
        click.echo(f"{uid}: {role} {'revoked' if removed else 'was not granted'}")

    asyncio.run(work())
