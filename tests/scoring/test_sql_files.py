"""The scoring engine's statement files (``src/upscale_api/scoring/sql/``): each
statement is written out whole, so a definition several statements share is
copied into each; these tests keep the copies the same."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from tests.scoring.test_golden_sql import tokens
from upscale_api.scoring import queries

# Variants of one computation (a unit's, a rebuild's, the history's, a reader's) and the
# definitions (common table expressions) they share.
SHARED = [
    (["CHALLENGES", "REBUILD_CHALLENGES", "HISTORY_CHALLENGES", "MY_CHALLENGES"], ["shaped", "counted"]),
    (["CHALLENGES", "COLLECTIVE"], ["counted"]),
    (["CHALLENGES", "REBUILD_CHALLENGES"], ["rules", "restricted", "hidden", "met", "flipped", "gone", "stored"]),
    (["CHALLENGES", "MY_CHALLENGES"], ["windows"]),
    (["REBUILD_CHALLENGES", "HISTORY_CHALLENGES"], ["counted_days", "windows", "best"]),
    (["SCORES", "REBUILD_SCORES", "HISTORY_SCORES"], ["runs"]),
    (["SCORES", "REBUILD_SCORES"], ["gone"]),
    (["BADGES", "REBUILD_BADGES", "TEAM_BADGES"], ["rules", "hidden"]),
]


def definition(statement: str, name: str) -> str | None:
    """The common table expression ``name`` of ``statement`` (normalised; none if it
    has none). Its string literals must hold no parenthesis, as none here do."""
    start = re.search(rf"\b{name} AS (?:NOT )?(?:MATERIALIZED )?\(", statement)
    if start is None:
        return None
    depth, end = 1, start.end()
    while depth:
        depth += {"(": 1, ")": -1}.get(statement[end], 0)
        end += 1
    return tokens(statement[start.end() : end - 1])


def test_every_file_under_sql_is_a_stage_and_every_name_used_is_a_statement() -> None:
    files = {p.name for p in resources.files("upscale_api.scoring").joinpath("sql").iterdir() if p.is_file()}
    assert files == {f"{stage}.sql" for stage in queries.STAGES}
    with pytest.raises(AttributeError, match="no statement named NO_SUCH_STATEMENT"):
        _ = queries.NO_SUCH_STATEMENT


def test_a_definition_copied_into_several_statements_is_the_same_in_each() -> None:
    for statements, names in SHARED:
        for name in names:
            copies = {definition(queries.STATEMENTS[s], name) for s in statements}
            assert None not in copies and len(copies) == 1, f"{name} differs between {statements}"


def test_a_rules_target_is_the_same_where_it_is_judged_and_where_it_is_read() -> None:
    target = re.compile(r"CASE s\.rule_kind WHEN 'quantity'.*?END AS target", re.DOTALL)
    copies = [target.findall(queries.STATEMENTS[s]) for s in ("CHALLENGES", "REBUILD_CHALLENGES", "MY_CHALLENGES")]
    assert [len(c) for c in copies] == [1, 1, 1]
    assert len({tokens(c[0]) for c in copies}) == 1


def test_the_benchmarks_predicates_are_those_the_tick_marks_changes_with() -> None:
    for statement in (queries.MARK_CHANGED_DAYS, queries.MARK_CHANGED_ENROLMENTS):
        assert tokens(f"WHERE {queries.WRITTEN_SINCE} AND {queries.IN_PART}") in tokens(statement)
