"""``upscale report city``: the impact report for an operator, as a table or CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.plumbing.test_cli import upscale
from tests.reports.conftest import Scenario, ym


def test_the_table_lists_every_month_and_the_totals(scenario: Scenario) -> None:
    result = upscale("report", "city", "kranj", "--from", ym(4), "--to", ym(0), DATABASE_URL=scenario.url)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("month"))
    assert header.split()[:6] == ["month", "mobility", "energy", "food", "consumption", "waste"]
    rows = {line.split()[0]: line.split() for line in lines if line[:4].isdigit() or line.startswith("total")}
    assert list(rows) == [ym(4), ym(3), ym(2), ym(1), ym(0), "total"]
    assert rows[ym(1)][-2:] == ["4", "2"]  # actions, participants
    assert rows[ym(2)][-3:] == ["0.0", "0", "0"]
    assert rows["total"][-2:] == ["6", "2"]
    assert f"{scenario.total_kg:,.1f} kg CO2e avoided" in result.stdout
    assert "of the climate target (-113,263 t CO2e by 2030 against 2018)" in result.stdout


def test_csv_has_a_row_per_month(scenario: Scenario) -> None:
    result = upscale(
        "report", "city", "kranj", "--from", ym(4), "--to", ym(0), "--format", "csv", DATABASE_URL=scenario.url
    )

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["month"] for r in rows] == [ym(4), ym(3), ym(2), ym(1), ym(0)]
    last_month = rows[3]
    assert (last_month["actions"], last_month["participants"], last_month["food_actions"]) == ("4", "2", "1")
    assert float(last_month["co2e_kg"]) == pytest.approx(scenario.month_kg(ym(1)), abs=1e-3)
    assert float(last_month["mobility_co2e_kg"]) == pytest.approx(scenario.logged[ym(1)]["mobility"][0], abs=1e-3)
    assert "2 participants" in result.stderr


def test_a_bad_range_or_city_ends_with_a_message(scenario: Scenario) -> None:
    backwards = upscale("report", "city", "kranj", "--from", ym(0), "--to", ym(2), DATABASE_URL=scenario.url)
    unknown = upscale("report", "city", "atlantis", DATABASE_URL=scenario.url)

    assert backwards.returncode == 1 and "--from: must not be after to" in backwards.stderr
    assert unknown.returncode == 1 and "unknown city: atlantis" in unknown.stderr
