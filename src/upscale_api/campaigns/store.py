"""Storing campaign definitions (from files or the coordinator API).

Applying is idempotent and set-based: one statement per table for all the
campaigns given. A campaign that has started may only change in ways that do
not rewrite what residents already earned (:func:`started_changes`).
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Literal

import msgspec

from upscale_api.campaigns import queries
from upscale_api.campaigns.structs import Campaign
from upscale_api.db import Connection, rows_affected
from upscale_api.scoring import service as scoring

Source = Literal["file", "api"]

# The statements that store each kind of child entry of a campaign, and retire those no longer defined.
_CHILDREN = {
    "challenges": (queries.UPSERT_CHALLENGES, queries.RETIRE_CHALLENGES),
    "badges": (queries.UPSERT_BADGES, queries.RETIRE_BADGES),
    "nudges": (queries.UPSERT_NUDGES, queries.RETIRE_NUDGES),
}


class CampaignCounts(msgspec.Struct):
    campaigns_changed: int = 0
    teams_changed: int = 0
    challenges_changed: int = 0
    badges_changed: int = 0
    nudges_changed: int = 0


def boundaries(campaign: Campaign, zone: str) -> tuple[datetime, datetime]:
    """``starts_on`` 00:00 and the day after ``ends_on`` 00:00 in ``zone``."""
    tz = zoneinfo.ZoneInfo(zone)
    start = datetime.combine(campaign.starts_on, time(), tz)
    end = datetime.combine(campaign.ends_on + timedelta(days=1), time(), tz)
    return start, end


def started_changes(old: Campaign, new: Campaign, today: date) -> list[tuple[str, str]]:
    """What ``new`` would rewrite of ``old`` once it started, as (field, reason).

    Allowed after the start: texts, nudges, enrolment settings, a later end,
    new action types, teams, challenges, badges and questions, archiving.
    Not allowed: another start, an earlier end, other cities, other points or
    per-day caps for an action type, removing an action type, team, challenge
    or badge, or changing a challenge's or badge's rule.
    """
    if old.starts_on > today:
        return []
    problems = []
    if new.starts_on != old.starts_on:
        problems.append(("starts_on", "the campaign has started; its start cannot move"))
    if new.ends_on < old.ends_on:
        problems.append(("ends_on", "the campaign has started; it can be extended, not shortened"))
    if new.cities != old.cities:
        problems.append(("cities", "the campaign has started; its cities cannot change"))
    actions = {a.type: a for a in new.action}
    for a in old.action:
        if a.type not in actions:
            problems.append(("action", f"{a.type} counts already and cannot be removed"))
        elif (actions[a.type].points_per_unit, actions[a.type].max_points_per_day) != (
            a.points_per_unit,
            a.max_points_per_day,
        ):
            problems.append(("action", f"points for {a.type} were earned already and cannot change"))
    for kind in ("team", "challenge", "badge"):
        now = {x.code: x for x in getattr(new, kind)}
        for x in getattr(old, kind):
            if x.code not in now:
                problems.append((kind, f"{x.code} exists already and cannot be removed"))
            elif kind != "team" and now[x.code].rule != x.rule:
                problems.append((kind, f"the rule of {x.code} cannot change after the start"))
    return problems


async def apply_campaigns(
    conn: Connection, campaigns: list[Campaign], time_zones: dict[str, str], source: Source, today: date
) -> tuple[CampaignCounts, list[tuple[str, str, str]]]:
    """Store ``campaigns`` inside the caller's transaction; ``time_zones`` maps city codes to zones.

    Returns the counts of changed rows and the problems (campaign code, field,
    reason) that stopped it; when there are problems nothing was written.
    """
    stored = {r["code"]: r for r in await conn.fetch(queries.STORED_DEFINITIONS, [c.code for c in campaigns])}
    problems = []
    reranked: list[str] = []
    for campaign in campaigns:
        row = stored.get(campaign.code)
        if row is None:
            continue
        if row["source"] != source:
            problems.append(
                (campaign.code, "code", f"a campaign with this code was created through the {row['source']}")
            )
            continue
        old = msgspec.convert(row["definition"], Campaign)
        problems += [(campaign.code, f, r) for f, r in started_changes(old, campaign, today)]
        if old.ranking != campaign.ranking:
            reranked.append(campaign.code)
    if problems or not campaigns:
        return CampaignCounts(), problems

    rows = []
    for c in campaigns:
        starts_at, ends_at = boundaries(c, time_zones[c.cities[0]])
        rows.append(
            msgspec.to_builtins(c)
            | {
                "city": c.cities[0],
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "definition": msgspec.to_builtins(c),
            }
        )
    counts = CampaignCounts()
    counts.campaigns_changed = rows_affected(
        await conn.execute(
            queries.UPSERT_CAMPAIGNS,
            rows,
            source,
        )
    )
    codes = [c.code for c in campaigns]
    await scoring.ranking_changed(conn, reranked)
    await conn.execute(
        queries.SYNC_CAMPAIGN_CITIES,
        rows,
        codes,
    )
    await conn.execute(
        queries.SYNC_CAMPAIGN_ACTION_TYPES,
        rows,
        codes,
    )
    counts.teams_changed = rows_affected(
        await conn.execute(
            queries.UPSERT_TEAMS,
            rows,
        )
    )
    await conn.execute(
        queries.RETIRE_TEAMS,
        rows,
        codes,
    )
    for table, (upsert, retire) in _CHILDREN.items():
        setattr(counts, f"{table}_changed", rows_affected(await conn.execute(upsert, rows)))
        await conn.execute(retire, rows, codes)
    return counts, []
