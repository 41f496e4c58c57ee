"""No published cell describes fewer than 10 residents, directly or by subtraction.

Weeks of residents are generated with every kind of small group (a district of
one, a category of three, a campaign that counts all but two of a district's
residents), published through ``opendata.service.figures`` exactly as the
publication job does, and then attacked: an attacker who knows how the tables
add up (each district's categories to its total, each category's districts to
the city's, each campaign's categories to its total, a campaign's figure from
the city's) writes every published figure as an equation and solves for every
withheld one with exact fractions. The attack must recover no small cell, and
every difference it can compute must describe 0 or at least 10 residents.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec
import pytest

from upscale_api.opendata.service import CATEGORIES, figures
from upscale_api.opendata.structs import ALL, StatsRow

WEEK = date(2026, 11, 16)
THRESHOLD = 10


@dataclass
class Person:
    district: str
    by_category: dict[str, tuple[int, Decimal]]
    """Actions and kg per category they were active in."""
    counted: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    """What a campaign counted of it (a part of it, or all)."""


def _people(rng: random.Random, districts: list[str]) -> list[Person]:
    people = []
    for district in districts:
        for _ in range(rng.choice([0, 1, 2, 3, 5, 9, 10, 11, 14, 25, 40])):
            active = rng.sample(CATEGORIES, rng.randint(1, 3))
            figures_of = {c: (rng.randint(1, 6), Decimal(rng.randint(100, 90_000)) / 1000) for c in active}
            person = Person(district, figures_of)
            if rng.random() < 0.6:  # enrolled: the campaign counts mobility, or everything
                person.counted = {c: v for c, v in figures_of.items() if c == "mobility" or rng.random() < 0.7}
            people.append(person)
    return people


def _sum(values: Iterable[tuple[int, Decimal]]) -> tuple[int, Decimal]:
    items = list(values)
    return sum(a for a, _ in items), sum((k for _, k in items), Decimal(0))


def _records(people: list[Person], districts: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the scoring reads answer for these people (CITY_WEEKS, CITY_CAMPAIGN_WEEKS)."""
    by_district = []
    ids = {d: i for i, d in enumerate(districts, start=1)}
    for district in [*districts, None]:
        for category in [*CATEGORIES, None]:
            group = [
                p.by_category[c]
                for p in people
                if district is None or p.district == district
                for c in p.by_category
                if category is None or c == category
            ]
            who = [
                p
                for p in people
                if (district is None or p.district == district) and (category is None or category in p.by_category)
            ]
            if not who:
                continue
            actions, kg = _sum(group)
            by_district.append(
                {"week": WEEK, "district_id": ids.get(district) if district else None, "category": category,
                 "all_districts": district is None, "all_categories": category is None,
                 "participants": len(who), "actions": actions, "co2e_kg": kg}
            )  # fmt: skip
    by_campaign = []
    for category in [*CATEGORIES, None]:
        counted = [p for p in people if any(category is None or c == category for c in p.counted)]
        if not counted:
            continue

        actions, kg = _sum(_part(p.counted, category) for p in counted)
        matching = sum(_part(p.counted, category) == _part(p.by_category, category) for p in counted)
        by_campaign.append(
            {"campaign": "k1", "week": WEEK, "category": category, "participants": len(counted), "actions": actions,
             "co2e_kg": kg, "matching": matching}
        )  # fmt: skip
    return by_district, by_campaign


def _part(table: dict[str, tuple[int, Decimal]], category: str | None) -> tuple[int, Decimal]:
    return _sum(v for c, v in table.items() if category is None or c == category)


def _truth(people: list[Person], districts: list[str]) -> dict[tuple[str | None, str, str], int]:
    """How many residents each published cell describes."""
    cells: dict[tuple[str | None, str, str], int] = {}
    for district in [*districts, ALL]:
        for category in [*CATEGORIES, ALL]:
            cells[(None, district, category)] = sum(
                (district in (ALL, p.district)) and (category == ALL or category in p.by_category) for p in people
            )
    for category in [*CATEGORIES, ALL]:
        cells[("k1", ALL, category)] = sum(any(category in (ALL, c) for c in p.counted) for p in people)
    return cells


def _beyond(people: list[Person], category: str) -> int:
    """The residents the city's figure less the campaign's describes."""

    def whole(table: dict[str, tuple[int, Decimal]]) -> tuple[int, Decimal]:
        return _sum(v for c, v in table.items() if category in (ALL, c))

    return sum(whole(p.by_category) != whole(p.counted) for p in people)


# --- The attacker ------------------------------------------------------------------------

Key = tuple[str | None, str, str]


def _lines(rows: list[StatsRow]) -> list[tuple[list[Key], Key]]:
    """How the published tables add up: members to their total."""
    districts = sorted({r.district for r in rows if r.campaign is None} - {ALL})
    lines: list[tuple[list[Key], Key]] = []
    for d in [*districts, ALL]:
        lines.append(([(None, d, c) for c in CATEGORIES], (None, d, ALL)))
    for c in [*CATEGORIES, ALL]:
        lines.append(([(None, d, c) for d in districts], (None, ALL, c)))
    for k in sorted({r.campaign for r in rows if r.campaign}):
        lines.append(([(k, ALL, c) for c in CATEGORIES], (k, ALL, ALL)))
    return lines


def _residents_in(people: list[Person], cells: list[Key]) -> int:
    """How many residents the sum of ``cells`` describes."""

    def inside(p: Person, key: Key) -> bool:
        campaign, district, category = key
        table = p.counted if campaign else p.by_category
        return district in (ALL, p.district) and any(category in (ALL, c) for c in table)

    return sum(any(inside(p, k) for k in cells) for p in people)


def _equations(rows: list[StatsRow]) -> list[tuple[dict[Key, int], Fraction]]:
    """Every way the published kg add up: a dict of withheld cells with coefficients = a known sum."""
    value = {(r.campaign, r.district, r.category): r.co2e_kg for r in rows}
    equations = []
    for members, total in _lines(rows):
        unknown: dict[Key, int] = {}
        known = Fraction(0)
        for key, sign in [*((m, 1) for m in members), (total, -1)]:
            if value[key] is None:
                unknown[key] = unknown.get(key, 0) + sign
            else:
                known -= sign * Fraction(str(value[key]))
        if unknown:
            equations.append((unknown, known))
    return equations


def recovered(rows: list[StatsRow]) -> set[Key]:
    """The withheld cells whose kg the attacker computes exactly (Gauss-Jordan over fractions)."""
    equations = _equations(rows)
    keys = sorted({k for eq, _ in equations for k in eq}, key=str)
    matrix = [[Fraction(eq.get(k, 0)) for k in keys] + [known] for eq, known in equations]
    row = 0
    for col in range(len(keys)):
        pivot = next((i for i in range(row, len(matrix)) if matrix[i][col] != 0), None)
        if pivot is None:
            continue
        matrix[row], matrix[pivot] = matrix[pivot], matrix[row]
        matrix[row] = [v / matrix[row][col] for v in matrix[row]]
        for i in range(len(matrix)):
            if i != row and matrix[i][col] != 0:
                matrix[i] = [a - matrix[i][col] * b for a, b in zip(matrix[i], matrix[row], strict=True)]
        row += 1
    return {keys[next(i for i, v in enumerate(r[:-1]) if v)] for r in matrix[:row] if sum(v != 0 for v in r[:-1]) == 1}


def _publish(people: list[Person], districts: list[str]) -> list[StatsRow]:
    by_district, by_campaign = _records(people, districts)
    listed = [{"id": i, "code": d, "active": True} for i, d in enumerate(districts, start=1)]
    return figures(listed, by_district, by_campaign, THRESHOLD, through=WEEK)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(60))
def test_the_differencing_attack_recovers_no_small_cell(seed: int) -> None:
    rng = random.Random(seed)
    districts = ["britof", "center", "golnik", "huje", "jost", "kokrica"][: rng.randint(2, 6)]
    people = _people(rng, districts)
    rows = _publish(people, districts)
    truth = _truth(people, districts)

    published = {(r.campaign, r.district, r.category): r for r in rows}
    shown_small = [k for k, r in published.items() if r.participants is not None and 0 < truth[k] < THRESHOLD]
    assert shown_small == []
    for key, row in published.items():  # what is shown is true
        if row.participants is not None:
            assert row.participants == truth[key]
    broken = [k for k in recovered(rows) if 0 < truth[k] < THRESHOLD]
    assert broken == [], f"recovered by subtraction: {broken}"
    # A published total less its line's published cells is the withheld cells' sum: of nobody or of 10 or more.
    for members, total in _lines(rows):
        if published[total].co2e_kg is None:
            continue
        withheld = [m for m in members if published[m].co2e_kg is None]
        described = _residents_in(people, withheld)
        assert described == 0 or described >= THRESHOLD, (total, withheld, described)
    # The city's figure less the campaign's, where both are shown, describes nobody or at least 10.
    for category in [*CATEGORIES, ALL]:
        city, campaign = published[(None, ALL, category)], published.get(("k1", ALL, category))
        if campaign is not None and city.co2e_kg is not None and campaign.co2e_kg is not None:
            assert _beyond(people, category) == 0 or _beyond(people, category) >= THRESHOLD


def test_a_lone_small_cell_is_hidden_with_a_partner_in_its_row_and_its_column() -> None:
    # Britof: 3 residents cycling; everyone else is large.
    people = [Person("britof", {"mobility": (1, Decimal("2.5"))}) for _ in range(3)]
    people += [Person("britof", {"food": (1, Decimal("1.0"))}) for _ in range(12)]
    people += [Person(d, {c: (1, Decimal("1.0"))}) for d in ("center", "golnik") for c in ("mobility", "food")
               for _ in range(20)]  # fmt: skip
    rows = _publish(people, ["britof", "center", "golnik"])
    shown = {(r.district, r.category): r.suppressed for r in rows if r.campaign is None}

    assert shown[("britof", "mobility")] == "small"
    row_partners = [c for c in CATEGORIES if shown[("britof", c)] == "complementary"]
    column_partners = [d for d in ("center", "golnik") if shown[(d, "mobility")] == "complementary"]
    assert row_partners and column_partners
    assert not recovered(rows) & {(None, "britof", "mobility")}
    # Without its partners, the attack takes it back from the row's total.
    exposed = [
        msgspec.structs.replace(r, co2e_kg=_true_kg(people, r), suppressed=None)
        if r.suppressed == "complementary" else r
        for r in rows
    ]  # fmt: skip
    assert (None, "britof", "mobility") in recovered(exposed)


def _true_kg(people: list[Person], row: StatsRow) -> float:
    return float(
        sum(
            (kg for p in people if row.district in (ALL, p.district) for c, (_, kg) in p.by_category.items()
             if row.category in (ALL, c)),
            Decimal(0),
        )
    )  # fmt: skip
