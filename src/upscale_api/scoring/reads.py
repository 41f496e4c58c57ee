"""A participant's results in a campaign as the scoring jobs last computed them:
what other domains read of scoring, instead of its SQL (leaderboards:
``leaderboard.py``).
"""

from __future__ import annotations

from datetime import date

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
