"""Residents taking part: seeing campaigns, enrolling, leaving, and progress.

An action counts for a campaign when it is live, of an action type the campaign
counts (and the challenge's rule names), on a local day inside the campaign's
days and not before the day the resident enrolled. Progress is computed from
the action log on request; the scheduled scoring jobs will store it.
"""

from __future__ import annotations

import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from upscale_api.campaigns import queries
from upscale_api.campaigns.structs import (
    ActionPoints,
    ActionsCountBadge,
    BadgeProgress,
    Campaign,
    CampaignOut,
    CampaignSummary,
    ChallengeProgress,
    CollectiveRule,
    Counted,
    DistinctDaysRule,
    EnrolmentIn,
    EnrolmentOut,
    FirstActionBadge,
    MemberRule,
    MyCampaignOut,
    PersonalRule,
    QuantityRule,
    QuestionOut,
    RuleOut,
    StreakBadge,
    TeamIn,
    TeamOut,
    TeamParticipationRule,
)
from upscale_api.catalogue.service import Snapshot
from upscale_api.db import Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.i18n import pick
from upscale_api.residents.service import not_registered
from upscale_api.validation import FieldError


@dataclass(frozen=True)
class _Visible:
    row: Record
    definition: Campaign


async def _resident(conn: Connection, uid: str) -> Record:
    resident = await conn.fetchrow(queries.RESIDENT, uid)
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
    language = resident["locale"]
    c = v.definition
    summary = msgspec.structs.asdict(_summary(v, language))
    return CampaignOut(
        **summary,
        actions=[ActionPoints(a.type, a.points_per_unit, a.max_points_per_day) for a in c.action],
        teams=[TeamOut(t["code"], t["name"], t["kind"], t["city"], t["members"], t["member_quota"]) for t in teams],
        questions=[QuestionOut(q.code, pick(q.text, language), q.unit, q.min, q.max) for q in c.question],
        challenges=[
            RuleOut(x.code, pick(x.title, language), pick(x.description, language), _kind(x.rule)) for x in c.challenge
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
    out = EnrolmentOut(campaign=c.code, team=data.team, enrolled_at=enrolled_at, baseline=data.baseline)
    return out, created


async def leave(pool: Pool, uid: str, code: str) -> None:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        v = _find(await _visible(conn, resident), code)
        await conn.execute(queries.LEAVE, v.row["id"], resident["id"])


# --- Progress ---------------------------------------------------------------------


async def my_campaign(pool: Pool, snapshot: Snapshot, uid: str, code: str, now: datetime) -> MyCampaignOut:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        language = resident["locale"]
        v = _find(await _visible(conn, resident), code)
        enrolment = await conn.fetchrow(queries.ENROLMENT, v.row["id"], resident["id"])
        if enrolment is None:
            raise Problem.field("campaign", f"you are not enrolled in {code}", status=404, kind="not-found")
        today = now.astimezone(zoneinfo.ZoneInfo(resident["time_zone"])).date()
        progress = _Progress(conn, snapshot, v, enrolment, today)
        challenges = [await progress.of(ch.code, pick(ch.title, language), ch.rule) for ch in v.definition.challenge]
        badges = await progress.badges(challenges, language)
    return MyCampaignOut(
        campaign=_summary(v, language),
        enrolled_at=enrolment["enrolled_at"],
        baseline=enrolment["baseline"],
        challenges=challenges,
        badges=badges,
    )


@dataclass
class _Progress:
    conn: Connection
    snapshot: Snapshot
    campaign: _Visible
    enrolment: Record
    today: date

    def _counted(self, rule: Counted, residents: list[int] | None, city_id: int | None) -> list[Any]:
        c = self.campaign.definition
        return [self.campaign.row["id"], residents, rule.action_types, rule.categories, city_id, c.starts_on, c.ends_on]

    def _unit(self, rule: Counted, measure: str) -> str:
        if measure == "co2e_kg":
            return "kg CO2e"
        t = self.snapshot.action_types.get(rule.action_types[0]) if rule.action_types else None
        return t.unit if t else ""

    async def _windows(
        self, rule: QuantityRule | PersonalRule, residents: list[int], measure: str
    ) -> dict[int, Record]:
        rows = await self.conn.fetch(
            queries.BEST_WINDOW, *self._counted(rule, residents, None), rule.window, self.today, measure
        )
        return {r["resident_id"]: r for r in rows}

    async def _member_values(self, rule: MemberRule, residents: list[int]) -> dict[int, float]:
        if isinstance(rule, DistinctDaysRule):
            rows = await self.conn.fetch(queries.DISTINCT_DAYS, *self._counted(rule, residents, None))
            return {r["resident_id"]: float(r["days"]) for r in rows}
        return {k: float(r["best"]) for k, r in (await self._windows(rule, residents, rule.measure)).items()}

    async def badges(self, challenges: list[ChallengeProgress], language: str) -> list[BadgeProgress]:
        everything = Counted(action_types=[a.type for a in self.campaign.definition.action])
        row = await self.conn.fetchrow(
            queries.ACTIVITY, *self._counted(everything, [self.enrolment["resident_id"]], None)
        )
        assert row is not None
        met = {c.code for c in challenges if c.met}
        result = []
        for badge in self.campaign.definition.badge:
            rule = badge.rule
            if isinstance(rule, FirstActionBadge):
                earned = row["actions"] >= 1
            elif isinstance(rule, ActionsCountBadge):
                earned = row["actions"] >= rule.actions
            elif isinstance(rule, StreakBadge):
                earned = row["longest_streak"] >= rule.days
            else:
                earned = rule.challenge in met
            result.append(BadgeProgress(badge.code, pick(badge.title, language), _kind(rule), earned))
        return result

    async def of(self, code: str, title: str, rule: Any) -> ChallengeProgress:
        me = self.enrolment["resident_id"]
        if isinstance(rule, QuantityRule):
            row = (await self._windows(rule, [me], rule.measure)).get(me)
            value = float(row["best"]) if row else 0.0
            current = float(row["current"]) if row else 0.0
            return _progress(
                code,
                title,
                rule,
                value,
                rule.target,
                self._unit(rule, rule.measure),
                current_window=current if rule.window != "campaign" else None,
            )
        if isinstance(rule, DistinctDaysRule):
            days = (await self._member_values(rule, [me])).get(me, 0.0)
            return _progress(code, title, rule, days, rule.days, "days")
        if isinstance(rule, CollectiveRule):
            city_id = self.enrolment["city_id"] if rule.scope == "city" else None
            total = await self.conn.fetchval(queries.TOTAL, *self._counted(rule, None, city_id), rule.measure)
            return _progress(code, title, rule, float(total), rule.target, self._unit(rule, rule.measure))
        if isinstance(rule, PersonalRule):
            answer = float(self.enrolment["baseline"].get(rule.question, 0.0))
            target = round(answer * rule.share, 6)
            row = (await self._windows(rule, [me], "quantity")).get(me)
            current = float(row["current"]) if row else 0.0
            value = current if rule.window != "campaign" else (float(row["best"]) if row else 0.0)
            return _progress(
                code,
                title,
                rule,
                value,
                target,
                self._unit(rule, "quantity"),
                current_window=current if rule.window != "campaign" else None,
            )
        assert isinstance(rule, TeamParticipationRule)
        team_id = self.enrolment["team_id"]
        members = [r["resident_id"] for r in await self.conn.fetch(queries.TEAM_MEMBERS, team_id)] if team_id else []
        target = rule.member_rule.days if isinstance(rule.member_rule, DistinctDaysRule) else rule.member_rule.target
        values = await self._member_values(rule.member_rule, members) if members else {}
        meeting = sum(1 for m in members if values.get(m, 0.0) >= target)
        share = meeting / len(members) if members else 0.0
        result = _progress(code, title, rule, share, rule.share, "share of members")
        result.team_members, result.team_members_met = len(members), meeting
        return result


def _progress(
    code: str, title: str, rule: Any, value: float, target: float, unit: str, current_window: float | None = None
) -> ChallengeProgress:
    met = target > 0 and value >= target - 1e-9
    return ChallengeProgress(
        code=code,
        title=title,
        kind=_kind(rule),
        met=met,
        progress=round(min(1.0, value / target), 4) if target > 0 else 0.0,
        value=round(value, 6),
        target=target,
        unit=unit,
        current_window=round(current_window, 6) if current_window is not None else None,
    )
