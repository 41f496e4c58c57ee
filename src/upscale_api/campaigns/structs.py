"""Campaign definitions: the file format of ``campaigns/<city>/<campaign>.toml``.

One file per campaign, with its teams, challenges, badges, baseline questions
and scheduled nudges, reviewed in git like code. The same Structs validate
campaigns sent by coordinators over the API. Unknown keys are errors.

Challenge and badge rules are tagged unions on ``kind``; every number in a rule
is a parameter, nothing is hard-coded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from upscale_api.definitions.structs import Category, Code, Localized

Share = Annotated[float, msgspec.Meta(gt=0, le=1)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
AnswerKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
"""A baseline question's code, e.g. ``car_km_per_week``; the key of its answer."""


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Counted(_File, kw_only=True):
    """Which actions a rule counts: listed action types, or whole categories (or both)."""

    action_types: list[Code] = msgspec.field(default_factory=list)
    categories: list[Category] = msgspec.field(default_factory=list)


# --- Challenge rules ----------------------------------------------------------


class QuantityRule(Counted, tag="quantity", tag_field="kind", kw_only=True):
    """Reach ``target`` (in the unit of the counted actions, or kg CO2e with
    ``measure = "co2e_kg"``) within one ``window``: e.g. cycle 50 km in a week."""

    target: Positive
    measure: Literal["quantity", "co2e_kg"] = "quantity"
    window: Literal["day", "week", "campaign"] = "campaign"


class DistinctDaysRule(Counted, tag="distinct_days", tag_field="kind", kw_only=True):
    """Log a counted action on at least ``days`` distinct local days of the campaign."""

    days: Count


MemberRule = QuantityRule | DistinctDaysRule


class TeamParticipationRule(_File, tag="team_participation", tag_field="kind", kw_only=True):
    """A team meets it when at least ``share`` of its members meet ``member_rule``."""

    share: Share
    member_rule: MemberRule


class CollectiveRule(Counted, tag="collective", tag_field="kind", kw_only=True):
    """All participants together (of the campaign, or of each city) reach ``target``."""

    target: Positive
    measure: Literal["quantity", "co2e_kg"] = "co2e_kg"
    scope: Literal["campaign", "city"] = "campaign"


class PersonalRule(Counted, tag="personal", tag_field="kind", kw_only=True):
    """A goal of one's own: each ``window`` replace ``share`` of the answer to
    baseline ``question`` with counted actions (e.g. 20% of one's car km per week)."""

    question: AnswerKey
    share: Share
    window: Literal["day", "week", "campaign"] = "week"


ChallengeRule = QuantityRule | DistinctDaysRule | TeamParticipationRule | CollectiveRule | PersonalRule


class Challenge(_File, kw_only=True):
    code: Code
    title: Localized
    description: Localized
    rule: ChallengeRule


# --- Badges -------------------------------------------------------------------


class FirstActionBadge(_File, tag="first_action", tag_field="kind", kw_only=True):
    pass


class StreakBadge(_File, tag="streak", tag_field="kind", kw_only=True):
    days: Count


class ChallengeMetBadge(_File, tag="challenge_met", tag_field="kind", kw_only=True):
    challenge: Code


class ActionsCountBadge(_File, tag="actions_count", tag_field="kind", kw_only=True):
    actions: Count


BadgeRule = FirstActionBadge | StreakBadge | ChallengeMetBadge | ActionsCountBadge


class Badge(_File, kw_only=True):
    code: Code
    title: Localized
    description: Localized
    rule: BadgeRule


# --- Teams, questions, nudges -----------------------------------------------

TeamKind = Literal["school", "kindergarten", "workplace", "association", "district", "other"]


class Team(_File, kw_only=True):
    code: Code
    kind: TeamKind
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    city: Code | None = None
    """For a campaign across cities: the team's city (default: the first city)."""
    member_quota: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    """At most this many members; participation shares are taken of the members enrolled."""


class Question(_File, kw_only=True):
    """A baseline question asked on enrolment, e.g. car km per week now."""

    code: AnswerKey
    text: Localized
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    min: float = 0
    max: Positive


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Schedule(_File, kw_only=True):
    """Local time in the city's time zone; ``weekday`` omitted = every day."""

    time: Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    weekday: Weekday | None = None


class Nudge(_File, kw_only=True):
    code: Code
    schedule: Schedule
    audience: Literal["all", "inactive_this_week", "inactive_today"] = "all"
    title: Localized
    body: Localized


# --- The campaign ---------------------------------------------------------------


class CampaignAction(_File, kw_only=True):
    """An action type that counts in the campaign, and its points."""

    type: Code
    points_per_unit: Annotated[float, msgspec.Meta(ge=0, le=10_000)]
    max_points_per_day: Positive | None = None


Enrolment = Literal["open", "invite", "team"]
Lifecycle = Literal["draft", "scheduled", "archived"]
"""What a person sets; ``active`` and ``ended`` follow the clock between the dates."""


class Campaign(_File, kw_only=True):
    code: Code
    cities: Annotated[list[Code], msgspec.Meta(min_length=1)]
    """The first city owns the campaign; more cities compete with each other."""
    title: Localized
    description: Localized
    starts_on: date
    ends_on: date
    """Inclusive, in the first city's time zone."""
    status: Lifecycle = "scheduled"
    enrolment: Enrolment = "open"
    invite_code: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9-]{4,32}$")] | None = None
    residents_create_teams: bool = False
    action: Annotated[list[CampaignAction], msgspec.Meta(min_length=1)]
    team: list[Team] = msgspec.field(default_factory=list)
    question: list[Question] = msgspec.field(default_factory=list)
    challenge: list[Challenge] = msgspec.field(default_factory=list)
    badge: list[Badge] = msgspec.field(default_factory=list)
    nudge: list[Nudge] = msgspec.field(default_factory=list)


# --- What residents send and see -------------------------------------------------

Phase = Literal["draft", "scheduled", "active", "ended", "archived"]


class CampaignSummary(msgspec.Struct, kw_only=True):
    code: str
    title: str
    description: str
    cities: list[str]
    starts_on: date
    ends_on: date
    phase: Phase
    """scheduled, active and ended follow the clock in the first city's time zone."""
    enrolment: Enrolment
    enrolled: bool
    team: str | None
    """Your team's code when you are enrolled in one."""


class ActionPoints(msgspec.Struct):
    action_type: str
    points_per_unit: float
    max_points_per_day: float | None


class TeamOut(msgspec.Struct):
    code: str
    name: str
    kind: TeamKind
    city: str
    members: int
    member_quota: int | None


class QuestionOut(msgspec.Struct):
    code: str
    text: str
    unit: str
    min: float
    max: float


class RuleOut(msgspec.Struct):
    code: str
    title: str
    description: str
    kind: str


class CampaignOut(CampaignSummary, kw_only=True):
    actions: list[ActionPoints]
    teams: list[TeamOut]
    questions: list[QuestionOut]
    """Answer these when enrolling; personal goals are derived from the answers."""
    challenges: list[RuleOut]
    badges: list[RuleOut]


class EnrolmentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    team: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """A team's code or its invite code; required when the campaign enrols by team."""
    invite_code: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] | None = None
    """Required when the campaign enrols by invitation."""
    baseline: dict[AnswerKey, float] = msgspec.field(default_factory=dict)
    """Answers to the campaign's questions, e.g. ``{"car_km_per_week": 120}``."""


class EnrolmentOut(msgspec.Struct):
    campaign: str
    team: str | None
    enrolled_at: datetime
    baseline: dict[str, float]


class ChallengeProgress(msgspec.Struct, kw_only=True, omit_defaults=True):
    code: str
    title: str
    kind: str
    met: bool
    progress: float
    """0 to 1."""
    value: float
    """Where you (or your team, or everyone) stand: a total, a number of days, or a share of members."""
    target: float
    unit: str
    current_window: float | None = None
    """For weekly or daily goals: the total of the current week or day."""
    team_members: int | None = None
    team_members_met: int | None = None


class BadgeProgress(msgspec.Struct):
    code: str
    title: str
    kind: str
    earned: bool


class CampaignScore(msgspec.Struct):
    points: float
    """Points of the campaign's action types, capped per type and day where the campaign says."""
    co2e_kg: float
    actions: int
    active_days: int
    current_streak_days: int
    """Consecutive active days ending today or yesterday (your time zone)."""
    longest_streak_days: int
    rank: int | None
    """Your individual rank (ties share one); none until the standings include you."""
    ranked: int | None
    """How many participants the standings rank."""
    computed_at: datetime | None
    """When the scoring jobs last ran; actions since then are not counted yet."""


class MyCampaignOut(msgspec.Struct):
    campaign: CampaignSummary
    enrolled_at: datetime
    baseline: dict[str, float]
    score: CampaignScore
    challenges: list[ChallengeProgress]
    badges: list[BadgeProgress]


class TeamIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A team a resident starts (where the campaign allows); they join it."""

    name: Annotated[str, msgspec.Meta(min_length=2, max_length=120)]
    kind: TeamKind = "other"
    baseline: dict[AnswerKey, float] = msgspec.field(default_factory=dict)
    """Answers to the campaign's questions, as when enrolling."""


# --- What coordinators see ------------------------------------------------------


class AdminCampaignOut(msgspec.Struct):
    code: str
    city: str
    phase: Phase
    source: Literal["file", "api"]
    """Campaigns from files are changed in the files; those made over the API, over the API."""
    enrolled: int
    definition: Campaign


class AdminTeamOut(msgspec.Struct):
    code: str
    name: str
    kind: str
    city: str
    members: int
    member_quota: int | None
    invite_code: str
    """Share it with the team's members: they enrol with it."""


class DayStats(msgspec.Struct):
    day: date
    active_residents: int
    actions: int
    co2e_kg: float


class WeekStats(msgspec.Struct):
    week: date
    """The Monday of the week."""
    active_residents: int
    actions: int
    co2e_kg: float


class ActionTypeStats(msgspec.Struct):
    action_type: str
    actions: int
    quantity: float
    co2e_kg: float


class RetentionCell(msgspec.Struct):
    cohort: date
    """The Monday of the week its members enrolled."""
    week: date
    size: int
    active: int
    """Members of the cohort with a counted action in that week."""


class TeamStanding(msgspec.Struct):
    team: str
    name: str
    members: int
    active_members: int
    participation: float
    """active_members / members."""
    co2e_kg: float


class CampaignStats(msgspec.Struct):
    enrolled: int
    left: int
    active_residents: int
    by_day: list[DayStats]
    by_week: list[WeekStats]
    by_action_type: list[ActionTypeStats]
    retention: list[RetentionCell]
    teams: list[TeamStanding]
    """Ranked by participation share, then kg CO2e."""


class Segment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who gets a broadcast: every participant, one team, or those inactive for some days."""

    team: Code | None = None
    inactive_days: Annotated[int, msgspec.Meta(ge=1, le=365)] | None = None


class BroadcastIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Localized
    body: Localized
    segment: Segment = msgspec.field(default_factory=Segment)
    send_at: datetime | None = None
    """When to send (quiet hours still apply per resident); default now."""
    dry_run: bool = False
    """Count the recipients and preview the texts; send nothing."""


class BroadcastOut(msgspec.Struct):
    recipients: int
    preview: dict[str, dict[str, str]]
    """The title and body each language will see, e.g. ``{"sl": {"title": ..., "body": ...}}``."""
    scheduled_for: datetime
    dry_run: bool
