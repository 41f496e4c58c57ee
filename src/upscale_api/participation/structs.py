"""Campaigns as residents see them: listings, enrolment, progress."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from upscale_api.campaigns.structs import PHASE, Baseline, Enrolment, Moment, Phase, Tally, TeamKind
from upscale_api.openapi import example


class CampaignSummary(msgspec.Struct, kw_only=True):
    """A campaign open to the resident's city, in the resident's language."""

    code: Annotated[str, Meta(description="The campaign's code")]
    title: Annotated[str, Meta(description="Its title")]
    description: Annotated[str, Meta(description="Its description")]
    cities: Annotated[list[str], Meta(description="Its cities; the first owns it")]
    starts_on: Annotated[date, Meta(description="The first day")]
    ends_on: Annotated[date, Meta(description="The last day (included)")]
    phase: Annotated[Phase, PHASE]
    enrolment: Annotated[Enrolment, Meta(description="`open` to all, by `invite` code, or by `team`")]
    enrolled: Annotated[bool, Meta(description="Whether you are enrolled")]
    team: Annotated[str | None, Meta(description="Your team's code when you are enrolled in one")]


class ActionPoints(msgspec.Struct):
    """An action type that counts in the campaign, and its points."""

    action_type: Annotated[str, Meta(description="The action type's code")]
    points_per_unit: Annotated[float, Meta(description="Points per unit of quantity")]
    max_points_per_day: Annotated[float | None, Meta(description="At most this many points of it a day; null: no cap")]


class TeamOut(msgspec.Struct):
    """A team of the campaign."""

    code: Annotated[str, Meta(description="What to send as `team` to enrol in it")]
    name: Annotated[str, Meta(description="Its name")]
    kind: Annotated[TeamKind, Meta(description="What kind of group it is")]
    city: Annotated[str, Meta(description="Its city")]
    members: Annotated[Tally, Meta(description="How many are enrolled")]
    member_quota: Annotated[int | None, Meta(description="At most this many members; null: no limit")]


class QuestionOut(msgspec.Struct):
    """A baseline question to answer when enrolling."""

    code: Annotated[str, Meta(description="The key of its answer in `baseline`")]
    text: Annotated[str, Meta(description="The question")]
    unit: Annotated[str, Meta(description="The unit of the answer")]
    min: Annotated[float, Meta(description="The least answer accepted")]
    max: Annotated[float, Meta(description="The most answer accepted")]


class RuleOut(msgspec.Struct):
    """A challenge or badge of the campaign."""

    code: Annotated[str, Meta(description="Its code")]
    title: Annotated[str, Meta(description="Its title")]
    description: Annotated[str, Meta(description="Its description")]
    kind: Annotated[str, Meta(description="The kind of its rule, e.g. `quantity` or `streak`")]


class CampaignOut(CampaignSummary, kw_only=True):
    """A campaign in full, in the resident's language."""

    actions: Annotated[list[ActionPoints], Meta(description="The action types that count, with their points")]
    teams: Annotated[list[TeamOut], Meta(description="Its teams")]
    questions: Annotated[
        list[QuestionOut],
        Meta(description="Answer these when enrolling; personal goals are derived from the answers"),
    ]
    challenges: Annotated[list[RuleOut], Meta(description="Its challenges")]
    badges: Annotated[list[RuleOut], Meta(description="Its badges")]


class EnrolmentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Enrol in a campaign, or change team and answers."""

    team: Annotated[
        Annotated[str, Meta(min_length=1, max_length=64)] | None,
        Meta(description="A team's code or its invite code; required when the campaign enrols by team"),
    ] = None
    invite_code: Annotated[
        Annotated[str, Meta(min_length=1, max_length=32)] | None,
        Meta(description="Required when the campaign enrols by invitation"),
    ] = None
    baseline: Baseline = msgspec.field(default_factory=dict)


class EnrolmentOut(msgspec.Struct):
    """The resident's enrolment."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    team: Annotated[str | None, Meta(description="The team's code (or invite code) given; null for none")]
    enrolled_at: Annotated[datetime, Meta(tz=True, description="When the resident enrolled")]
    baseline: Annotated[dict[str, float], Meta(description="The answers to the baseline questions")]


class ChallengeProgress(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where the participant stands in one challenge."""

    code: Annotated[str, Meta(description="The challenge's code")]
    title: Annotated[str, Meta(description="Its title")]
    kind: Annotated[str, Meta(description="The kind of its rule")]
    met: Annotated[bool, Meta(description="Whether it is met")]
    progress: Annotated[float, Meta(ge=0, le=1, description="0 to 1")]
    value: Annotated[
        float,
        Meta(description="Where you (or your team, or everyone) stand: a total, a number of days, or a share"),
    ]
    target: Annotated[float, Meta(description="What meets it, in `unit`")]
    unit: Annotated[str, Meta(description="The unit of `value` and `target`")]
    current_window: Annotated[
        float | None, Meta(description="For weekly or daily goals: the total of the current week or day")
    ] = None
    team_members: Annotated[int | None, Meta(description="For team rules: your team's members")] = None
    team_members_met: Annotated[
        int | None, Meta(description="For team rules: how many of them meet the member rule")
    ] = None


class BadgeProgress(msgspec.Struct):
    """A badge and whether the participant earned it."""

    code: Annotated[str, Meta(description="The badge's code")]
    title: Annotated[str, Meta(description="Its title")]
    kind: Annotated[str, Meta(description="The kind of its rule")]
    earned: Annotated[bool, Meta(description="Whether you earned it")]


class CampaignScore(msgspec.Struct):
    """The participant's score in the campaign, as the scoring jobs last computed it."""

    points: Annotated[
        float,
        Meta(description="Points of the campaign's action types, capped per type and day where the campaign says"),
    ]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided by counted actions")]
    actions: Annotated[Tally, Meta(description="How many counted actions")]
    active_days: Annotated[Tally, Meta(description="Local days with a counted action")]
    current_streak_days: Annotated[
        Tally, Meta(description="Consecutive active days ending today or yesterday (your time zone)")
    ]
    longest_streak_days: Annotated[Tally, Meta(description="The longest run of consecutive active days")]
    rank: Annotated[
        int | None, Meta(description="Your individual rank (ties share one); null until the standings include you")
    ]
    ranked: Annotated[int | None, Meta(description="How many participants the standings rank")]
    computed_at: Annotated[
        Moment | None,
        Meta(description="When the scoring jobs last ran; actions since then are not counted yet"),
    ]


class MyCampaignOut(msgspec.Struct):
    """The participant's progress in a campaign."""

    campaign: Annotated[CampaignSummary, Meta(description="The campaign")]
    enrolled_at: Annotated[datetime, Meta(tz=True, description="When you enrolled")]
    baseline: Annotated[dict[str, float], Meta(description="Your answers to its baseline questions")]
    score: Annotated[CampaignScore, Meta(description="Your score")]
    challenges: Annotated[list[ChallengeProgress], Meta(description="Every challenge and where you stand")]
    badges: Annotated[list[BadgeProgress], Meta(description="Every badge and whether you earned it")]


class TeamIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A team a resident starts (where the campaign allows); they join it."""

    name: Annotated[str, Meta(min_length=2, max_length=120, description="The team's name, shown on leaderboards")]
    kind: Annotated[TeamKind, Meta(description="What kind of group it is")] = "other"
    baseline: Baseline = msgspec.field(default_factory=dict)


# --- What coordinators see ------------------------------------------------------


# --- Examples in the API document --------------------------------------------------

_TEXT = {"sl": "Kolesarimo v službo in šolo", "en": "Cycle to work and school"}
_SUMMARY = example(
    CampaignSummary(
        code="mobility-contest-2027",
        title="Mobilnostni izziv 2027",
        description=_TEXT["sl"],
        cities=["kranj"],
        starts_on=date(2027, 3, 1),
        ends_on=date(2027, 5, 31),
        phase="active",
        enrolment="team",
        enrolled=True,
        team="os-orehek",
    )
)
example(
    CampaignOut(
        **msgspec.structs.asdict(_SUMMARY),
        actions=[ActionPoints("cycle-instead-of-car", 10, 500)],
        teams=[TeamOut("os-orehek", "OŠ Orehek", "school", "kranj", 412, 600)],
        questions=[QuestionOut("car_km_per_week", "Km z avtom na teden", "km", 0, 2000)],
        challenges=[RuleOut("week-50", "50 km v tednu", _TEXT["sl"], "quantity")],
        badges=[RuleOut("streak-7", "7 dni zapored", _TEXT["sl"], "streak")],
    )
)
example(EnrolmentIn(team="os-orehek", baseline={"car_km_per_week": 120}))
example(
    EnrolmentOut(
        campaign="mobility-contest-2027",
        team="os-orehek",
        enrolled_at=datetime(2027, 3, 2, 7, 5, tzinfo=UTC),
        baseline={"car_km_per_week": 120},
    )
)
example(TeamIn(name="Kolesarji Planina", kind="association", baseline={"car_km_per_week": 80}))
example(
    MyCampaignOut(
        campaign=_SUMMARY,
        enrolled_at=datetime(2027, 3, 2, 7, 5, tzinfo=UTC),
        baseline={"car_km_per_week": 120},
        score=CampaignScore(
            points=1250,
            co2e_kg=21.5,
            actions=14,
            active_days=9,
            current_streak_days=3,
            longest_streak_days=5,
            rank=37,
            ranked=412,
            computed_at=datetime(2027, 3, 20, 7, 15, 5, tzinfo=UTC),
        ),
        challenges=[
            ChallengeProgress(
                code="week-50",
                title="50 km v tednu",
                kind="quantity",
                met=False,
                progress=0.62,
                value=31,
                target=50,
                unit="km",
                current_window=31,
            )
        ],
        badges=[BadgeProgress("streak-7", "7 dni zapored", "streak", False)],
    )
)
