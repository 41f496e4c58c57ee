"""Residents taking part: seeing campaigns, enrolling, leaving, progress, standings.

An action counts for a campaign when it is live, not held for review, of an
action type the campaign counts (and the challenge's rule names), on a local
day inside the campaign's days and not before the day the resident enrolled.
Progress and standings are read from what the scoring jobs computed
(``upscale_api.scoring``); nothing is recomputed per request.
"""

from __future__ import annotations

import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from upscale_api.campaigns.structs import (
    Campaign,
    CollectiveRule,
    DistinctDaysRule,
    PersonalRule,
    QuantityRule,
    TeamParticipationRule,
)
from upscale_api.catalogue.service import Snapshot
from upscale_api.db import Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.i18n import pick
from upscale_api.participation import queries
from upscale_api.participation.structs import (
    ActionPoints,
    BadgeProgress,
    CampaignOut,
    CampaignScore,
    CampaignSummary,
    ChallengeProgress,
    EnrolmentIn,
    EnrolmentOut,
    MyCampaignOut,
    QuestionOut,
    RuleOut,
    TeamIn,
    TeamOut,
)
from upscale_api.research import service as research
from upscale_api.residents import service as residents
from upscale_api.residents.service import not_registered
from upscale_api.scoring import reads as scoring_reads
from upscale_api.scoring.leaderboard import leaderboard as scoring_leaderboard
from upscale_api.scoring.structs import SCOPES, LeaderboardOut
from upscale_api.validation import FieldError


@dataclass(frozen=True)
class _Visible:
    row: Record
    definition: Campaign


async def _resident(conn: Connection, uid: str) -> Record:
    resident = await residents.find(conn, uid)
    if resident is None:
        raise not_registered()
    return resident


async def _visible(conn: Connection, resident: Record) -> list[_Visible]:
    rows = await conn.fetch(queries.VISIBLE, resident["city_id"], resident["id"])
    return [_Visible(r, msgspec.convert(r["definition"], Campaign)) for r in rows]


def _find(visible: list[_Visible], code: str) -> _Visible:
    for v in visible:
        if v.row["code"] == code:
            return v
    raise Problem.field(
        "campaign", f"no campaign {code!r} open to residents of your city", status=404, kind="not-found"
    )


def _summary(v: _Visible, language: str) -> CampaignSummary:
    c, row = v.definition, v.row
    return CampaignSummary(
        code=c.code,
        title=pick(c.title, language),
        description=pick(c.description, language),
        cities=c.cities,
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        phase=row["phase"],
        enrolment=c.enrolment,
        enrolled=row["enrolled_at"] is not None and row["left_at"] is None,
        team=row["team"] if row["left_at"] is None else None,
    )


async def list_campaigns(pool: Pool, uid: str) -> list[CampaignSummary]:
    """Campaigns of the resident's city, in the resident's language."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        return [_summary(v, resident["locale"]) for v in await _visible(conn, resident)]


async def campaign(pool: Pool, uid: str, code: str) -> CampaignOut:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        v = _find(await _visible(conn, resident), code)
        teams = await conn.fetch(queries.TEAMS, v.row["id"])
        hidden = await research.hidden_challenges(conn, v.row["id"], resident["id"])
    language = resident["locale"]
    c = v.definition
    summary = msgspec.structs.asdict(_summary(v, language))
    return CampaignOut(
        **summary,
        actions=[ActionPoints(a.type, a.points_per_unit, a.max_points_per_day) for a in c.action],
        teams=[TeamOut(t["code"], t["name"], t["kind"], t["city"], t["members"], t["member_quota"]) for t in teams],
        questions=[QuestionOut(q.code, pick(q.text, language), q.unit, q.min, q.max) for q in c.question],
        challenges=[
            RuleOut(x.code, pick(x.title, language), pick(x.description, language), _kind(x.rule))
            for x in c.challenge
            if x.code not in hidden
        ],
        badges=[
            RuleOut(x.code, pick(x.title, language), pick(x.description, language), _kind(x.rule)) for x in c.badge
        ],
    )


def _kind(rule: Any) -> str:
    return str(rule.__struct_config__.tag)


async def enrol(pool: Pool, uid: str, code: str, data: EnrolmentIn) -> tuple[EnrolmentOut, bool]:
    """Enrol (or change team and answers); returns whether this is a new enrolment."""
    async with pool.acquire() as conn, conn.transaction():
        resident = await _resident(conn, uid)
        return await _enrol(conn, resident, _find(await _visible(conn, resident), code), data)


async def start_team(pool: Pool, uid: str, code: str, data: TeamIn) -> EnrolmentOut:
    """Start a team (where the campaign lets residents) and join it."""
    async with pool.acquire() as conn, conn.transaction():
        resident = await _resident(conn, uid)
        v = _find(await _visible(conn, resident), code)
        if not v.definition.residents_create_teams:
            raise Problem.field(
                "campaign", f"teams of {code} are set up by its coordinators", status=403, kind="forbidden"
            )
        _check_open(v)
        team_code = f"r{resident['id']}-{secrets.token_hex(3)}"
        await conn.execute(
            queries.CREATE_TEAM,
            v.row["id"],
            resident["city_id"],
            team_code,
            data.kind,
            data.name.strip(),
            resident["id"],
        )
        enrolment, _ = await _enrol(conn, resident, v, EnrolmentIn(team=team_code, baseline=data.baseline))
    return enrolment


def _check_open(v: _Visible) -> None:
    if v.row["phase"] not in ("scheduled", "active"):
        phase = v.row["phase"]
        raise Problem.field(
            "campaign", f"{v.row['code']} has {phase}; enrolment is closed", status=409, kind="rule-violation"
        )


async def _enrol(conn: Connection, resident: Record, v: _Visible, data: EnrolmentIn) -> tuple[EnrolmentOut, bool]:
    c = v.definition
    _check_open(v)
    errors = []
    if c.enrolment == "invite" and (data.invite_code or "").upper() != (c.invite_code or "").upper():
        errors.append(FieldError("invite_code", "does not match the campaign's invite code"))
    if c.enrolment == "team" and data.team is None:
        errors.append(FieldError("team", "this campaign enrols by team: give a team's code or invite code"))
    questions = {q.code: q for q in c.question}
    errors += [
        FieldError(f"baseline.{k}", "not a question of this campaign") for k in data.baseline if k not in questions
    ]
    for q in c.question:
        answer = data.baseline.get(q.code)
        if answer is None:
            errors.append(FieldError(f"baseline.{q.code}", f"required: {pick(q.text, 'en')}"))
        elif not q.min <= answer <= q.max:
            errors.append(FieldError(f"baseline.{q.code}", f"must be between {q.min:g} and {q.max:g} {q.unit}"))
    team_id = None
    if data.team is not None and not errors:
        team = await conn.fetchrow(queries.TEAM_FOR_ENROLMENT, v.row["id"], data.team, resident["id"])
        if team is None:
            errors.append(FieldError("team", f"no team {data.team!r} in this campaign"))
        elif team["member_quota"] is not None and team["members"] >= team["member_quota"]:
            errors.append(FieldError("team", f"the team is full ({team['member_quota']} members)"))
        else:
            team_id = team["id"]
    if errors:
        raise Problem.invalid(errors)
    created = v.row["enrolled_at"] is None or v.row["left_at"] is not None
    enrolled_at = await conn.fetchval(
        queries.ENROL, v.row["id"], resident["id"], resident["city_id"], team_id, data.baseline
    )
    # A study of the campaign takes the resident in now, if research consent came first.
    await research.assign(conn, resident["id"], datetime.now(UTC))
    out = EnrolmentOut(campaign=c.code, team=data.team, enrolled_at=enrolled_at, baseline=data.baseline)
    return out, created


async def leaderboard(pool: Pool, uid: str, code: str, scope: str, limit: int) -> LeaderboardOut:
    """A campaign's standings as the scoring jobs last computed them, for anyone who can see the campaign."""
    if scope not in SCOPES:
        raise Problem.invalid([FieldError("scope", f"must be one of {', '.join(SCOPES)}")])
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        v = _find(await _visible(conn, resident), code)
        return await scoring_leaderboard(conn, v.row["id"], code, scope, resident["id"], limit, resident["locale"])


async def leave(pool: Pool, uid: str, code: str) -> None:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        v = _find(await _visible(conn, resident), code)
        await conn.execute(queries.LEAVE, v.row["id"], resident["id"])


# --- Progress ---------------------------------------------------------------------


async def my_campaign(pool: Pool, snapshot: Snapshot, uid: str, code: str, now: datetime) -> MyCampaignOut:
    """The participant's score, rank, challenges and badges as the scoring jobs last computed them."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        language = resident["locale"]
        v = _find(await _visible(conn, resident), code)
        campaign_id = v.row["id"]
        enrolment = await conn.fetchrow(queries.ENROLMENT, campaign_id, resident["id"])
        if enrolment is None:
            raise Problem.field("campaign", f"you are not enrolled in {code}", status=404, kind="not-found")
        today = now.astimezone(zoneinfo.ZoneInfo(resident["time_zone"])).date()
        score = await scoring_reads.campaign_score(conn, campaign_id, resident["id"])
        standing = await scoring_reads.challenges_by_code(conn, campaign_id, resident["id"], today)
        earned = await scoring_reads.badges_earned(conn, campaign_id, resident["id"])
        hidden = await research.hidden_challenges(conn, campaign_id, resident["id"])
    c = v.definition
    challenges = [
        _challenge(x.code, pick(x.title, language), x.rule, standing.get(x.code), snapshot)
        for x in c.challenge
        if x.code not in hidden
    ]
    badges = [BadgeProgress(b.code, pick(b.title, language), _kind(b.rule), b.code in earned) for b in c.badge]
    return MyCampaignOut(
        campaign=_summary(v, language),
        enrolled_at=enrolment["enrolled_at"],
        baseline=enrolment["baseline"],
        score=_score(score, today),
        challenges=challenges,
        badges=badges,
    )


def _score(row: Record | None, today: date) -> CampaignScore:
    if row is None:  # enrolled since the last scoring run
        return CampaignScore(0.0, 0.0, 0, 0, 0, 0, None, None, None)
    current = row["last_run_days"] if row["last_run_end"] and row["last_run_end"] >= today - timedelta(days=1) else 0
    return CampaignScore(
        points=round(float(row["points"]), 6),
        co2e_kg=round(float(row["co2e_kg"]), 6),
        actions=row["actions"],
        active_days=row["active_days"],
        current_streak_days=current,
        longest_streak_days=row["longest_streak"],
        rank=row["rank"],
        ranked=row["ranked"],
        computed_at=row["scored_at"],
    )


def _unit(rule: Any, snapshot: Snapshot) -> str:
    if isinstance(rule, DistinctDaysRule):
        return "days"
    if getattr(rule, "measure", "quantity") == "co2e_kg":
        return "kg CO2e"
    t = snapshot.action_types.get(rule.action_types[0]) if rule.action_types else None
    return t.unit if t else ""


def _challenge(code: str, title: str, rule: Any, row: Record | None, snapshot: Snapshot) -> ChallengeProgress:
    def number(key: str) -> float:
        return float(row[key]) if row is not None and row[key] is not None else 0.0

    def met(key: str) -> bool:
        return row is not None and row[key] is not None

    if isinstance(rule, TeamParticipationRule):
        result = _progress(code, title, rule, number("share"), rule.share, "share of members", met("team_met_at"))
        result.team_members = int(number("members"))
        result.team_members_met = int(number("members_met"))
        return result
    if isinstance(rule, CollectiveRule):
        return _progress(
            code, title, rule, number("goal_value"), rule.target, _unit(rule, snapshot), met("goal_met_at")
        )
    target = number("target")
    if isinstance(rule, QuantityRule):
        target = rule.target
    elif isinstance(rule, DistinctDaysRule):
        target = float(rule.days)
    windowed = isinstance(rule, QuantityRule | PersonalRule) and rule.window != "campaign"
    # A personal goal is about the current week or day; other goals show the best window.
    value = number("window_value") if isinstance(rule, PersonalRule) and windowed else number("value")
    return _progress(
        code,
        title,
        rule,
        value,
        target,
        _unit(rule, snapshot),
        met("met_at"),
        current_window=number("window_value") if windowed else None,
    )


def _progress(
    code: str,
    title: str,
    rule: Any,
    value: float,
    target: float,
    unit: str,
    met: bool,
    current_window: float | None = None,
) -> ChallengeProgress:
    return ChallengeProgress(
        code=code,
        title=title,
        kind=_kind(rule),
        met=met,
        progress=round(min(1.0, value / target), 4) if target > 0 else 0.0,
        value=round(value, 6),
        target=round(target, 6),
        unit=unit,
        current_window=round(current_window, 6) if current_window is not None else None,
    )
