"""SQL of the scoring engine: the named statements of ``sql/<stage>.sql``.

Each file holds one stage's statements, each written out whole, as PostgreSQL
runs it (docs/scoring.md, "Where the SQL is"). A statement starts at a line
``-- name: NAME``; the comment lines right after it say what it does and are
not sent; the rest, up to the next name, is the statement. They are read once,
when this module is imported, and used as its attributes: ``queries.SCORES``.
"""

from __future__ import annotations

import re
from importlib import resources

STAGES = (
    "unit",
    "days",
    "members",
    "totals",
    "challenges",
    "teams_and_badges",
    "standings",
    "history",
    "rebuild",
    "reads",
)

_NAME = re.compile(r"^-- name: ([A-Z][A-Z0-9_]*)\n", re.MULTILINE)


def _read(stage: str) -> dict[str, str]:
    """The statements of ``sql/<stage>.sql`` by name."""
    text = resources.files(__package__).joinpath("sql", f"{stage}.sql").read_text(encoding="utf-8")
    pieces = _NAME.split(text)[1:]  # name, body, name, body, ...
    statements = {}
    for name, body in zip(pieces[::2], pieces[1::2], strict=True):
        lines = body.splitlines()
        while lines and lines[0].startswith("--"):  # what it does
            lines.pop(0)
        statements[name] = "\n".join(lines).strip()
    return statements


def _read_every_stage() -> dict[str, str]:
    statements: dict[str, str] = {}
    for stage in STAGES:
        for name, text in _read(stage).items():
            if name in statements or not text:
                raise ValueError(f"sql/{stage}.sql: {name} is {'empty' if not text else 'named twice'}")
            statements[name] = text
    return statements


STATEMENTS: dict[str, str] = _read_every_stage()
"""Every statement of the scoring engine, by name."""


def __getattr__(name: str) -> str:
    try:
        return STATEMENTS[name]
    except KeyError:
        raise AttributeError(f"no statement named {name} in upscale_api/scoring/sql/") from None


# Rows written by transactions that had not finished at snapshot $1, and the
# residents of part $3 of $2: the predicates of MARK_CHANGED_DAYS and
# MARK_CHANGED_ENROLMENTS, which the scoring benchmark's baseline selects with.
WRITTEN_SINCE = (
    "written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)"
)
IN_PART = "resident_id % $2 = $3"

# The tables a rebuild empties and fills again, without their indexes meanwhile (INDEX_DEFINITIONS).
REBUILT_TABLES = ["resident_days", "campaign_days", "totals_daily", "activity_daily"]
