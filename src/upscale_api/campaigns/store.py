"""Storing campaign definitions (from files or the coordinator API).

Applying is idempotent and set-based: one statement per table for all the
campaigns given. A campaign that has started may only change in ways that do
not rewrite what residents already earned (:func:`started_changes`).
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import msgspec

from upscale_api.campaigns.structs import Campaign
from upscale_api.db import Connection, rows_affected

Source = Literal["file", "api"]

# table -> the columns a definition sets, besides campaign_id and code
_CHILDREN: dict[str, tuple[str, ...]] = {
    "challenges": ("title", "description", "rule"),
    "badges": ("title", "description", "rule"),
    "nudges": ("schedule", "audience", "title", "body"),
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
    stored = {
        r["code"]: r
        for r in await conn.fetch(
            "SELECT code, source, definition FROM campaigns WHERE code = ANY($1::text[])", [c.code for c in campaigns]
        )
    }
    problems = []
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
            """
            INSERT INTO campaigns
                (code, city_id, title, description, starts_on, ends_on, starts_at, ends_at, status, enrolment,
                 invite_code, residents_create_teams, questions, definition, source)
            SELECT n.code, c.id, n.title, n.description, n.starts_on, n.ends_on, n.starts_at, n.ends_at, n.status,
                   n.enrolment, n.invite_code, n.residents_create_teams, n.question, n.definition, $2
            FROM jsonb_to_recordset($1::jsonb) AS n(
                code text, city text, title jsonb, description jsonb, starts_on date, ends_on date,
                starts_at timestamptz, ends_at timestamptz, status text, enrolment text, invite_code text,
                residents_create_teams boolean, question jsonb, definition jsonb)
            JOIN cities c ON c.code = n.city
            ON CONFLICT (code) DO UPDATE SET
                city_id = excluded.city_id, title = excluded.title, description = excluded.description,
                starts_on = excluded.starts_on,
                ends_on = excluded.ends_on, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
                status = excluded.status, enrolment = excluded.enrolment, invite_code = excluded.invite_code,
                residents_create_teams = excluded.residents_create_teams, questions = excluded.questions,
                definition = excluded.definition, updated_at = now()
            WHERE campaigns.definition IS DISTINCT FROM excluded.definition
            """,
            rows,
            source,
        )
    )
    codes = [c.code for c in campaigns]
    await conn.execute(
        """
        WITH wanted AS (
            SELECT k.id AS campaign_id, c.id AS city_id
            FROM jsonb_to_recordset($1::jsonb) AS n(code text, cities jsonb)
            JOIN campaigns k ON k.code = n.code
            CROSS JOIN LATERAL jsonb_array_elements_text(n.cities) AS x(city)
            JOIN cities c ON c.code = x.city
        ), removed AS (
            DELETE FROM campaign_cities cc
            USING campaigns k
            WHERE k.id = cc.campaign_id AND k.code = ANY($2::text[])
              AND (cc.campaign_id, cc.city_id) NOT IN (SELECT campaign_id, city_id FROM wanted)
        )
        INSERT INTO campaign_cities SELECT campaign_id, city_id FROM wanted ON CONFLICT DO NOTHING
        """,
        rows,
        codes,
    )
    await conn.execute(
        """
        WITH wanted AS (
            SELECT k.id AS campaign_id, t.id AS action_type_id, a.points_per_unit, a.max_points_per_day
            FROM jsonb_to_recordset($1::jsonb) AS n(code text, action jsonb)
            JOIN campaigns k ON k.code = n.code
            CROSS JOIN LATERAL jsonb_to_recordset(n.action)
                AS a(type text, points_per_unit float8, max_points_per_day float8)
            JOIN action_types t ON t.code = a.type
        ), removed AS (
            DELETE FROM campaign_action_types x
            USING campaigns k
            WHERE k.id = x.campaign_id AND k.code = ANY($2::text[])
              AND (x.campaign_id, x.action_type_id) NOT IN (SELECT campaign_id, action_type_id FROM wanted)
        )
        INSERT INTO campaign_action_types SELECT * FROM wanted
        ON CONFLICT (campaign_id, action_type_id) DO UPDATE SET
            points_per_unit = excluded.points_per_unit, max_points_per_day = excluded.max_points_per_day
        """,
        rows,
        codes,
    )
    counts.teams_changed = rows_affected(
        await conn.execute(
            """
            INSERT INTO teams (campaign_id, city_id, code, kind, name, member_quota)
            SELECT k.id, c.id, t.code, t.kind, t.name, t.member_quota
            FROM jsonb_to_recordset($1::jsonb) AS n(code text, city text, team jsonb)
            JOIN campaigns k ON k.code = n.code
            CROSS JOIN LATERAL jsonb_to_recordset(n.team)
                AS t(code text, kind text, name text, city text, member_quota int)
            JOIN cities c ON c.code = coalesce(t.city, n.city)
            ON CONFLICT (campaign_id, code) DO UPDATE SET
                city_id = excluded.city_id, kind = excluded.kind, name = excluded.name,
                member_quota = excluded.member_quota, active = true
            WHERE (teams.city_id, teams.kind, teams.name, teams.member_quota, teams.active)
                IS DISTINCT FROM (excluded.city_id, excluded.kind, excluded.name, excluded.member_quota, true)
            """,
            rows,
        )
    )
    await conn.execute(
        """
        UPDATE teams t SET active = false
        FROM campaigns k
        WHERE k.id = t.campaign_id AND k.code = ANY($2::text[]) AND t.active AND t.created_by IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, team jsonb)
              CROSS JOIN LATERAL jsonb_to_recordset(n.team) AS x(code text)
              WHERE n.code = k.code AND x.code = t.code)
        """,
        rows,
        codes,
    )
    for table, columns in _CHILDREN.items():
        changed = await _sync_children(conn, table, columns, rows, codes)
        setattr(counts, f"{table}_changed", changed)
    return counts, []


async def _sync_children(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[dict[str, Any]], codes: list[str]
) -> int:
    """Upsert the campaigns' challenges, badges or nudges; retire those no longer defined.

    ``table`` and ``columns`` come from :data:`_CHILDREN`, never from input.
    """
    key = table.removesuffix("s")  # the file's array name: challenge, badge, nudge
    typed = ", ".join(f"{c} {'text' if c == 'audience' else 'jsonb'}" for c in columns)
    listed = ", ".join(columns)
    assigned = ", ".join(f"{c} = excluded.{c}" for c in columns)
    current = ", ".join(f"{table}.{c}" for c in columns)
    incoming = ", ".join(f"excluded.{c}" for c in columns)
    changed = rows_affected(
        await conn.execute(
            f"""
            INSERT INTO {table} (campaign_id, code, {listed})
            SELECT k.id, x.code, {", ".join(f"x.{c}" for c in columns)}
            FROM jsonb_to_recordset($1::jsonb) AS n(code text, {key} jsonb)
            JOIN campaigns k ON k.code = n.code
            CROSS JOIN LATERAL jsonb_to_recordset(n.{key}) AS x(code text, {typed})
            ON CONFLICT (campaign_id, code) DO UPDATE SET {assigned}, active = true
            WHERE ({current}, {table}.active) IS DISTINCT FROM ({incoming}, true)
            """,  # noqa: S608 (identifiers from _CHILDREN; values are parameters)
            rows,
        )
    )
    await conn.execute(
        f"""
        UPDATE {table} x SET active = false
        FROM campaigns k
        WHERE k.id = x.campaign_id AND k.code = ANY($2::text[]) AND x.active
          AND NOT EXISTS (
              SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS n(code text, {key} jsonb)
              CROSS JOIN LATERAL jsonb_to_recordset(n.{key}) AS y(code text)
              WHERE n.code = k.code AND y.code = x.code)
        """,  # noqa: S608 (identifiers from _CHILDREN; values are parameters)
        rows,
        codes,
    )
    return changed
