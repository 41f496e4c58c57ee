"""``upscale campaigns validate|apply``: the definition files under ``campaigns/``, checked and stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from upscale_api import db
from upscale_api.definitions.files import InvalidDefinitions, read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.definitions.structs import Definitions
from upscale_api.settings import load_settings

_PATH = click.argument("path", required=False, type=click.Path(path_type=Path))


@click.group("campaigns")
def campaigns_group() -> None:
    """The definition files (campaigns as code): cities, the action catalogue, emission factors, campaigns."""


@campaigns_group.command()
@_PATH
def validate(path: Path | None) -> None:
    """Check the files under PATH (default: UPSCALE_CAMPAIGNS_DIR); print every problem."""
    path = path or load_settings().campaigns_dir
    d = read_or_fail(path, applying=False)
    click.echo(
        f"{path}: valid ({len(d.cities)} cities, {len(d.action_types)} action types, "
        f"{len(d.factors)} factor versions, {len(d.campaigns)} campaigns)"
    )


@campaigns_group.command()
@_PATH
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def apply(path: Path | None, dry_run: bool) -> None:
    """Store the files under PATH in the database (idempotent); print what changed."""
    settings = load_settings()
    path = path or settings.campaigns_dir
    definitions = read_or_fail(path, applying=True)

    async def work() -> None:
        async with db.open_pool(settings) as pool:
            try:
                result = await apply_definitions(pool, definitions, dry_run=dry_run)
            except InvalidDefinitions as exc:
                _print_problems(path, exc)
                raise click.ClickException("nothing was applied") from None
        changes = [f"{name.replace('_', ' ')} {count}" for name, count in result.counts().items() if count]
        click.echo(f"{'would change' if dry_run else 'changed'}: " + (", ".join(changes) or "nothing"))

    asyncio.run(work())


def read_or_fail(path: Path, *, applying: bool = True) -> Definitions:
    """The definitions under ``path``, or every problem printed and the command ended (saying that
    nothing was applied when ``applying``: checking alone applies nothing anyway)."""
    try:
        return read_definitions(path)
    except InvalidDefinitions as exc:
        _print_problems(path, exc)
        ending = "; nothing was applied" if applying else ""
        raise click.ClickException(f"{len(exc.errors)} problem(s) in {path}{ending}") from None


def _print_problems(path: Path, exc: InvalidDefinitions) -> None:
    for error in exc.errors:
        click.echo(f"{path / error.file}: {error.field or '(file)'}: {error.reason}", err=True)
