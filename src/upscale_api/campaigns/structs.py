"""Campaign definitions: the file format of ``campaigns/<city>/<campaign>.toml``.

One file per campaign, with its teams, challenges, badges, baseline questions
and scheduled nudges, reviewed in git like code. The same Structs validate
campaigns sent by coordinators over the API. Unknown keys are errors.

Challenge and badge rules are tagged unions on ``kind``; every number in a rule
is a parameter, nothing is hard-coded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import Category, Code, Localized
from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]

Share = Annotated[float, Meta(gt=0, le=1)]
"""A fraction: 0.5 is half (50%); :mod:`upscale_api.validation` says so when a value is out of range."""
Positive = Annotated[float, Meta(gt=0)]
Count = Annotated[int, Meta(ge=1, le=100_000)]
Tally = Annotated[int, Meta(ge=0)]
AnswerKey = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
"""A baseline question's code, e.g. ``car_km_per_week``; the key of its answer."""
Baseline = Annotated[
    dict[AnswerKey, float],
    Meta(description='An answer to every question of the campaign, by question code, e.g. `{"car_km_per_week": 120}`'),
]
TITLE = Meta(description="The title per language; `sl` and `en` are required")
DESCRIPTION = Meta(description="The description per language; `sl` and `en` are required")


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Counted(_File, kw_only=True):
    """Which actions a rule counts: listed action types, or whole categories (or both)."""

    action_types: Annotated[list[Code], Meta(description="Action types counted (each must count in the campaign)")] = (
        msgspec.field(default_factory=list)
    )
    categories: Annotated[list[Category], Meta(description="Whole categories counted")] = msgspec.field(
        default_factory=list
    )


# --- Challenge rules ----------------------------------------------------------


class QuantityRule(Counted, tag="quantity", tag_field="kind", kw_only=True):
    """Reach ``target`` (in the unit of the counted actions, or kg CO2e with
    ``measure = "co2e_kg"``) within one ``window``: e.g. cycle 50 km in a week."""

    target: Annotated[Positive, Meta(description="The amount to reach within one window")]
    measure: Annotated[
        Literal["quantity", "co2e_kg"], Meta(description="Add up quantities (one unit) or kg CO2e avoided")
    ] = "quantity"
    window: Annotated[
        Literal["day", "week", "campaign"], Meta(description="Reach it within one local day, ISO week or the campaign")
    ] = "campaign"


class DistinctDaysRule(Counted, tag="distinct_days", tag_field="kind", kw_only=True):
    """Log a counted action on at least ``days`` distinct local days of the campaign."""

    days: Annotated[Count, Meta(description="How many distinct local days")]


MemberRule = QuantityRule | DistinctDaysRule


class TeamParticipationRule(_File, tag="team_participation", tag_field="kind", kw_only=True):
    """A team meets it when at least ``share`` of its members meet ``member_rule``."""

    share: Annotated[
        Share, Meta(description="The share of members that must meet the member rule, a fraction: 0.5 is half")
    ]
    member_rule: Annotated[MemberRule, Meta(description="What each member must do")]
    badge_to: Annotated[
        Literal["every_member", "members_meeting_rule"],
        Meta(
            description="Who earns the challenge's badge once the team meets it: every member, or only the members "
            "who met the member rule themselves"
        ),
    ] = "every_member"


class CollectiveRule(Counted, tag="collective", tag_field="kind", kw_only=True):
    """All participants together (of the campaign, or of each city) reach ``target``."""

    target: Annotated[Positive, Meta(description="The amount to reach together")]
    measure: Annotated[
        Literal["quantity", "co2e_kg"], Meta(description="Add up quantities (one unit) or kg CO2e avoided")
    ] = "co2e_kg"
    scope: Annotated[
        Literal["campaign", "city"], Meta(description="All participants together, or those of each city")
    ] = "campaign"


class PersonalRule(Counted, tag="personal", tag_field="kind", kw_only=True):
    """A goal of one's own: each ``window`` replace ``share`` of the answer to
    baseline ``question`` with counted actions (e.g. 20% of one's car km per week)."""

    question: Annotated[AnswerKey, Meta(description="The code of the baseline question the goal is a share of")]
    share: Annotated[Share, Meta(description="The share of the answer to replace, a fraction: 0.2 is 20%")]
    window: Annotated[
        Literal["day", "week", "campaign"], Meta(description="Within each local day, ISO week or the campaign")
    ] = "week"


ChallengeRule = QuantityRule | DistinctDaysRule | TeamParticipationRule | CollectiveRule | PersonalRule


class Challenge(_File, kw_only=True):
    """A challenge of the campaign and the rule that says when it is met."""

    code: Annotated[Code, Meta(description="Unique in the campaign")]
    title: Annotated[Localized, TITLE]
    description: Annotated[Localized, DESCRIPTION]
    rule: Annotated[ChallengeRule, Meta(description="When it is met; `kind` says which rule")]


# --- Badges -------------------------------------------------------------------


class FirstActionBadge(_File, tag="first_action", tag_field="kind", kw_only=True):
    """Earned with the first counted action."""


class StreakBadge(_File, tag="streak", tag_field="kind", kw_only=True):
    """Earned with a streak of ``days`` consecutive active days."""

    days: Annotated[Count, Meta(description="How many consecutive local days")]


class ChallengeMetBadge(_File, tag="challenge_met", tag_field="kind", kw_only=True):
    """Earned by meeting a challenge of the campaign."""

    challenge: Annotated[Code, Meta(description="The challenge's code")]


class ActionsCountBadge(_File, tag="actions_count", tag_field="kind", kw_only=True):
    """Earned with ``actions`` counted actions."""

    actions: Annotated[Count, Meta(description="How many counted actions")]


BadgeRule = FirstActionBadge | StreakBadge | ChallengeMetBadge | ActionsCountBadge


class Badge(_File, kw_only=True):
    """A badge of the campaign and the rule that says when it is earned."""

    code: Annotated[Code, Meta(description="Unique in the campaign")]
    title: Annotated[Localized, TITLE]
    description: Annotated[Localized, DESCRIPTION]
    rule: Annotated[BadgeRule, Meta(description="When it is earned; `kind` says which rule")]


# --- Teams, questions, nudges -----------------------------------------------

TeamKind = Literal["school", "kindergarten", "workplace", "association", "district", "other"]


class Team(_File, kw_only=True):
    """A team residents enrol in."""

    code: Annotated[Code, Meta(description="Unique in the campaign")]
    kind: Annotated[TeamKind, Meta(description="What kind of group it is")]
    name: Annotated[str, Meta(min_length=1, max_length=120, description="Its name, shown on leaderboards")]
    city: Annotated[
        Code | None, Meta(description="For a campaign across cities: the team's city (default: the first city)")
    ] = None
    member_quota: Annotated[
        Annotated[int, Meta(ge=1, le=100_000)] | None,
        Meta(description="At most this many members; participation shares are taken of the members enrolled"),
    ] = None


class Question(_File, kw_only=True):
    """A baseline question asked on enrolment, e.g. car km per week now."""

    code: Annotated[AnswerKey, Meta(description="The key of its answer in `baseline`")]
    text: Annotated[Localized, Meta(description="The question per language; `sl` and `en` are required")]
    unit: Annotated[str, Meta(min_length=1, max_length=20, description="The unit of the answer, e.g. `km`")]
    min: Annotated[float, Meta(description="The least answer accepted")] = 0
    max: Annotated[Positive, Meta(description="The most answer accepted; greater than `min`")]


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Schedule(_File, kw_only=True):
    """Local time in the city's time zone; ``weekday`` omitted = every day."""

    time: Annotated[
        str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local time as HH:MM", examples=["18:00"])
    ]
    weekday: Annotated[Weekday | None, Meta(description="Only on this weekday; null for every day")] = None


class Nudge(_File, kw_only=True):
    """A message sent on a schedule to some participants."""

    code: Annotated[Code, Meta(description="Unique in the campaign")]
    schedule: Annotated[Schedule, Meta(description="When it is sent")]
    audience: Annotated[
        Literal["all", "inactive_this_week", "inactive_today"],
        Meta(description="Every participant, or those without a counted action this week or today"),
    ] = "all"
    title: Annotated[Localized, TITLE]
    body: Annotated[Localized, Meta(description="The text per language; `sl` and `en` are required")]


# --- The campaign ---------------------------------------------------------------


class CampaignAction(_File, kw_only=True):
    """An action type that counts in the campaign, and its points."""

    type: Annotated[Code, Meta(description="The action type's code")]
    points_per_unit: Annotated[float, Meta(ge=0, le=10_000, description="Points per unit of quantity")]
    max_points_per_day: Annotated[
        Positive | None, Meta(description="At most this many points of this type per participant and day")
    ] = None


RankingMeasure = Literal["points_per_member", "points", "co2e_kg", "quantity", "participation"]


class Ranking(_File, kw_only=True):
    """What ranks the campaign's teams, districts and cities (individuals are ranked by points)."""

    measure: Annotated[
        RankingMeasure,
        Meta(
            description="`points_per_member` (a team of 5 can beat a team of 50), `points`, `co2e_kg` avoided, "
            "`quantity` of `action_types` (e.g. km cycled), or `participation` (the share of members with a "
            "counted action)"
        ),
    ] = "points_per_member"
    action_types: Annotated[
        list[Code],
        Meta(description="For `quantity`: the action types added up (one unit; each counts in the campaign)"),
    ] = msgspec.field(default_factory=list)


Enrolment = Literal["open", "invite", "team"]
Lifecycle = Literal["draft", "scheduled", "archived"]
"""What a person sets; ``active`` and ``ended`` follow the clock between the dates."""


class Campaign(_File, kw_only=True):
    """A campaign definition: the format of a campaign file, also sent by coordinators over the API."""

    code: Annotated[Code, Meta(description="Unique; equals the code in the path when sent over the API")]
    cities: Annotated[
        list[Code],
        Meta(min_length=1, description="The first city owns the campaign; more cities compete with each other"),
    ]
    title: Annotated[Localized, TITLE]
    description: Annotated[Localized, DESCRIPTION]
    starts_on: Annotated[date, Meta(description="The first day, in the first city's time zone")]
    ends_on: Annotated[date, Meta(description="The last day (included), in the first city's time zone")]
    status: Annotated[
        Lifecycle,
        Meta(description="`draft` (unseen), `scheduled` (active and ended follow the dates) or `archived`"),
    ] = "scheduled"
    enrolment: Annotated[Enrolment, Meta(description="`open` to all residents, by `invite` code, or by `team`")] = (
        "open"
    )
    invite_code: Annotated[
        Annotated[str, Meta(pattern=r"^[A-Z0-9-]{4,32}$")] | None,
        Meta(description="Required when enrolment is by invite"),
    ] = None
    residents_create_teams: Annotated[bool, Meta(description="Residents may start teams of their own")] = False
    action: Annotated[
        list[CampaignAction], Meta(min_length=1, description="The action types that count, with their points")
    ]
    team: Annotated[list[Team], Meta(description="Teams residents enrol in")] = msgspec.field(default_factory=list)
    question: Annotated[list[Question], Meta(description="Baseline questions asked on enrolment")] = msgspec.field(
        default_factory=list
    )
    challenge: Annotated[list[Challenge], Meta(description="Challenges participants can meet")] = msgspec.field(
        default_factory=list
    )
    badge: Annotated[list[Badge], Meta(description="Badges participants can earn")] = msgspec.field(
        default_factory=list
    )
    nudge: Annotated[list[Nudge], Meta(description="Scheduled messages")] = msgspec.field(default_factory=list)
    ranking: Annotated[
        Ranking, Meta(description="What ranks teams, districts and cities; by default points per member")
    ] = msgspec.field(default_factory=Ranking)


Phase = Literal["draft", "scheduled", "active", "ended", "archived"]
PHASE = Meta(description="scheduled, active and ended follow the clock in the first city's time zone")


class AdminCampaignOut(msgspec.Struct):
    """A campaign as its coordinators see it."""

    code: Annotated[str, Meta(description="The campaign's code")]
    city: Annotated[str, Meta(description="The city that owns it (its first city)")]
    phase: Annotated[Phase, PHASE]
    source: Annotated[
        Literal["file", "api"],
        Meta(description="Campaigns from files are changed in the files; those made over the API, over the API"),
    ]
    enrolled: Annotated[Tally, Meta(description="How many residents are enrolled")]
    definition: Annotated[Campaign, Meta(description="Its definition, as in a campaign file")]


class AdminTeamOut(msgspec.Struct):
    """A team with what its coordinators need to run it."""

    code: Annotated[str, Meta(description="The team's code")]
    name: Annotated[str, Meta(description="Its name")]
    kind: Annotated[str, Meta(description="What kind of group it is")]
    city: Annotated[str, Meta(description="Its city")]
    members: Annotated[Tally, Meta(description="How many are enrolled")]
    member_quota: Annotated[int | None, Meta(description="At most this many members; null: no limit")]
    invite_code: Annotated[str, Meta(description="Share it with the team's members: they enrol with it")]


class DayStats(msgspec.Struct):
    """Participation and savings on one day."""

    day: Annotated[date, Meta(description="The local day")]
    active_residents: Annotated[Tally, Meta(description="Participants with a counted action that day")]
    actions: Annotated[Tally, Meta(description="Counted actions that day")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided that day")]


class WeekStats(msgspec.Struct):
    """Participation and savings in one ISO week."""

    week: Annotated[date, Meta(description="The Monday of the week")]
    active_residents: Annotated[Tally, Meta(description="Participants with a counted action that week")]
    actions: Annotated[Tally, Meta(description="Counted actions that week")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided that week")]


class ActionTypeStats(msgspec.Struct):
    """What one action type added to the campaign."""

    action_type: Annotated[str, Meta(description="The action type's code")]
    actions: Annotated[Tally, Meta(description="Counted actions of it")]
    quantity: Annotated[float, Meta(description="Their total quantity")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e they avoided")]


class RetentionCell(msgspec.Struct):
    """How many of one enrolment cohort were active in one week."""

    cohort: Annotated[date, Meta(description="The Monday of the week its members enrolled")]
    week: Annotated[date, Meta(description="The Monday of the week counted")]
    size: Annotated[Tally, Meta(description="Members of the cohort")]
    active: Annotated[Tally, Meta(description="Members of the cohort with a counted action in that week")]


class TeamStanding(msgspec.Struct):
    """A team's participation."""

    team: Annotated[str, Meta(description="The team's code")]
    name: Annotated[str, Meta(description="Its name")]
    members: Annotated[Tally, Meta(description="How many are enrolled")]
    active_members: Annotated[Tally, Meta(description="Members with a counted action")]
    participation: Annotated[float, Meta(description="active_members / members")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e its members avoided")]


class WeekCategoryStats(msgspec.Struct):
    """kg CO2e avoided in one ISO week by one category of actions."""

    week: Annotated[date, Meta(description="The Monday of the week")]
    category: Annotated[Category, Meta(description="The category of the action types")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided")]


class CampaignStats(msgspec.Struct):
    """A campaign's participation and savings, for its coordinators, as the scoring jobs last
    counted them (seconds old): actions held for review count once accepted."""

    enrolled: Annotated[Tally, Meta(description="Residents enrolled now")]
    left: Annotated[Tally, Meta(description="Residents who left")]
    active_residents: Annotated[Tally, Meta(description="Participants with at least one counted action")]
    by_day: Annotated[list[DayStats], Meta(description="Per local day")]
    by_week: Annotated[list[WeekStats], Meta(description="Per ISO week")]
    by_action_type: Annotated[list[ActionTypeStats], Meta(description="Per action type")]
    retention: Annotated[list[RetentionCell], Meta(description="Weekly activity of each enrolment cohort")]
    teams: Annotated[list[TeamStanding], Meta(description="Ranked by participation share, then kg CO2e")]
    by_week_and_category: Annotated[list[WeekCategoryStats], Meta(description="kg CO2e per ISO week and category")] = (
        msgspec.field(default_factory=list)
    )


class TeamRecognition(msgspec.Struct):
    """One team in one team challenge: whether it is recognised, and how far it is."""

    team: Annotated[str, Meta(description="The team's code")]
    name: Annotated[str, Meta(description="Its name")]
    kind: Annotated[str, Meta(description="What kind of group it is (school, kindergarten, workplace, ...)")]
    city: Annotated[str, Meta(description="Its city")]
    members: Annotated[Tally, Meta(description="Members now")]
    members_meeting_rule: Annotated[Tally, Meta(description="Members who meet the member rule")]
    share: Annotated[float, Meta(ge=0, le=1, description="members_meeting_rule / members, a fraction")]
    met: Annotated[bool, Meta(description="The share reaches the challenge's share: the team is recognised")]
    met_since: Annotated[Moment | None, Meta(description="Since when it is met (null: not met)")]


class ChallengeRecognition(msgspec.Struct):
    """A team challenge and every team of the campaign in it, recognised teams first."""

    challenge: Annotated[str, Meta(description="The challenge's code")]
    title: Annotated[Localized, Meta(description="Its title per language")]
    required_share: Annotated[float, Meta(description="The share of members that must meet the member rule")]
    member_rule: Annotated[MemberRule, Meta(description="What each member must do")]
    badge_to: Annotated[str, Meta(description="Who earns its badge: every_member or members_meeting_rule")]
    teams_met: Annotated[Tally, Meta(description="How many teams meet it")]
    teams: Annotated[list[TeamRecognition], Meta(description="Every team, those meeting it first, by share")]


class RecognitionOut(msgspec.Struct):
    """Which teams and institutions are recognised in each team challenge of a campaign."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    scored_at: Annotated[Moment | None, Meta(description="When the scoring jobs last ran")]
    challenges: Annotated[list[ChallengeRecognition], Meta(description="Each active team challenge")]


class ContestEntry(msgspec.Struct):
    """A city or a team ranked by the campaign's measure."""

    code: Annotated[str, Meta(description="The city's or team's code")]
    name: Annotated[str, Meta(description="Its name")]
    city: Annotated[str | None, Meta(description="A team's city (null for a city)")]
    rank: Annotated[int | None, Meta(description="Rank by the measure; equal values share a rank; null: no members")]
    value: Annotated[float, Meta(description="The measure: what is ranked")]
    points: Annotated[float, Meta(description="Campaign points in all")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided")]
    members: Annotated[Tally, Meta(description="Participants")]
    active_members: Annotated[Tally, Meta(description="Participants with a counted action")]


class GoalProgress(msgspec.Struct):
    """A collective goal for the whole campaign or one of its cities."""

    challenge: Annotated[str, Meta(description="The challenge's code")]
    title: Annotated[Localized, Meta(description="Its title per language")]
    city: Annotated[str | None, Meta(description="The city whose participants it counts; null: everyone")]
    measure: Annotated[str, Meta(description="`co2e_kg` or `quantity` (in the unit of its action types)")]
    value: Annotated[float, Meta(description="Reached so far")]
    target: Annotated[float, Meta(description="The target")]
    met_since: Annotated[Moment | None, Meta(description="Since when it is reached (null: not yet)")]


class ContestOut(msgspec.Struct):
    """A campaign's cities and teams by its ranking measure, and its collective goals."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    measure: Annotated[RankingMeasure, Meta(description="What ranks cities and teams (the campaign's `ranking`)")]
    unit: Annotated[str, Meta(description="The measure's unit, e.g. `km`, `kg CO2e`, `points per member`")]
    computed_at: Annotated[Moment | None, Meta(description="When the standings were computed (null: not yet)")]
    cities: Annotated[list[ContestEntry], Meta(description="The campaign's cities, best first")]
    teams: Annotated[list[ContestEntry], Meta(description="The campaign's teams, best first")]
    goals: Annotated[list[GoalProgress], Meta(description="Collective goals, for everyone or per city")]


class Segment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who gets a broadcast: every participant, one team, or those inactive for some days."""

    team: Annotated[Code | None, Meta(description="Only this team's members")] = None
    inactive_days: Annotated[
        Annotated[int, Meta(ge=1, le=365)] | None,
        Meta(description="Only participants without a counted action for this many days"),
    ] = None


class BroadcastIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A message to some participants of the campaign."""

    title: Annotated[Localized, TITLE]
    body: Annotated[Localized, Meta(description="The text per language; `sl` and `en` are required")]
    segment: Annotated[Segment, Meta(description="Who gets it; every participant by default")] = msgspec.field(
        default_factory=Segment
    )
    send_at: Annotated[
        Moment | None, Meta(description="When to send (quiet hours still apply per resident); default now")
    ] = None
    dry_run: Annotated[bool, Meta(description="Count the recipients and preview the texts; send nothing")] = False


class BroadcastOut(msgspec.Struct):
    """What a broadcast reaches."""

    recipients: Annotated[Tally, Meta(description="How many participants get it")]
    preview: Annotated[
        dict[str, dict[str, str]],
        Meta(description='The title and body each language will see, e.g. `{"sl": {"title": …, "body": …}}`'),
    ]
    scheduled_for: Annotated[datetime, Meta(tz=True, description="When it is sent")]
    dry_run: Annotated[bool, Meta(description="Nothing was sent: a preview")]


# --- Examples in the API document --------------------------------------------------

_TEXT = {"sl": "Kolesarimo v službo in šolo", "en": "Cycle to work and school"}
_CAMPAIGN = example(
    Campaign(
        code="mobility-contest-2027",
        cities=["kranj"],
        title={"sl": "Mobilnostni izziv 2027", "en": "Mobility contest 2027"},
        description=_TEXT,
        starts_on=date(2027, 3, 1),
        ends_on=date(2027, 5, 31),
        enrolment="team",
        action=[CampaignAction(type="cycle-instead-of-car", points_per_unit=10, max_points_per_day=500)],
        team=[Team(code="os-orehek", kind="school", name="OŠ Orehek", member_quota=600)],
        question=[
            Question(
                code="car_km_per_week", text={"sl": "Km z avtom na teden", "en": "Car km per week"}, unit="km", max=2000
            )
        ],
        challenge=[
            Challenge(
                code="week-50",
                title={"sl": "50 km v tednu", "en": "50 km in a week"},
                description=_TEXT,
                rule=QuantityRule(action_types=["cycle-instead-of-car"], target=50, window="week"),
            )
        ],
        badge=[
            Badge(
                code="streak-7",
                title={"sl": "7 dni zapored", "en": "7 days in a row"},
                description=_TEXT,
                rule=StreakBadge(days=7),
            )
        ],
        nudge=[
            Nudge(
                code="friday",
                schedule=Schedule(time="15:00", weekday="friday"),
                audience="inactive_this_week",
                title={"sl": "Še je čas", "en": "There is still time"},
                body={"sl": "Zabeležite vožnjo s kolesom.", "en": "Log a bike ride."},
            )
        ],
    )
)
example(
    AdminCampaignOut(
        code="mobility-contest-2027", city="kranj", phase="active", source="api", enrolled=412, definition=_CAMPAIGN
    )
)
example(AdminTeamOut("os-orehek", "OŠ Orehek", "school", "kranj", 412, 600, "OREHEK-7Q2K"))
example(
    CampaignStats(
        enrolled=412,
        left=9,
        active_residents=305,
        by_day=[DayStats(date(2027, 3, 19), 121, 160, 48.2)],
        by_week=[WeekStats(date(2027, 3, 15), 240, 702, 212.9)],
        by_action_type=[ActionTypeStats("cycle-instead-of-car", 2210, 12840.5, 2208.6)],
        retention=[RetentionCell(date(2027, 3, 1), date(2027, 3, 15), 380, 231)],
        teams=[TeamStanding("os-orehek", "OŠ Orehek", 412, 305, 0.74, 2208.6)],
        by_week_and_category=[WeekCategoryStats(date(2027, 3, 15), "mobility", 212.9)],
    )
)
example(
    RecognitionOut(
        campaign="mobility-contest-2027",
        scored_at=datetime(2027, 4, 2, 7, 15, 5, tzinfo=UTC),
        challenges=[
            ChallengeRecognition(
                challenge="half-the-school",
                title={"sl": "Pol šole trajnostno", "en": "Half the school travels sustainably"},
                required_share=0.5,
                member_rule=DistinctDaysRule(categories=["mobility"], days=15),
                badge_to="every_member",
                teams_met=1,
                teams=[
                    TeamRecognition(
                        "os-orehek",
                        "OŠ Orehek",
                        "school",
                        "kranj",
                        412,
                        230,
                        0.5583,
                        True,
                        datetime(2027, 3, 28, 7, 15, 5, tzinfo=UTC),
                    ),
                    TeamRecognition("vrtec-kranj", "Vrtec Kranj", "kindergarten", "kranj", 40, 12, 0.3, False, None),
                ],
            )
        ],
    )
)
example(
    ContestOut(
        campaign="ljubljana-vs-kranj-2027",
        measure="quantity",
        unit="km",
        computed_at=datetime(2027, 4, 2, 7, 15, 30, tzinfo=UTC),
        cities=[
            ContestEntry("ljubljana", "Ljubljana", None, 1, 18250.5, 182505, 3650.1, 1200, 940),
            ContestEntry("kranj", "Kranj", None, 2, 9120.0, 91200, 1824.0, 410, 352),
        ],
        teams=[],
        goals=[
            GoalProgress(
                "city-10t",
                {"sl": "10 ton na mesto", "en": "10 tonnes per city"},
                "kranj",
                "co2e_kg",
                1824.0,
                10000.0,
                None,
            )
        ],
    )
)
example(
    BroadcastIn(
        title={"sl": "Še en teden", "en": "One more week"},
        body={"sl": "Izziv se končuje, zabeležite vožnje.", "en": "The contest is ending: log your rides."},
        segment=Segment(inactive_days=7),
        dry_run=True,
    )
)
example(
    BroadcastOut(
        recipients=57,
        preview={"sl": {"title": "Še en teden", "body": "Izziv se končuje, zabeležite vožnje."}},
        scheduled_for=datetime(2027, 5, 24, 15, 0, tzinfo=UTC),
        dry_run=True,
    )
)
