"""The Citus layout in docs/operations.md ("Past one machine") matches the real schema.

Every table the migrations create is placed exactly once: distributed (on a column it
has, or one the layout marks as "(added)" that it does not have yet), a reference table,
or local to the coordinator; tables of one co-location group share the distribution
column's type. And the list of constraints to change before distributing is exactly
the set Citus would refuse: a primary key or unique index of a distributed table without
its distribution column, a foreign key between distributed tables not on that column in
the same group, and a foreign key from a reference or local table to a distributed one
or from a distributed table to a local one. A migration that adds a table or such a
constraint fails this test until the layout says how it distributes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import asyncpg
import pytest

from tests.factories import ROOT

DOC = ROOT / "docs" / "operations.md"
PLACEMENTS = {"distributed", "reference", "coordinator"}


@dataclass(frozen=True)
class Placement:
    table: str
    kind: str
    column: str | None
    added: bool  # the distribution column is still to be added
    group: str | None


def _table_after(heading: str, text: str) -> list[list[str]]:
    """The rows (cells without backticks) of the first Markdown table after ``heading``."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))
    return [[cell.strip().replace("`", "") for cell in row.strip("|").split("|")] for row in block[2:]]


def layout() -> dict[str, Placement]:
    placements: dict[str, Placement] = {}
    for table, kind, column, group in _table_after("### Citus layout", DOC.read_text()):
        assert kind in PLACEMENTS, f"{table}: placement {kind!r}"
        assert table not in placements, f"{table} placed twice"
        added = column.endswith("(added)")
        name = column.removesuffix("(added)").strip()
        placements[table] = Placement(
            table, kind, name if name not in {"", "-"} else None, added, group if group not in {"", "-"} else None
        )
    return placements


def changes() -> dict[str, str]:
    """Constraint or index name -> the change the layout asks for."""
    return {name: change for name, _table, change in _table_after("### Changes before distributing", DOC.read_text())}


@pytest.fixture
async def schema(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def test_every_table_is_placed_once_on_a_column_it_has(schema: asyncpg.Connection) -> None:
    tables = {
        row["relname"]
        for row in await schema.fetch(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
            "AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    }
    placements = layout()
    assert set(placements) == tables, (
        f"not placed: {sorted(tables - set(placements))}; no such table: {sorted(set(placements) - tables)}"
    )

    group_types: dict[str, set[str]] = {}
    for p in placements.values():
        if p.kind != "distributed":
            assert p.column is None and p.group is None, p
            continue
        assert p.column is not None and p.group is not None, p
        column_type = await schema.fetchval(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
            p.table,
            p.column,
        )
        if p.added:
            assert column_type is None, f"{p.table}.{p.column} exists now: drop '(added)' from the layout"
            continue
        assert column_type is not None, f"{p.table} has no column {p.column}"
        group_types.setdefault(p.group, set()).add(column_type)
    assert all(len(types) == 1 for types in group_types.values()), group_types


async def _refusals(schema: asyncpg.Connection, placements: dict[str, Placement]) -> set[str]:
    """What Citus would refuse in the schema as it is, by constraint or index name."""
    refused: set[str] = set()
    uniques = await schema.fetch(
        """
        SELECT c.relname AS table_name, i.indexrelid::regclass::text AS name,
               array(SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])) AS columns
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.relnamespace = 'public'::regnamespace AND i.indisunique
        """
    )
    for row in uniques:
        p = placements[row["table_name"]]
        if p.kind == "distributed" and p.column not in row["columns"]:
            refused.add(row["name"])

    foreign_keys = await schema.fetch(
        """
        SELECT k.conname AS name, s.relname AS source, t.relname AS target,
               array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(n, o)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o) AS source_columns,
               array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS u(n, o)
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o) AS target_columns
        FROM pg_constraint k JOIN pg_class s ON s.oid = k.conrelid JOIN pg_class t ON t.oid = k.confrelid
        WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace
        """
    )
    for row in foreign_keys:
        source, target = placements[row["source"]], placements[row["target"]]
        pairs = set(zip(row["source_columns"], row["target_columns"], strict=True))
        if target.kind == "distributed":
            allowed = (
                source.kind == "distributed"
                and source.group == target.group
                and (source.column, target.column) in pairs
            )
        else:
            allowed = target.kind == "reference" or source.kind == "coordinator"
        if not allowed:
            refused.add(row["name"])
    return refused


async def test_the_changes_before_distributing_are_exactly_what_citus_would_refuse(
    schema: asyncpg.Connection,
) -> None:
    refused = await _refusals(schema, layout())
    listed = changes()

    assert set(listed) - refused == set(), "listed but no longer refused: take them off the list"
    assert refused - set(listed) == set(), "refused by Citus but not listed: say how each changes"
    assert all(change for change in listed.values())
