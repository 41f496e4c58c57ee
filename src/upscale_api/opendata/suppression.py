"""Statistical disclosure control for the open aggregates: small cells and complementary suppression.

A publication is a set of tables whose cells add up along lines (a district's
categories add up to the district's total, a category's districts to the
category's total, a campaign's categories to the campaign's total, ...). A cell
is *sensitive* when it describes 1 to ``threshold - 1`` residents. Hiding the
sensitive cells is not enough: a hidden cell that is the only hidden one of a
line whose total is published is the total less the others. So:

1. Every sensitive cell is suppressed (``small``).
2. The line rule: a line with a published total and a sensitive hidden member
   gets another hidden member (``complementary``, the published cell with the
   fewest residents) unless it already has two or more hidden members that
   together describe at least ``threshold`` residents (one of them is not
   sensitive, or they are all of the line's non-zero members, whose union is
   the published total's residents). Where no member can be hidden, the total is.
3. The audit: the published figures are a system of linear equations (one per
   line) in the hidden ones. A hidden cell is *determined* when its unit vector
   lies in the row space of that system (exact integer arithmetic); a
   determined sensitive cell gets one more neighbour hidden, and 2 and 3
   repeat until no sensitive cell is determined.

Some cells are never published but can be computed from published ones: the
difference between a city's figure and a campaign's figure for the same week
and category describes the city's residents the campaign did not count.
Such *hidden* cells take part as unknowns with the number of residents they
describe; one that is sensitive and determined is a disclosure like any other.

Zero cells (nobody) are published: they describe nobody. The three figures of a
cell (participants, actions, kg CO2e) are published or suppressed together;
actions and kg add up along lines, participants do not (a resident active in
two categories is one participant of the district), which only makes them
harder to recover.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Suppressed = Literal["small", "complementary"]


@dataclass
class Cell:
    participants: int
    """The residents it describes (a hidden cell: those the difference it stands for describes)."""
    actions: int = 0
    co2e_kg: Decimal = Decimal(0)
    hidden: bool = False
    """Never published: a difference of published figures, taking part as an unknown."""
    suppressed: Suppressed | None = None


@dataclass(frozen=True)
class Line:
    """``members`` add up to ``total``."""

    members: tuple[Hashable, ...]
    total: Hashable


@dataclass
class Grid:
    """Cells by key and the lines they add up along."""

    cells: dict[Hashable, Cell] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)


def protect(grid: Grid, threshold: int) -> None:
    """Mark the cells of ``grid`` to suppress so that no published figure, alone or by
    subtraction along the lines, describes 1 to ``threshold - 1`` residents."""
    cells = grid.cells
    for cell in cells.values():
        if not cell.hidden and 0 < cell.participants < threshold:
            cell.suppressed = "small"
    lines_of: dict[Hashable, list[Line]] = {}
    for line in grid.lines:
        for key in (*line.members, line.total):
            lines_of.setdefault(key, []).append(line)
    while True:
        if _apply_line_rule(grid, threshold):
            continue
        determined = [k for k in _determined(grid) if _sensitive(cells[k], threshold)]
        if not determined:
            return
        _hide_beside(grid, determined[0], lines_of[determined[0]], threshold)


def _sensitive(cell: Cell, threshold: int) -> bool:
    return 0 < cell.participants < threshold


def _unknown(cell: Cell) -> bool:
    """Not published: suppressed, or hidden and describing someone (a hidden zero is known to be zero)."""
    return cell.suppressed is not None or (cell.hidden and cell.participants > 0)


def _publishable(cell: Cell) -> bool:
    """A published cell that can still be suppressed and protects: not hidden, not zero."""
    return not cell.hidden and cell.suppressed is None and cell.participants > 0


def _apply_line_rule(grid: Grid, threshold: int) -> bool:
    """Hide one more cell where a line needs it (see the module's docstring); True when it did."""
    cells = grid.cells
    for line in grid.lines:
        if _unknown(cells[line.total]):
            continue
        hidden = [k for k in line.members if _unknown(cells[k])]
        if not any(_sensitive(cells[k], threshold) for k in hidden):
            continue
        every_nonzero = all(_unknown(cells[k]) or cells[k].participants == 0 for k in line.members)
        protected = len(hidden) >= 2 and (any(not _sensitive(cells[k], threshold) for k in hidden) or every_nonzero)
        if protected:
            continue
        _hide_one_of(grid, line)
        return True
    return False


def _hide_one_of(grid: Grid, line: Line) -> None:
    """Suppress the line's published member with the fewest residents, or else its total."""
    cells = grid.cells
    candidates = [k for k in line.members if _publishable(cells[k])]
    if candidates:
        chosen = min(candidates, key=lambda k: (cells[k].participants, cells[k].co2e_kg, str(k)))
        cells[chosen].suppressed = "complementary"
    else:
        cells[line.total].suppressed = "complementary"


def _hide_beside(grid: Grid, key: Hashable, lines: list[Line], threshold: int) -> None:
    """A determined sensitive cell: hide one more cell of one of its lines with a known total."""
    cells = grid.cells
    for line in sorted(lines, key=lambda li: sum(_unknown(cells[k]) for k in (*li.members, li.total))):
        if not _unknown(cells[line.total]) and any(_publishable(cells[k]) for k in line.members):
            _hide_one_of(grid, line)
            return
    for line in lines:  # no member left to hide: a total goes
        if _publishable(cells[line.total]):
            cells[line.total].suppressed = "complementary"
            return
    # Determined through other lines only: widen to the smallest published cell anywhere.
    left = [k for k, c in cells.items() if _publishable(c)]
    if not left:
        raise AssertionError(f"{key}: determined with every cell suppressed")  # a homogeneous system cannot
    chosen = min(left, key=lambda k: (cells[k].participants, str(k)))
    cells[chosen].suppressed = "complementary"


def _determined(grid: Grid) -> list[Hashable]:
    """The unknown cells whose value follows from the published ones along the lines.

    Each line is an equation: its unknown members less its total if unknown equal what is
    published. The equations fall apart into independent groups (unknowns that share no
    line do not constrain each other), each reduced on its own, exactly, in integers."""
    cells = grid.cells
    unknown = {k for k, c in cells.items() if _unknown(c)}
    equations: list[dict[Hashable, int]] = []
    for line in grid.lines:
        row: dict[Hashable, int] = {}
        for k in line.members:
            if k in unknown:
                row[k] = row.get(k, 0) + 1
        if line.total in unknown:
            row[line.total] = row.get(line.total, 0) - 1
        row = {k: v for k, v in row.items() if v}
        if row:
            equations.append(row)
    found: list[Hashable] = []
    for group in _groups(equations):
        found += _single_unknowns(_reduced(group))
    return found


def _groups(equations: list[dict[Hashable, int]]) -> list[list[dict[Hashable, int]]]:
    """The equations in groups that share no unknown (union-find over the unknowns)."""
    parent: dict[Hashable, Hashable] = {}

    def root(k: Hashable) -> Hashable:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for row in equations:
        first, *rest = row
        for k in rest:
            parent[root(k)] = root(first)
    groups: dict[Hashable, list[dict[Hashable, int]]] = {}
    for row in equations:
        groups.setdefault(root(next(iter(row))), []).append(row)
    return list(groups.values())


def _reduced(rows: list[dict[Hashable, int]]) -> list[dict[Hashable, int]]:
    """Gauss-Jordan elimination in integers (each row kept divided by the gcd of its entries):
    every pivot column is zero in every other row, as in the reduced row echelon form."""
    pending = [dict(r) for r in rows]
    pivots: list[tuple[Hashable, dict[Hashable, int]]] = []
    while pending:
        row = pending.pop()
        for column, pivot in pivots:  # clear the pivot columns found so far
            if column in row:
                row = _combine(row, pivot, column)
        if not row:
            continue
        column = min(row, key=str)
        for i, (other_column, other) in enumerate(pivots):  # and clear the new pivot's column above
            if column in other:
                pivots[i] = (other_column, _combine(other, row, column))
        pivots.append((column, row))
    return [row for _, row in pivots]


def _combine(row: dict[Hashable, int], pivot: dict[Hashable, int], column: Hashable) -> dict[Hashable, int]:
    """``row`` with ``column`` eliminated by ``pivot``, divided by the gcd of what remains."""
    a, b = pivot[column], row[column]
    keys = set(row) | set(pivot)
    combined = {k: a * row.get(k, 0) - b * pivot.get(k, 0) for k in keys}
    combined = {k: v for k, v in combined.items() if v}
    divisor = math.gcd(*combined.values()) if combined else 1
    return {k: v // divisor for k, v in combined.items()}


def _single_unknowns(rows: list[dict[Hashable, int]]) -> list[Hashable]:
    """A reduced row with one unknown left fixes that unknown: it is the published figures' combination."""
    return [next(iter(row)) for row in rows if len(row) == 1]
