"""The scoring engine: savings, points, streaks, challenges, badges, standings.

Contracts:

* :func:`tick` is the incremental job. It reads the action logs, enrolments and
  review decisions written since its watermark (new, back-dated and deleted
  actions alike) and recomputes exactly the resident days and participants
  they touch, under an advisory lock held by the transaction that ends the
  tick: several worker replicas run it once per tick between them. The
  residents are scored in parts side by side (one transaction and connection
  each, so a tick uses every core); the last transaction folds what the parts
  changed into the rows they share and moves the watermark. A tick killed
  halfway leaves no part half-applied, and the next tick recomputes what the
  parts did (finding nothing to change) and folds what they left. Running it
  again changes nothing.
* :func:`compute_standings` rebuilds the leaderboards and collective goals of
  campaigns whose scores changed, one campaign per transaction.
* :func:`announce_goals` tells the participants of the collective goals the
  standings found reached, a span of resident ids per transaction; a span
  taken twice writes nothing twice.
* :func:`take_results` freezes a campaign's standings once it has ended and
  late offline logs can no longer arrive.
* :func:`rescore` recomputes after a factor or rule correction, in chunks of
  residents, each scored in parts and folded as a tick is (so it can be
  stopped and run again).
* :func:`advance_history` stores what each participant's campaign days before
  a cut-off add up to, so that ticks read only the days since; a participant
  whose days before it change is recomputed from all their days and loses
  that row until the next advance.

Every derived number is recomputed from the action log (through
``resident_days``), so any of them can be rebuilt from scratch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from upscale_api.db import AdvisoryLock, Connection, Pool, Record, rows_affected
from upscale_api.notifications import templates
from upscale_api.scoring import queries

TICK_JOB = "scoring"

# Resident ids whose participants announce_goals tells per transaction: about
# as many participants in a national campaign, 1.5 s of writing.
GOAL_SPAN_IDS = 50_000

ACHIEVEMENT_TEMPLATES = {
    "challenge": templates.CHALLENGE_MET,
    "team_challenge": templates.TEAM_CHALLENGE_MET,
    "goal": templates.GOAL_REACHED,
    "badge": templates.BADGE_EARNED,
}


Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) while recomputing."""


class TickReport(msgspec.Struct):
    resident_days: int
    """Resident days recomputed."""
    participants: int
    """Campaign participants recomputed."""
    messages: int
    """Achievements found and written to the outbox (challenges met, badges earned)."""
    seconds: float


class RefactorChange(msgspec.Struct):
    action_type: str
    actions: int
    delta_kg: float
    """Change in kg CO2e avoided over those actions (negative when the correction lowered it)."""


class RescoreReport(msgspec.Struct):
    factor_changes: list[RefactorChange]
    resident_days: int
    participants: int
    points_before: float
    points_after: float
    co2e_kg_before: float
    co2e_kg_after: float
    seconds: float


async def _score_part(conn: Connection, now: datetime, *, announce: bool = True) -> tuple[int, int, int]:
    """Recompute what ``dirty_days`` and ``changed_enrolments`` name: resident days,
    campaign days, scores, challenges and badges, which belong to these
    residents alone; what changes in the rows shared with other units is left
    pending for the fold. Returns the resident days and participants recomputed
    and the achievements found (written to the outbox when ``announce``)."""
    await conn.execute(queries.MARK_MEMBER_DAYS)
    await conn.execute(queries.FORGET_HISTORY)
    await conn.execute(queries.ANALYZE_SCRATCH)
    days = await conn.fetchval(queries.COUNT_DIRTY_DAYS)
    members = await conn.fetchval(queries.COUNT_DIRTY_MEMBERS)
    if days:
        await _recompute_resident_days(conn)
    if members:
        await _recompute_participants(conn, now)
    messages = await _notify(conn, now, announce=announce)
    return days, members, messages


async def _recompute_resident_days(conn: Connection) -> None:
    """The marked resident days, their holds and their differences in the running totals of all actions."""
    await conn.execute(queries.RESIDENT_DAYS_OUT)
    await conn.execute(queries.RESIDENT_DAYS_IN)
    await conn.execute(queries.HOLDS)
    await conn.execute(queries.DAY_TOTALS)
    await conn.execute(queries.DAY_ACTIVITY)


async def _recompute_participants(conn: Connection, now: datetime) -> None:
    """The marked participants' campaign days and their differences in the campaigns'
    running totals, their teams' changes, scores, challenges and badges; their
    campaigns' standings become due."""
    await conn.execute(queries.MEMBER_DAYS_OUT)
    await conn.execute(queries.MEMBER_DAYS_IN)
    await conn.execute(queries.MEMBER_TOTALS)
    await conn.execute(queries.MEMBER_ACTIVITY)
    await conn.execute(queries.TOUCHED_TEAMS)
    await conn.execute(queries.SCORES, now)
    await conn.execute(queries.CHALLENGES, now)
    await conn.execute(queries.BADGES, now)
    await conn.execute(queries.STANDINGS_DUE)


async def _judge_teams(conn: Connection, now: datetime, *, announce: bool = True) -> int:
    """Judge the teams units touched and badge the members of those that just met a
    challenge; returns the achievements found."""
    await conn.execute(queries.NEWS_TABLE)
    await conn.execute(queries.TEAMS, now)
    await conn.execute(queries.TEAM_BADGES, now)
    return await _notify(conn, now, announce=announce)


async def _fold(conn: Connection, now: datetime, *, announce: bool = True) -> int:
    """Everything units left pending, in the caller's transaction; returns the achievements found."""
    await conn.execute(queries.FOLD_TOTALS)
    await conn.execute(queries.FOLD_ACTIVITY)
    return await _judge_teams(conn, now, announce=announce)


async def _fold_beside(pool: Pool, conn: Connection, now: datetime, *, announce: bool = True) -> int:
    """What parts left pending: the totals folded in transactions of their own, each
    taking what it adds, while the teams are judged in ``conn``'s; returns the
    achievements found."""
    await conn.execute(queries.UNIT_SETTINGS)
    _, _, messages = await _together(
        _fold_apart(pool, queries.FOLD_TOTALS),
        _fold_apart(pool, queries.FOLD_ACTIVITY),
        _judge_teams(conn, now, announce=announce),
    )
    return int(messages)


async def _fold_apart(pool: Pool, statements: str) -> None:
    """One fold in a transaction of its own."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(queries.UNIT_SETTINGS)
        await conn.execute(statements)


async def _together(*work: Coroutine[Any, Any, Any]) -> list[Any]:
    """Run ``work`` side by side; the first failure cancels the rest and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(w) for w in work]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _notify(conn: Connection, now: datetime, *, announce: bool = True) -> int:
    news: int = await conn.fetchval(queries.NEWS_COUNT)
    if news:
        if announce:
            await conn.execute(queries.NOTIFY, now, ACHIEVEMENT_TEMPLATES)
        await conn.execute(queries.CLEAR_NEWS)
    return news


async def tick(pool: Pool, now: datetime, *, parts: int = 2) -> TickReport | None:
    """Score everything written since the last tick, the residents in ``parts`` parts
    side by side (the pool must hold ``parts`` + 1 connections); None when
    another replica is ticking."""
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(queries.TRY_LOCK, AdvisoryLock.SCORING):
            return None
        seen = await conn.fetchval(queries.WATERMARK, TICK_JOB)
        snapshot = await conn.fetchval(queries.SNAPSHOT)
        # What the parts that committed left pending is folded by the next tick if this one fails.
        scored = await _together(*(_tick_part(pool, now, seen, part, parts) for part in range(parts)))
        team_messages = await _fold_beside(pool, conn, now)
        await conn.execute(queries.SAVE_WATERMARK, TICK_JOB, snapshot, now)
    days, members, messages = (sum(counts) for counts in zip(*scored, strict=True))
    return TickReport(days, members, messages + team_messages, round(time.perf_counter() - started, 3))


async def _tick_part(pool: Pool, now: datetime, seen: str, part: int, parts: int) -> tuple[int, int, int]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(";".join((queries.UNIT_SETTINGS, queries.SCRATCH, queries.NEWS_TABLE)))
        await conn.execute(queries.MARK_CHANGED_DAYS, seen, parts, part)
        await conn.execute(queries.MARK_CHANGED_ENROLMENTS, seen, parts, part)
        return await _score_part(conn, now)


def history_cutoff(today: date, backdate_days: int) -> date:
    """The Monday before which nothing changes in the normal course: the latest
    Monday at least ``backdate_days`` and two more days (the widest time-zone
    gap) before ``today``."""
    latest = today - timedelta(days=backdate_days + 2)
    return latest - timedelta(days=latest.weekday())


async def advance_history(
    pool: Pool, cutoff: date, *, chunk: int = 100_000, between: Callable[[], Awaitable[Any]] | None = None
) -> int:
    """Store each participant's score parts and challenge values over their campaign
    days before ``cutoff`` (a Monday), in place of what was stored; returns the
    participants stored. Residents go in chunks of ``chunk`` ids, each one
    transaction under the scoring lock, and ``between`` (a tick) runs before
    each, so the campaign days read are those of the latest action logs and
    scores keep moving meanwhile: each row carries its own cut-off, so a tick
    reads old and new rows alike. Once every chunk is stored, the advance is
    recorded (:func:`history_due`), unless a rescore ran meanwhile."""
    if cutoff.weekday() != 0:
        raise ValueError(f"the cut-off must be a Monday, not {cutoff:%A}")
    low, high = await pool.fetchrow(queries.RESIDENT_RANGE) or (0, -1)
    await pool.execute(queries.HISTORY_STARTED, cutoff)
    stored = 0
    for start in range(low, high + 1, chunk):
        if between is not None:
            await between()
        stored += await _store_history(pool, cutoff, (start, start + chunk - 1))
    await pool.execute(queries.HISTORY_ADVANCED, cutoff)
    return stored


async def _store_history(pool: Pool, cutoff: date, residents: tuple[int, int]) -> int:
    """The history before ``cutoff`` of the residents with ids in ``residents`` (first,
    last), in place of theirs stored, in one transaction; returns the participants stored."""
    async with pool.acquire() as conn, conn.transaction():
        # Waits for a tick in progress (another replica's, when ``between`` found it running).
        await conn.execute(queries.LOCK, AdvisoryLock.SCORING)
        await conn.execute(";".join((queries.REBUILD_SETTINGS, queries.SORTED_SCORES)))
        await conn.execute(queries.HISTORY_CLEAR, *residents)
        stored = rows_affected(await conn.execute(queries.HISTORY_SCORES, cutoff, *residents))
        await conn.execute(";".join((queries.PLANNER_DEFAULTS, queries.HASHED_RULES)))
        await conn.execute(queries.HISTORY_CHALLENGES, cutoff, *residents)
    return stored


async def history_due(pool: Pool, cutoff: date) -> bool:
    """Whether no advance went through every resident for ``cutoff`` or a later one
    (a rebuild or a rescore drops history rows, which makes it due again). An
    advance that stored nothing, there being no campaign days before the
    cut-off, counts."""
    due: bool = await pool.fetchval(queries.HISTORY_DUE, cutoff)
    return due


async def compute_standings(pool: Pool, now: datetime) -> int:
    """Rebuild standings and collective goals of campaigns whose scores changed, one
    campaign per transaction; returns how many. A campaign whose standings took
    a second or more waits ten times as long as they took before it is taken
    again (it stays on the list meanwhile). The goals they find reached wait
    for :func:`announce_goals`."""
    done = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetchrow(queries.CLAIM_STANDINGS, now)
            if claimed is None:
                return done
            if not claimed["final"]:
                await _standings_of(conn, claimed["campaign_id"], now, final=False)
                done += 1


async def ranking_changed(conn: Connection, campaign_codes: list[str]) -> None:
    """Mark the standings of campaigns whose ranking measure changed as due (in the caller's transaction)."""
    if campaign_codes:
        await conn.execute(queries.RANKING_CHANGED, campaign_codes)


async def announce_goals(pool: Pool, now: datetime, *, span: int = GOAL_SPAN_IDS) -> int:
    """Tell everyone a reached collective goal concerns, and give them its badges:
    a campaign's goals at once, for a span of ``span`` resident ids per
    transaction, until no goal waits; returns the achievements written. Run it
    in one replica at a time (the worker holds an advisory lock)."""
    told = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            campaign_id = await conn.fetchval(queries.GOAL_CAMPAIGN)
            if campaign_id is None:
                return told
            await conn.execute(queries.NEWS_TABLE)
            await conn.execute(queries.GOAL_SPAN, campaign_id, span)
            told += await _notify(conn, now)


async def _standings_of(conn: Connection, campaign_id: int, now: datetime, *, final: bool) -> None:
    await conn.execute(";".join((queries.NEWS_TABLE, queries.STANDINGS_CHANGES_TABLE)))
    await conn.execute(queries.STANDINGS_COMPARED, campaign_id)
    await conn.execute(queries.STANDINGS_CHANGED)
    await conn.execute(queries.STANDINGS_LEVELS_CLEAR, campaign_id)
    sizes = await conn.fetchval(queries.STANDINGS_LEVELS, campaign_id)
    await conn.execute(queries.STANDINGS_COMPUTED, campaign_id, now, final, sizes)
    reached = await conn.fetch(queries.COLLECTIVE, campaign_id, now)
    if reached:
        goals = [r["challenge_id"] for r in reached], [r["scope_id"] for r in reached]
        await conn.execute(queries.GOALS_REACHED, campaign_id, *goals, now)
    await _notify(conn, now)


async def take_results(pool: Pool, now: datetime, grace: timedelta) -> list[int]:
    """Freeze the final standings of campaigns that ended more than ``grace`` ago (the
    back-dating window, so late offline logs are in); returns their ids. Run it
    in one replica at a time (the worker holds an advisory lock)."""
    taken = []
    async with pool.acquire() as conn:
        due = [r["id"] for r in await conn.fetch(queries.RESULTS_DUE, now, grace)]
    for campaign_id in due:
        async with pool.acquire() as conn, conn.transaction():
            # Wait for a standings run in progress: both rewrite this campaign's standings.
            await conn.execute(queries.LOCK, AdvisoryLock.STANDINGS)
            await _standings_of(conn, campaign_id, now, final=True)
            await conn.execute(queries.RESULT, campaign_id, 100, now)
            await conn.execute(queries.STANDINGS_NOT_DUE, campaign_id)
        taken.append(campaign_id)
    return taken


async def rebuild(pool: Pool, now: datetime, *, progress: Progress | None = None) -> RescoreReport:
    """Recompute everything from the action log in one transaction, the fastest way:
    factor versions moved to those in force, then each derived table rebuilt with
    one statement over all rows. Readers of scores wait until it commits (the
    tables are truncated), so on a live system prefer :func:`rescore`, which
    works in chunks; this is for bulk loads and operators' maintenance windows."""
    started = time.perf_counter()
    async with pool.acquire() as conn:
        factor_changes = await _move_to_factors_in_force(conn, None)
        before = await _sums(conn, None)
        async with conn.transaction():
            days, members = await _rebuild_in(conn, now, progress)
        after = await _sums(conn, None)
    return _report(factor_changes, days, members, before, after, started)


async def _rebuild_in(conn: Connection, now: datetime, progress: Progress | None) -> tuple[int, int]:
    """Every derived table rebuilt in ``conn``'s transaction, under the scoring lock,
    and the watermark moved to what it read; returns the resident days and the
    participants."""
    await conn.execute(queries.LOCK, AdvisoryLock.SCORING)
    snapshot = await conn.fetchval(queries.SNAPSHOT)
    await conn.execute(";".join((queries.SCRATCH, queries.NEWS_TABLE)))
    steps = _rebuild_steps(now, await conn.fetch(queries.INDEX_DEFINITIONS, queries.REBUILT_TABLES))
    for done, (statement, args) in enumerate(steps, start=1):
        await conn.execute(statement, *args)
        if progress is not None:
            progress(done, len(steps))
    await _fold(conn, now, announce=False)  # the teams and the news; the totals were rebuilt above
    days: int = await conn.fetchval(queries.COUNT_RESIDENT_DAYS)
    members: int = await conn.fetchval(queries.COUNT_DIRTY_MEMBERS)
    await conn.execute(queries.SAVE_WATERMARK, TICK_JOB, snapshot, now)
    return days, members


def _rebuild_steps(now: datetime, indexes: list[Record]) -> list[tuple[str, tuple[Any, ...]]]:
    """The rebuild's statements in order, with their arguments. The emptied tables
    lose their ``indexes`` (rows of INDEX_DEFINITIONS) until they are full again."""

    def indexed(*tables: str) -> str:
        return ";".join(r["create_statement"] for r in indexes if r["table_name"] in tables)

    drop_indexes = ";".join(r["drop_statement"] for r in indexes)
    return [
        (";".join((queries.REBUILD_SETTINGS, queries.REBUILD_CLEAR, drop_indexes)), ()),
        (";".join((queries.SORTED_GROUPING, queries.REBUILD_RESIDENT_DAYS, queries.PLANNER_DEFAULTS)), ()),
        (";".join((indexed("resident_days"), queries.ANALYZE_RESIDENT_DAYS)), ()),
        (queries.REBUILD_HOLDS, ()),
        (queries.REBUILD_DAY_TOTALS, ()),
        (queries.REBUILD_DAY_ACTIVITY, ()),
        (queries.MARK_ALL_MEMBERS, ()),
        (queries.ANALYZE_SCRATCH, ()),
        (queries.REBUILD_MEMBER_DAYS, ()),
        (";".join((indexed("campaign_days"), queries.ANALYZE_CAMPAIGN_DAYS)), ()),
        (queries.REBUILD_MEMBER_TOTALS, ()),
        (queries.REBUILD_MEMBER_ACTIVITY, ()),
        (indexed("totals_daily", "activity_daily"), ()),
        (queries.EVERY_TEAM, ()),
        (queries.SORTED_SCORES, ()),
        (queries.REBUILD_SCORES, (now,)),
        (";".join((queries.PLANNER_DEFAULTS, queries.HASHED_RULES)), ()),
        (queries.REBUILD_CHALLENGES, (now,)),
        (queries.PLANNER_DEFAULTS, ()),
        (queries.ANALYZE_REBUILT_SCORES, ()),
        (queries.REBUILD_BADGES, (now,)),
        (queries.STANDINGS_DUE, ()),
    ]


async def rescore(
    pool: Pool,
    now: datetime,
    *,
    campaign_id: int | None = None,
    since: date | None = None,
    chunk: int = 20_000,
    parts: int = 2,
    progress: Progress | None = None,
) -> RescoreReport:
    """Recompute after a correction. Without ``campaign_id``: move live actions to the
    factor versions in force, then recompute resident days (from ``since``) and
    every campaign; with it: that campaign's participants only (a rule or
    points correction). Each chunk of residents is scored as a tick is, in
    ``parts`` parts side by side (the pool must hold ``parts`` + 1 connections),
    each one transaction, then folded; it can be stopped and run again."""
    started = time.perf_counter()
    factor_changes: list[RefactorChange] = []
    async with pool.acquire() as conn:
        if campaign_id is None:
            factor_changes = await _move_to_factors_in_force(conn, since)
        before = await _sums(conn, campaign_id)
        snapshot = await conn.fetchval(queries.SNAPSHOT)
        low, high = await conn.fetchrow(queries.RESIDENT_RANGE) or (0, -1)
    days = members = 0
    for start in range(low, high + 1, chunk):
        scored = await _rescore_chunk(pool, now, (start, start + chunk - 1, since, campaign_id), parts)
        days += sum(s[0] for s in scored)
        members += sum(s[1] for s in scored)
        if progress is not None:
            progress(min(start + chunk, high + 1) - low, high + 1 - low)
    async with pool.acquire() as conn:
        if campaign_id is None and since is None:
            # The chunks above read everything done at that snapshot: the tick may start from it.
            await conn.execute(queries.SAVE_WATERMARK, TICK_JOB, snapshot, now)
        # The participants recomputed lost their stored history: the worker stores it again.
        await conn.execute(queries.HISTORY_STALE)
        after = await _sums(conn, campaign_id)
    return _report(factor_changes, days, members, before, after, started)


async def _rescore_chunk(
    pool: Pool, now: datetime, residents: tuple[int, int, date | None, int | None], parts: int
) -> list[tuple[int, int, int]]:
    """One chunk of a rescore (see MARK_RESIDENTS for ``residents``), scored in
    ``parts`` parts side by side and folded, under the scoring lock."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(queries.LOCK, AdvisoryLock.SCORING)
        scored = await _together(*(_rescore_part(pool, now, residents, part, parts) for part in range(parts)))
        await _fold_beside(pool, conn, now, announce=False)
    return scored


async def _rescore_part(
    pool: Pool, now: datetime, residents: tuple[int, int, date | None, int | None], part: int, parts: int
) -> tuple[int, int, int]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(";".join((queries.UNIT_SETTINGS, queries.SCRATCH, queries.NEWS_TABLE)))
        await conn.execute(queries.MARK_RESIDENTS, *residents, parts, part)
        # A correction recomputes history: what it finds met was met long ago, and is not announced.
        return await _score_part(conn, now, announce=False)


async def _move_to_factors_in_force(conn: Connection, since: date | None) -> list[RefactorChange]:
    """Live actions (logged on ``since`` or later) moved to the factor versions in
    force, in a transaction of their own; returns the change per action type."""
    async with conn.transaction():
        return _factor_changes(await conn.fetch(queries.REFACTOR, since, None))


async def _sums(conn: Connection, campaign_id: int | None) -> tuple[float, float]:
    row = await conn.fetchrow(queries.POINTS_AND_KG, campaign_id)
    assert row is not None
    return row["points"], row["kg"]


def _factor_changes(rows: list[Record]) -> list[RefactorChange]:
    return [RefactorChange(r["action_type"], r["actions"], r["delta_kg"]) for r in rows]


def _report(
    factor_changes: list[RefactorChange],
    days: int,
    members: int,
    before: tuple[float, float],
    after: tuple[float, float],
    started: float,
) -> RescoreReport:
    return RescoreReport(
        factor_changes=factor_changes,
        resident_days=days,
        participants=members,
        points_before=before[0],
        points_after=after[0],
        co2e_kg_before=before[1],
        co2e_kg_after=after[1],
        seconds=round(time.perf_counter() - started, 3),
    )
