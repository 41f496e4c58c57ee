"""Coordinators managing the campaigns of their city (admins: of every city).

A coordinator may manage a campaign when they coordinate its first (owning)
city. Campaigns sent over the API pass the same checks as campaign files and
the same rules once started; a campaign from a file is changed in its file.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime

import msgspec

from upscale_api.campaigns import queries
from upscale_api.campaigns.checks import check_campaign
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.campaigns.structs import (
    AdminCampaignOut,
    AdminTeamOut,
    BroadcastIn,
    BroadcastOut,
    Campaign,
    CampaignStats,
    ChallengeRecognition,
    ContestEntry,
    ContestOut,
    GoalProgress,
    RecognitionOut,
    TeamParticipationRule,
    TeamRecognition,
)
from upscale_api.catalogue.service import Snapshot
from upscale_api.db import AdvisoryLock, Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.i18n import pick
from upscale_api.roles.service import managed_cities
from upscale_api.roles.structs import Grant
from upscale_api.scoring import reads
from upscale_api.validation import FieldError


def _require(grants: list[Grant], *cities: str) -> None:
    """Refuse unless the caller manages every one of ``cities``."""
    managed = managed_cities(grants)
    if managed is None:
        return
    for city in cities:
        if city not in managed:
            raise Problem(403, "forbidden", f"campaign: you do not coordinate {city}")


async def campaign_id(pool: Pool, code: str) -> int | None:
    """The id of the campaign ``code``, None when there is none (for operators' commands)."""
    found: int | None = await pool.fetchval(queries.CAMPAIGN_ID, code)
    return found


async def list_campaigns(pool: Pool, grants: list[Grant]) -> list[AdminCampaignOut]:
    rows = await pool.fetch(queries.ADMIN_LIST, managed_cities(grants))
    return [_out(r, r["enrolled"]) for r in rows]


async def overview(pool: Pool, grants: list[Grant], week_start: date) -> list[tuple[AdminCampaignOut, int]]:
    """The caller's campaigns, each with how many participants were active since ``week_start``."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(queries.ADMIN_LIST, managed_cities(grants))
        active = await reads.active_since(conn, [r["id"] for r in rows], week_start)
    return [(_out(r, r["enrolled"]), active.get(r["id"], 0)) for r in rows]


def _out(row: Record, enrolled: int) -> AdminCampaignOut:
    return AdminCampaignOut(
        code=row["code"],
        city=row["city"],
        phase=row["phase"],
        source=row["source"],
        enrolled=enrolled,
        definition=msgspec.convert(row["definition"], Campaign),
    )


async def _one(conn: Connection, grants: list[Grant], code: str) -> Record:
    row = await conn.fetchrow(queries.ADMIN_ONE, code)
    if row is None:
        raise Problem.field("campaign", f"no campaign {code!r}", status=404, kind="not-found")
    _require(grants, row["city"])
    return row


async def get_campaign(pool: Pool, grants: list[Grant], code: str) -> AdminCampaignOut:
    async with pool.acquire() as conn:
        row = await _one(conn, grants, code)
        enrolled = await conn.fetchval(queries.ENROLLED, row["id"])
    return _out(row, enrolled)


async def put_campaign(
    pool: Pool, snapshot: Snapshot, grants: list[Grant], code: str, campaign: Campaign
) -> tuple[AdminCampaignOut, bool]:
    """Create or replace a campaign made over the API; returns it and whether it is new.

    The caller must coordinate every city the campaign names, and, for a
    campaign that exists, every city stored for it: what decides is the stored
    row, never the body alone. Only an admin moves a campaign to another owning
    city (its first city).
    """
    if campaign.code != code:
        raise Problem.field("code", f"must equal the campaign in the path ({code!r})")
    _require(grants, *campaign.cities)
    units = {t.code: t.unit for t in snapshot.action_types.values()}
    problems = check_campaign(campaign, set(snapshot.cities), units)
    offered = {t.code for c in campaign.cities if c in snapshot.cities for t in snapshot.offered_in(snapshot.cities[c])}
    problems += [
        (f"action[{i}].type", f"{a.type!r} is not offered in every city of the campaign")
        for i, a in enumerate(campaign.action)
        if a.type in units and a.type not in offered
    ]
    if problems:
        raise Problem.invalid([FieldError(field, reason) for field, reason in problems])
    time_zones = {c.code: c.time_zone for c in snapshot.cities.values()}
    async with pool.acquire() as conn, conn.transaction():
        # Two first PUTs of one code wait for each other, so neither can overwrite the other's city.
        await conn.execute(queries.LOCK_CAMPAIGN_CODE, AdvisoryLock.CAMPAIGN_CODE, code)
        stored = await conn.fetchrow(queries.OWNERSHIP, code)
        if stored is not None:
            _require(grants, *stored["cities"])
            if stored["city"] != campaign.cities[0] and managed_cities(grants) is not None:
                raise Problem.field(
                    "cities[0]",
                    f"the campaign belongs to {stored['city']}; only an admin moves it to another city",
                    status=403,
                    kind="forbidden",
                )
        _, refused = await apply_campaigns(conn, [campaign], time_zones, "api", datetime.now(UTC).date())
        if refused:
            errors = [FieldError(field, reason) for _, field, reason in refused]
            raise Problem(409, "rule-violation", "; ".join(f"{e.field}: {e.reason}" for e in errors), errors=errors)
        row = await conn.fetchrow(queries.ADMIN_ONE, code)
    assert row is not None
    return _out(row, 0), stored is None


async def teams(pool: Pool, grants: list[Grant], code: str) -> list[AdminTeamOut]:
    async with pool.acquire() as conn:
        row = await _one(conn, grants, code)
        rows = await conn.fetch(queries.TEAMS, row["id"])
    return [
        AdminTeamOut(r["code"], r["name"], r["kind"], r["city"], r["members"], r["member_quota"], r["invite_code"])
        for r in rows
    ]


async def stats(pool: Pool, grants: list[Grant], code: str) -> CampaignStats:
    """The campaign's participation and savings as the scoring jobs last counted them."""
    async with pool.acquire() as conn:
        row = await _one(conn, grants, code)
        result = await reads.campaign_stats(conn, row["id"])
    return msgspec.convert(dict(result), CampaignStats, strict=False)


async def broadcast(pool: Pool, grants: list[Grant], code: str, data: BroadcastIn, now: datetime) -> BroadcastOut:
    """Send (or with ``dry_run`` only count and preview) a message to a segment of the campaign."""
    send_at = max(data.send_at or now, now)
    async with pool.acquire() as conn, conn.transaction():
        row = await _one(conn, grants, code)
        campaign = msgspec.convert(row["definition"], Campaign)
        errors = [
            FieldError(f"{key}.en", "English is required (the fallback)")
            for key in ("title", "body")
            if "en" not in getattr(data, key)
        ]
        team = data.segment.team
        if (
            team is not None
            and team not in {t.code for t in campaign.team}
            and not await conn.fetchval(queries.TEAM_EXISTS, row["id"], team)
        ):
            errors.append(FieldError("segment.team", f"no team {team!r} in this campaign"))
        if errors:
            raise Problem.invalid(errors)
        recipients = await conn.fetchval(
            queries.BROADCAST,
            row["id"],
            team,
            data.segment.inactive_days,
            data.title,
            data.body,
            send_at,
            uuid.uuid4().hex,
            not data.dry_run,
        )
    languages = sorted(set(data.title) | set(data.body))
    preview = {lang: {"title": pick(data.title, lang), "body": pick(data.body, lang)} for lang in languages}
    return BroadcastOut(recipients=recipients, preview=preview, scheduled_for=send_at, dry_run=data.dry_run)


async def recognition(pool: Pool, grants: list[Grant], code: str) -> RecognitionOut:
    """Each team challenge with every team: members, members meeting the member rule, share, met since."""
    async with pool.acquire() as conn:
        row = await _one(conn, grants, code)
        rows = await reads.team_recognition(conn, row["id"])
        scored_at = (await reads.computed_at(conn, row["id"]))["scored_at"]
    challenges: dict[str, ChallengeRecognition] = {}
    for r in rows:
        found = challenges.get(r["challenge"])
        if found is None:
            rule = msgspec.convert(r["rule"], TeamParticipationRule)
            found = challenges[r["challenge"]] = ChallengeRecognition(
                challenge=r["challenge"],
                title=r["title"],
                required_share=rule.share,
                member_rule=rule.member_rule,
                badge_to=rule.badge_to,
                teams_met=0,
                teams=[],
            )
        met = r["met_at"] is not None
        found.teams_met += met
        found.teams.append(
            TeamRecognition(
                team=r["team"],
                name=r["name"],
                kind=r["kind"],
                city=r["city"],
                members=r["members"],
                members_meeting_rule=r["members_met"],
                share=round(r["share"], 4),
                met=met,
                met_since=r["met_at"],
            )
        )
    return RecognitionOut(campaign=code, scored_at=scored_at, challenges=list(challenges.values()))


def recognition_csv(recognised: RecognitionOut) -> str:
    """One line per challenge and team, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["challenge", "team", "name", "kind", "city", "members", "members_meeting_rule", "share",
         "required_share", "met", "met_since"]
    )  # fmt: skip
    for c in recognised.challenges:
        writer.writerows(
            [c.challenge, t.team, t.name, t.kind, t.city, t.members, t.members_meeting_rule, t.share,
             c.required_share, "yes" if t.met else "no", t.met_since.isoformat() if t.met_since else ""]
            for t in c.teams
        )  # fmt: skip
    return out.getvalue()


async def contest(pool: Pool, snapshot: Snapshot, grants: list[Grant], code: str, language: str) -> ContestOut:
    """The campaign's cities and teams by its ranking measure, and its collective goals."""
    async with pool.acquire() as conn:
        row = await _one(conn, grants, code)
        entries = await reads.contest(conn, row["id"], language)
        goal_rows = await reads.goals(conn, row["id"], language)
        computed_at = (await reads.computed_at(conn, row["id"]))["computed_at"]
    campaign = msgspec.convert(row["definition"], Campaign)
    ranked: dict[str, list[ContestEntry]] = {"city": [], "team": []}
    for e in entries:
        ranked[e["scope"]].append(
            ContestEntry(
                code=e["code"],
                name=e["name"],
                city=e["city"],
                rank=e["rank"],
                value=round(e["value"], 6),
                points=round(e["points"], 6),
                co2e_kg=round(e["co2e_kg"], 6),
                members=e["members"],
                active_members=e["active_members"],
            )
        )
    goals = []
    for g in goal_rows:
        measure = g["rule"].get("measure", "co2e_kg")
        goals.append(
            GoalProgress(
                challenge=g["challenge"],
                title=g["title"],
                city=g["city"],
                measure=measure,
                value=round(g["value"], 6),
                target=g["target"],
                met_since=g["met_at"],
            )
        )
    return ContestOut(
        campaign=code,
        measure=campaign.ranking.measure,
        unit=measure_unit(campaign, snapshot),
        computed_at=computed_at,
        cities=ranked["city"],
        teams=ranked["team"],
        goals=goals,
    )


def measure_unit(campaign: Campaign, snapshot: Snapshot) -> str:
    """The unit of the campaign's ranking measure (for a quantity: its action types' unit)."""
    ranking = campaign.ranking
    if ranking.measure == "quantity":
        units = {snapshot.action_types[t].unit for t in ranking.action_types if t in snapshot.action_types}
        return units.pop() if len(units) == 1 else "quantity"
    return {
        "points": "points",
        "co2e_kg": "kg CO2e",
        "participation": "share of members taking part",
    }.get(ranking.measure, "points per member")


def contest_csv(standing: ContestOut) -> str:
    """One line per city and team, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["scope", "rank", "code", "name", "city", "measure", "value", "unit", "points", "co2e_kg", "members",
         "active_members"]
    )  # fmt: skip
    for scope, entries in (("city", standing.cities), ("team", standing.teams)):
        writer.writerows(
            [scope, e.rank or "", e.code, e.name, e.city or "", standing.measure, e.value, standing.unit, e.points,
             e.co2e_kg, e.members, e.active_members]
            for e in entries
        )  # fmt: skip
    return out.getvalue()
