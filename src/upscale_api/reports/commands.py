"""``upscale report city CODE``: a city's kg CO2e avoided per month and category, as a table or CSV."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from rich import box
from rich.console import Console
from rich.table import Table

from upscale_api import db
from upscale_api.catalogue.service import Catalogue
from upscale_api.errors import Problem
from upscale_api.reports.service import impact_csv, report
from upscale_api.reports.structs import CityImpact
from upscale_api.settings import load_settings


@click.group("report")
def report_group() -> None:
    """Reports for operators."""


@report_group.command("city")
@click.argument("code")
@click.option("--from", "start", metavar="YYYY-MM", help="First month (default: 11 before --to).")
@click.option("--to", "end", metavar="YYYY-MM", help="Last month (default: this month).")
@click.option("--format", "shape", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def city(code: str, start: str | None, end: str | None, shape: str) -> None:
    """A city's kg CO2e avoided per month and category, participants, share of its climate target."""
    settings = load_settings()

    async def work() -> CityImpact:
        async with db.open_pool(settings) as pool:
            found = (await Catalogue(pool).reload()).cities.get(code)
            if found is None:
                raise click.ClickException(f"unknown city: {code}")
            try:
                return await report(pool, found, start, end, datetime.now(UTC))
            except Problem as exc:
                raise click.ClickException("; ".join(f"--{e.field}: {e.reason}" for e in exc.errors or [])) from None

    impact = asyncio.run(work())
    if shape == "csv":
        click.echo(impact_csv(impact), nl=False)
        click.echo(summary(impact), err=True)  # stdout stays plain CSV
    else:
        console = Console(width=200, highlight=False)
        console.print(f"{impact.city}: kg CO2e avoided (actions) per month and category, {impact.time_zone} months\n")
        console.print(impact_table(impact))
        console.print(f"\n{summary(impact)}")


def summary(impact: CityImpact) -> str:
    """One line: the period's totals, the share of the climate target, when it was computed."""
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


def impact_table(impact: CityImpact) -> Table:
    """A row per month and a total: kg CO2e (actions) per category, then totals and participants."""
    categories = [c.category for c in impact.months[0].by_category] if impact.months else []
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("month")
    for name in [*categories, "total kg", "actions", "participants"]:
        table.add_column(name, justify="right")
    for m in impact.months:
        table.add_row(
            m.month,
            *(f"{c.co2e_kg:,.1f} ({c.actions})" for c in m.by_category),
            f"{m.co2e_kg:,.1f}",
            str(m.actions),
            str(m.participants),
        )
    per_category = [
        (sum(m.by_category[i].co2e_kg for m in impact.months), sum(m.by_category[i].actions for m in impact.months))
        for i in range(len(categories))
    ]
    table.add_row(
        "total",
        *(f"{kg:,.1f} ({n})" for kg, n in per_category),
        f"{impact.co2e_kg:,.1f}",
        str(impact.actions),
        str(impact.participants),
        end_section=True,
    )
    return table
