"""A participant's results in a campaign as the scoring jobs last computed them:
what other domains read of scoring, instead of its SQL (leaderboards:
``leaderboard.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from upscale_api.db import Connection, Record
from upscale_api.scoring import queries


async def campaign_score(conn: Connection, campaign_id: int, resident_id: int) -> Record | None:
    """The resident's score in the campaign (points, co2e_kg, actions, active_days,
    longest_streak, last_run_end, last_run_days), their individual ``rank`` among
    ``ranked`` entries (none before the first standings), and when the scoring
    jobs last ran (``scored_at``); None when not scored yet."""
    return await conn.fetchrow(queries.MY_SCORE, campaign_id, resident_id)


async def challenges_by_code(conn: Connection, campaign_id: int, resident_id: int, today: date) -> dict[str, Record]:
    """Every active challenge of the campaign by code, as the resident stands in it
    (``today``: their local date): their best window's ``value`` and ``target``,
    the current window's total (``window_value``), ``met_at``, their team's
    ``members``, ``members_met``, ``share`` and ``team_met_at``, and their
    scope's collective ``goal_value`` and ``goal_met_at``."""
    rows = await conn.fetch(queries.MY_CHALLENGES, campaign_id, resident_id, today)
    return {row["code"]: row for row in rows}


async def badges_earned(conn: Connection, campaign_id: int, resident_id: int) -> set[str]:
    """The codes of the campaign's badges the resident earned."""
    return {row["code"] for row in await conn.fetch(queries.MY_BADGES, campaign_id, resident_id)}


async def earned_points(conn: Connection, resident_id: int) -> dict[int, Decimal]:
    """The points the resident earned, by the id of the city they were earned in (each
    campaign day counts in the city the resident logged it in). Points move with the
    scoring jobs: a deleted action, a rejected day, leaving a campaign or a rescore lowers them."""
    return {row["city_id"]: row["points"] for row in await conn.fetch(queries.EARNED_POINTS, resident_id)}


async def earned_days(
    conn: Connection, resident_id: int, city_id: int, after: tuple[date, int] | None, limit: int
) -> list[Record]:
    """The resident's points in the city per campaign and local day (``local_date``,
    ``campaign_id``, ``campaign`` code, ``title`` per language, ``points``), newest
    first, after the position ``after`` (local date, campaign id) when given."""
    before_date, before_campaign = after if after is not None else (None, None)
    return await conn.fetch(queries.EARNED_DAYS, resident_id, city_id, before_date, before_campaign, limit)


async def scored_at(conn: Connection) -> datetime | None:
    """When the scoring jobs last ran; None before their first run."""
    ran_at: datetime | None = await conn.fetchval(queries.SCORED_AT)
    return ran_at


async def resident_results(conn: Connection, resident_id: int) -> tuple[list[Record], list[Record], list[Record]]:
    """The resident's scores (campaign, points, co2e_kg, actions, active_days, longest_streak,
    updated_at), badges (campaign, badge, earned_at) and challenges met (campaign,
    challenge, met_at) in every campaign: what their own export lists."""
    scores = await conn.fetch(queries.RESIDENT_SCORES, resident_id)
    badges = await conn.fetch(queries.RESIDENT_BADGES, resident_id)
    challenges = await conn.fetch(queries.RESIDENT_CHALLENGES_MET, resident_id)
    return scores, badges, challenges


async def city_weeks(conn: Connection, city_id: int, first: date, last: date) -> list[Record]:
    """The city's counted resident days from ``first`` to ``last`` by ISO ``week`` (its Monday),
    ``district_id`` and ``category``, and summed over either or both (``all_districts``,
    ``all_categories``): ``participants`` (distinct residents), ``actions``, ``co2e_kg``."""
    return await conn.fetch(queries.CITY_WEEKS, city_id, first, last)


async def city_campaign_weeks(conn: Connection, city_id: int, first: date, last: date) -> list[Record]:
    """What counted for each ``campaign`` (code) among the city's residents from ``first`` to
    ``last`` by ISO ``week`` and ``category`` (None: all), with ``participants``, ``actions``,
    ``co2e_kg`` and ``matching``: the participants whose figures equal their figures in the
    city's same week and category (see CITY_CAMPAIGN_WEEKS)."""
    return await conn.fetch(queries.CITY_CAMPAIGN_WEEKS, city_id, first, last)


# --- What coordinators read --------------------------------------------------------


async def team_recognition(conn: Connection, campaign_id: int) -> list[Record]:
    """Each active team in each active team-participation challenge of the campaign: ``challenge``,
    its ``title`` and ``rule`` (jsonb), ``team``, ``name``, ``kind``, ``city``, ``members``,
    ``members_met``, ``share``, ``met_at`` (None: not met), and the team's ``rank`` and ``score`` by the
    campaign's ranking measure (None before the first standings). By challenge, met teams first."""
    return await conn.fetch(queries.TEAM_RECOGNITION, campaign_id)


async def contest(conn: Connection, campaign_id: int, language: str) -> list[Record]:
    """The campaign's cities and teams (``scope``) by its ranking measure: ``code``, ``name``,
    ``city`` (a team's), ``rank`` (None without participants), ``value`` (the measure),
    ``points``, ``co2e_kg``, ``members``, ``active_members``; best first."""
    return await conn.fetch(queries.CONTEST, campaign_id, language)


async def goals(conn: Connection, campaign_id: int, language: str) -> list[Record]:
    """The campaign's collective goals per scope: ``challenge``, ``title``, ``rule``, ``city`` (None:
    the whole campaign), ``city_name``, ``value``, ``target``, ``met_at``, ``computed_at``."""
    return await conn.fetch(queries.GOALS, campaign_id, language)


async def computed_at(conn: Connection, campaign_id: int) -> Record:
    """When the campaign's standings were computed (``computed_at``) and scoring last ran (``scored_at``)."""
    row = await conn.fetchrow(queries.STANDINGS_AT, campaign_id)
    assert row is not None
    return row


async def active_since(conn: Connection, campaign_ids: list[int], since: date) -> dict[int, int]:
    """Participants of each campaign with a counted action on a local day from ``since`` on (absent: none)."""
    rows = await conn.fetch(queries.ACTIVE_SINCE, campaign_ids, since)
    return {row["campaign_id"]: row["active"] for row in rows}


async def campaign_stats(conn: Connection, campaign_id: int) -> Record:
    """What coordinators watch of a campaign, as the scoring jobs last counted it: ``enrolled``,
    ``left``, ``active_residents``, and as jsonb ``by_day``, ``by_week``, ``by_action_type``,
    ``by_week_and_category``, ``retention`` (cohort, week, size, active) and ``teams``."""
    row = await conn.fetchrow(queries.CAMPAIGN_STATS, campaign_id)
    assert row is not None
    return row
