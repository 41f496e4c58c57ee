"""The SQL the scoring jobs send to PostgreSQL, pinned as it runs.

Every statement the scoring domain executes is written out, after all
composition, to ``tests/scoring/golden/<NAME>.sql``: each named statement, each
round trip that sends several at once (``A+B.sql``), and each step of a full
rebuild as composed for the migrated schema (its index statements included).
They are compared token by token, as PostgreSQL's parser reads them: whitespace
and ``--`` comments outside string literals only separate tokens, so their
layout may change; every token must stay the same. A change to the SQL that
runs shows as a change to these files. After a deliberate one, write them
again and review the diff:

    UPSCALE_REWRITE_GOLDEN=1 python3 run.py test tests/scoring/test_golden_sql.py

A second test runs every scoring job, the rebuild, the rescore and the reads on
the demo data with each statement recorded, and checks that PostgreSQL received
only these statements and every one of them.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from asyncpg import introspection

from upscale_api import db
from upscale_api.catalogue.service import Snapshot
from upscale_api.demo.seed import DEMO_CAMPAIGN
from upscale_api.scoring import leaderboard, queries, reads
from upscale_api.scoring import service as scoring

GOLDEN = Path(__file__).parent / "golden"
REWRITE = os.environ.get("UPSCALE_REWRITE_GOLDEN") == "1"

# Statements sent together in one round trip, joined by ";".
ROUND_TRIPS = [
    ("UNIT_SETTINGS", "SCRATCH", "NEWS_TABLE"),
    ("SCRATCH", "NEWS_TABLE"),
    ("REBUILD_SETTINGS", "SORTED_SCORES"),
    ("PLANNER_DEFAULTS", "HASHED_RULES"),
    ("NEWS_TABLE", "STANDINGS_CHANGES_TABLE"),
]


def scoring_statements(indexes: list[asyncpg.Record]) -> dict[str, str]:
    """Every statement the scoring domain sends, by file name: the named ones, the
    round trips and the rebuild's steps for the schema whose ``indexes`` (rows of
    INDEX_DEFINITIONS) are given."""
    named = queries.STATEMENTS
    statements = dict(named)
    for trip in ROUND_TRIPS:
        statements["+".join(trip)] = ";".join(named[name] for name in trip)
    steps = scoring._rebuild_steps(datetime(2000, 1, 1, tzinfo=UTC), indexes)
    for number, (text, _) in enumerate(steps, start=1):
        statements[f"REBUILD_STEP_{number:02}"] = text
    return statements


# A statement as PostgreSQL's parser reads it: whitespace and comments outside
# string literals and quoted names only separate tokens. Each run of them becomes
# one space, or none next to a character that is a token of its own.
_LEXEME = re.compile(
    r"""'(?:[^']|'')*'      # a string literal
      | "(?:[^"]|"")*"      # a quoted name
      | (?P<gap>(?:\s|--[^\n]*)+)  # whitespace and comments
      | [^'"\s-]+ | -       # anything else""",
    re.VERBOSE,
)
_SELF_DELIMITING = set(",;()")


def tokens(sql: str) -> str:
    """``sql`` with its whitespace and comments normalised (see _LEXEME)."""
    out: list[str] = []
    gap = False
    for match in _LEXEME.finditer(sql):
        if match["gap"] is not None:
            gap = True
            continue
        lexeme = match[0]
        if gap and out and out[-1][-1] not in _SELF_DELIMITING and lexeme[0] not in _SELF_DELIMITING:
            out.append(" ")
        out.append(lexeme)
        gap = False
    return "".join(out)


def test_only_layout_and_comments_are_left_out_of_the_comparison() -> None:
    assert tokens("SELECT a ,\n  b -- why\nFROM t\n;\n") == tokens("SELECT a, b FROM t;") == "SELECT a,b FROM t;"
    assert tokens("SELECT 'a  b', \"x  y\"") != tokens("SELECT 'a b', \"x y\"")
    assert tokens("SELECT a -- b\n, c") != tokens("SELECT a -- b, c")
    assert tokens("SELECT ab") != tokens("SELECT a b")
    assert tokens("SELECT '--' || x") != tokens("SELECT '--' || y")


async def _indexes(pool: db.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(queries.INDEX_DEFINITIONS, queries.REBUILT_TABLES)


async def test_the_scoring_statements_are_the_committed_ones(fresh_pool: db.Pool) -> None:
    statements = {name: text.strip() + "\n" for name, text in scoring_statements(await _indexes(fresh_pool)).items()}
    if REWRITE:
        for stale in GOLDEN.glob("*.sql"):
            if stale.stem not in statements:
                stale.unlink()
        for name, text in statements.items():
            (GOLDEN / f"{name}.sql").write_text(text)
    committed = {path.stem: path.read_text() for path in GOLDEN.glob("*.sql")}

    assert sorted(set(statements) - set(committed)) == [], "statements without a golden file"
    assert sorted(set(committed) - set(statements)) == [], "golden files of no statement"
    changed = [name for name, text in statements.items() if tokens(committed[name]) != tokens(text)]
    diff = "".join(
        "".join(difflib.unified_diff(committed[name].splitlines(True), statements[name].splitlines(True), name, name))
        for name in changed[:3]
    )
    assert changed == [], f"changed statements (rewrite with UPSCALE_REWRITE_GOLDEN=1):\n{diff}"


# --- What PostgreSQL receives ---------------------------------------------------------

_RECORDING: contextvars.ContextVar[bool] = contextvars.ContextVar("recording", default=False)


def _asyncpg_own(query: str) -> bool:
    """What asyncpg sends of its own: transaction control, and looking up a type it
    meets for the first time (with JIT compilation off meanwhile)."""
    return (
        query in ("BEGIN;", "COMMIT;", "ROLLBACK;")
        or query in (introspection.INTRO_LOOKUP_TYPES, introspection.INTRO_LOOKUP_TYPES_13)
        or "set_config('jit'" in query
    )


async def _record_into(pool: db.Pool, received: list[str]) -> None:
    """From now on, what each of the pool's connections is sent while recording goes to ``received``."""

    def logged(query: asyncpg.connection.LoggedQuery) -> None:
        if _RECORDING.get() and not _asyncpg_own(query.query):
            received.append(tokens(query.query))

    held = [await pool.acquire() for _ in range(pool.get_max_size())]
    for conn in held:
        conn.add_query_logger(logged)
    for conn in held:
        await pool.release(conn)


@contextmanager
def _recording() -> Iterator[None]:
    token = _RECORDING.set(True)
    try:
        yield
    finally:
        _RECORDING.reset(token)


async def test_the_scoring_jobs_send_exactly_the_committed_statements(demo: tuple[db.Pool, Snapshot]) -> None:
    pool, _ = demo
    received: list[str] = []
    await _record_into(pool, received)
    now = datetime.now(UTC)
    campaign_id = await pool.fetchval("SELECT id FROM campaigns WHERE code = $1", DEMO_CAMPAIGN)
    resident_id = await pool.fetchval("SELECT min(resident_id) FROM enrolments WHERE campaign_id = $1", campaign_id)
    # The demo's collective goals within reach, so that the standings find them reached.
    await pool.execute(
        "UPDATE challenges SET rule = jsonb_set(rule, '{target}', '1') WHERE rule ->> 'kind' = 'collective'"
    )
    today = now.astimezone(ZoneInfo("Europe/Ljubljana")).date()
    ends_at = await pool.fetchval("SELECT ends_at FROM campaigns WHERE id = $1", campaign_id)
    city_id = await pool.fetchval("SELECT city_id FROM campaigns WHERE id = $1", campaign_id)

    with _recording():
        assert await scoring.tick(pool, now) is not None
        assert await scoring.compute_standings(pool, now)
        assert await scoring.announce_goals(pool, now)
        async with pool.acquire() as conn:
            top, own = await leaderboard.read(conn, campaign_id, "individual", resident_id, 10)
            assert top and own is not None
            assert await reads.campaign_score(conn, campaign_id, resident_id)
            assert await reads.challenges_by_code(conn, campaign_id, resident_id, today)
            await reads.badges_earned(conn, campaign_id, resident_id)
            city_id = (await reads.earned_points(conn, resident_id)).popitem()[0]
            assert await reads.earned_days(conn, resident_id, city_id, (today, 1), 10)
            assert await reads.scored_at(conn)
            assert any(await reads.resident_results(conn, resident_id))
            assert await reads.city_weeks(conn, city_id, today - timedelta(days=28), today)
            assert await reads.city_campaign_weeks(conn, city_id, today - timedelta(days=28), today)

            # what coordinators read
            await reads.team_recognition(conn, campaign_id)
            assert await reads.contest(conn, campaign_id, "sl")
            await reads.goals(conn, campaign_id, "sl")
            assert await reads.active_since(conn, [campaign_id], today - timedelta(days=7))
            assert (await reads.campaign_stats(conn, campaign_id))["active_residents"] > 0
            assert (await reads.computed_at(conn, campaign_id))["computed_at"] is not None
            async with conn.transaction():
                await scoring.ranking_changed(conn, [DEMO_CAMPAIGN])
        cutoff = scoring.history_cutoff(today, 0)
        assert await scoring.history_due(pool, cutoff)
        assert await scoring.advance_history(pool, cutoff, between=lambda: scoring.tick(pool, now))
        await scoring.rescore(pool, now)
        await scoring.rescore(pool, now, campaign_id=campaign_id)
        await scoring.rebuild(pool, now)
        grace = timedelta(days=7)
        assert await scoring.take_results(pool, ends_at + grace, grace) == [campaign_id]
    await asyncio.sleep(0)  # the query loggers run as callbacks

    expected = {name: tokens(text) for name, text in scoring_statements(await _indexes(pool)).items()}
    sent = set(received)
    assert sorted(sent - set(expected.values())) == [], "sent, but not a committed statement"
    assert sorted(name for name, text in expected.items() if not any(text in s for s in sent)) == [], "never sent"
