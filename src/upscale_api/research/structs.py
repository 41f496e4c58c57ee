"""Research: the file formats of studies and survey instruments, and the API bodies.

``campaigns/<city>/studies/<study>.toml``   a study: its campaigns, arms, survey waves, export rules
``campaigns/surveys/<instrument>.toml``     a survey instrument with every version (``[[version]]``)

Unknown keys are errors. A stored instrument version never changes its items:
a change is a new version, and answers keep the version they answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import Code, Localized
from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]
Tally = Annotated[int, Meta(ge=0)]
ItemCode = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""An item's code: the column name its answers take in exports."""


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


# --- Survey instruments ------------------------------------------------------------


class Option(_File):
    """One answer a choice item offers."""

    code: ItemCode
    text: Localized


class LikertItem(_File, tag="likert", tag_field="kind", kw_only=True):
    """Agreement on a scale of ``points`` (1 = ``low``, ``points`` = ``high``)."""

    code: ItemCode
    text: Localized
    points: Annotated[int, Meta(ge=3, le=11)] = 5
    low: Localized
    high: Localized


class NumberItem(_File, tag="number", tag_field="kind", kw_only=True):
    """A number between ``min`` and ``max`` in ``unit``."""

    code: ItemCode
    text: Localized
    unit: Annotated[str, Meta(min_length=1, max_length=20)]
    min: float = 0
    max: float
    integer: bool = False


class SingleChoiceItem(_File, tag="single", tag_field="kind", kw_only=True):
    """Exactly one of ``options``."""

    code: ItemCode
    text: Localized
    options: Annotated[list[Option], Meta(min_length=2)]


class MultipleChoiceItem(_File, tag="multiple", tag_field="kind", kw_only=True):
    """Any of ``options`` (none included)."""

    code: ItemCode
    text: Localized
    options: Annotated[list[Option], Meta(min_length=2)]


class FreeTextItem(_File, tag="text", tag_field="kind", kw_only=True):
    """Free text: kept out of every export unless the study lists it under ``export.free_text``."""

    code: ItemCode
    text: Localized
    max_length: Annotated[int, Meta(ge=1, le=5000)] = 1000


Item = LikertItem | NumberItem | SingleChoiceItem | MultipleChoiceItem | FreeTextItem


class InstrumentVersion(_File):
    version: Annotated[int, Meta(ge=1)]
    item: Annotated[list[Item], Meta(min_length=1)]
    """Every item is optional to answer: a resident may skip any."""


class SurveyFile(_File):
    """``campaigns/surveys/<code>.toml``."""

    code: Code
    title: Localized
    version: Annotated[list[InstrumentVersion], Meta(min_length=1)]


# --- Studies -----------------------------------------------------------------------


class Arm(_File):
    """A condition participants are randomised to, and what it gets of the campaigns."""

    code: Code
    title: Localized
    ratio: Annotated[int, Meta(ge=1, le=100)] = 1
    """Allocation weight: arms with ratios 1 and 2 get a third and two thirds."""
    control: bool = False
    nudges: list[Code] = msgspec.field(default_factory=list)
    """The campaigns' nudges this arm gets, of those some arm names (those no arm names go to everyone)."""
    challenges: list[Code] = msgspec.field(default_factory=list)
    """The campaigns' challenges this arm sees, of those some arm names."""
    nudge_probability: Annotated[float, Meta(gt=0, le=1)] = 1.0
    """At each decision point of a nudge it names, the chance it is sent (micro-randomisation)."""


class Wave(_File):
    """A survey wave: ``enrolment`` opens at assignment, ``campaign_end`` when the last campaign ends."""

    code: Code
    survey: Code
    opens: Literal["enrolment", "campaign_end"]
    open_days: Annotated[int, Meta(ge=1, le=365)] = 14
    remind_after_days: Annotated[int, Meta(ge=1, le=365)] | None = 3


class ExportRules(_File):
    """What an export of the study may contain and the anonymity it must reach."""

    k: Annotated[int, Meta(ge=3, le=1000)] = 5
    max_suppressed_share: Annotated[float, Meta(ge=0, le=0.5)] = 0.05
    """Participants in groups smaller than k are left out up to this share; past it the export fails."""
    min_cell: Annotated[int, Meta(ge=3, le=1000)] = 10
    """Aggregate cells describing fewer participants are suppressed."""
    district_min_participants: Annotated[int, Meta(ge=1, le=10_000)] = 10
    """Districts with fewer participants are merged into `other`."""
    time_of_day: bool = False
    """Allow the local hour of actions and decisions (off: study day and ISO week only)."""
    quasi_identifiers: list[str] = msgspec.field(default_factory=lambda: ["city", "district", "age_band", "gender"])
    columns: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Whitelisted columns per table; a table not named gets its default columns."""
    free_text: list[ItemCode] = msgspec.field(default_factory=list)
    """Free-text items exported anyway (off by default: free text can name a person)."""


class Study(_File):
    """``campaigns/<city>/studies/<code>.toml``."""

    code: Code
    title: Localized
    description: Localized
    campaigns: Annotated[list[Code], Meta(min_length=1)]
    seed: Annotated[str, Meta(min_length=8, max_length=200)]
    """The recorded random seed: assignments and nudge decisions follow from it."""
    arm: Annotated[list[Arm], Meta(min_length=2)]
    randomisation: Literal["blocks", "simple"] = "blocks"
    block_multiplier: Annotated[int, Meta(ge=1, le=10)] = 2
    """Permuted blocks hold this many times the sum of the ratios."""
    stratify_by: Literal["none", "city", "district"] = "none"
    recruiting: bool = True
    """False: nobody new is assigned (those assigned stay)."""
    wave: list[Wave] = msgspec.field(default_factory=list)
    export: ExportRules = msgspec.field(default_factory=ExportRules)


# --- The resident API: surveys -----------------------------------------------------


class OptionOut(msgspec.Struct):
    """An answer offered."""

    code: Annotated[str, Meta(description="What to send")]
    text: Annotated[str, Meta(description="What to show")]


class ItemOut(msgspec.Struct, kw_only=True):
    """A question of the survey, in your language."""

    code: Annotated[str, Meta(description="The key of its answer in `answers`")]
    kind: Annotated[
        Literal["likert", "number", "single", "multiple", "text"],
        Meta(description="likert: 1..points; number: min..max; single: one option code; multiple: a list; text"),
    ]
    text: Annotated[str, Meta(description="The question")]
    options: Annotated[list[OptionOut], Meta(description="The answers offered (single and multiple choice)")] = []
    points: Annotated[int | None, Meta(description="Likert: the number of points")] = None
    low: Annotated[str | None, Meta(description="Likert: the meaning of 1")] = None
    high: Annotated[str | None, Meta(description="Likert: the meaning of the highest point")] = None
    min: Annotated[float | None, Meta(description="Number: the least answer")] = None
    max: Annotated[float | None, Meta(description="Number: the most answer")] = None
    unit: Annotated[str | None, Meta(description="Number: its unit")] = None
    max_length: Annotated[int | None, Meta(description="Text: the most characters")] = None


class SurveyOut(msgspec.Struct, kw_only=True):
    """An open survey wave of a study you take part in."""

    study: Annotated[str, Meta(description="The study's code")]
    wave: Annotated[str, Meta(description="The wave's code")]
    title: Annotated[str, Meta(description="The survey's title")]
    instrument: Annotated[str, Meta(description="The instrument's code")]
    version: Annotated[int, Meta(description="The instrument version you answer")]
    opened_at: Annotated[Moment, Meta(description="When it opened for you")]
    closes_at: Annotated[Moment, Meta(description="Answers are taken until then")]
    answered_at: Annotated[Moment | None, Meta(description="When you answered; null: not yet")]
    items: Annotated[list[ItemOut], Meta(description="Its questions; every one may be skipped")]


class SurveysOut(msgspec.Struct):
    """Your open survey waves."""

    items: Annotated[list[SurveyOut], Meta(description="Open waves, soonest closing first")]


Answer = int | float | str | list[str]


class AnswersIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Your answers by item code; items left out are skipped. Answering again replaces them."""

    answers: Annotated[
        dict[Annotated[str, Meta(max_length=64)], Answer],
        Meta(
            max_length=200,
            description="Likert: an integer 1..points; number: a number; single: an option code; "
            "multiple: a list of option codes; text: a string",
        ),
    ]


class AnswersOut(msgspec.Struct):
    """Your answers as stored."""

    study: Annotated[str, Meta(description="The study's code")]
    wave: Annotated[str, Meta(description="The wave's code")]
    version: Annotated[int, Meta(description="The instrument version answered")]
    answers: Annotated[dict[str, Any], Meta(description="Your answers by item code")]
    answered_at: Annotated[Moment, Meta(description="When")]


# --- The researcher API ------------------------------------------------------------


class ArmOut(msgspec.Struct):
    """An arm of the study and how many are in it."""

    code: Annotated[str, Meta(description="The arm's code")]
    control: Annotated[bool, Meta(description="The control arm (what non-participants get too)")]
    ratio: Annotated[int, Meta(description="Its allocation weight")]
    assigned: Annotated[
        int | None, Meta(description="Participants assigned to it; null when fewer than the study's min_cell")
    ]


class WaveOut(msgspec.Struct):
    """A survey wave and its response rate."""

    code: Annotated[str, Meta(description="The wave's code")]
    instrument: Annotated[str, Meta(description="The instrument's code")]
    version: Annotated[int, Meta(description="The instrument version in use")]
    opened: Annotated[int | None, Meta(description="Participants it has opened for; null below min_cell")]
    responded: Annotated[int | None, Meta(description="Of those, how many answered; null below min_cell")]
    response_rate: Annotated[float | None, Meta(description="responded / opened; null when either is suppressed")]


class StudySummary(msgspec.Struct, kw_only=True):
    """A study you research."""

    code: Annotated[str, Meta(description="The study's code")]
    title: Annotated[str, Meta(description="Its title")]
    campaigns: Annotated[list[str], Meta(description="Its campaigns")]
    recruiting: Annotated[bool, Meta(description="Whether new participants are assigned")]


class StudyList(msgspec.Struct):
    """The studies you research (admins: all)."""

    items: Annotated[list[StudySummary], Meta(description="Studies, by code")]


class StudyOut(StudySummary, kw_only=True):
    """A study with its rates; counts only, never a person. Counts below min_cell are null."""

    description: Annotated[str, Meta(description="What it studies")]
    randomisation: Annotated[str, Meta(description="`blocks` (permuted blocks) or `simple`")]
    stratify_by: Annotated[str, Meta(description="`none`, `city` or `district`")]
    enrolled: Annotated[int | None, Meta(description="Residents enrolled in its campaigns now")]
    consenting: Annotated[int | None, Meta(description="Of those, how many hold current research consent")]
    consent_rate: Annotated[float | None, Meta(description="consenting / enrolled")]
    assigned: Annotated[int | None, Meta(description="Participants assigned to an arm (ever)")]
    arms: Annotated[list[ArmOut], Meta(description="Its arms")]
    waves: Annotated[list[WaveOut], Meta(description="Its survey waves")]
    export: Annotated[dict[str, Any], Meta(description="Its export rules, as in the study file")]


ExportStatus = Literal["queued", "running", "done", "failed"]


class ExportFileOut(msgspec.Struct):
    """A file of a finished export."""

    name: Annotated[str, Meta(description="The file name; download it under `files/{name}`")]
    bytes: Annotated[int, Meta(description="Its size")]
    sha256: Annotated[str, Meta(description="Its SHA-256, hex")]


class ExportOut(msgspec.Struct, kw_only=True):
    """An export job: its status, progress and, once done, its files."""

    id: Annotated[UUID, Meta(description="The export's id")]
    study: Annotated[str, Meta(description="The study's code")]
    status: Annotated[ExportStatus, Meta(description="queued, running, done or failed")]
    requested_at: Annotated[Moment, Meta(description="When it was asked for")]
    finished_at: Annotated[Moment | None, Meta(description="When it finished (done or failed)")]
    progress: Annotated[dict[str, int], Meta(description="Rows written so far, per table")]
    failure: Annotated[str | None, Meta(description="Why it failed, e.g. the k-anonymity report (counts only)")]
    k_reached: Annotated[int | None, Meta(description="The smallest group on the quasi-identifiers")]
    files: Annotated[list[ExportFileOut], Meta(description="Its files once done")]


class ExportList(msgspec.Struct):
    """The study's exports, newest first: the audit log as the study's researchers see it."""

    items: Annotated[list[ExportOut], Meta(description="Exports, newest first")]


class ExportIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Start an export of the study, with its rules from the study file."""

    note: Annotated[
        Annotated[str, Meta(min_length=1, max_length=500)] | None,
        Meta(description="Why, for the audit log (up to 500 characters)"),
    ] = None


_WHEN = datetime(2027, 4, 2, 9, 15, tzinfo=UTC)
example(
    SurveysOut(
        items=[
            SurveyOut(
                study="kranj-commute-nudges-2027",
                wave="baseline",
                title="Your travel habits",
                instrument="travel-habits",
                version=1,
                opened_at=_WHEN,
                closes_at=datetime(2027, 4, 16, 9, 15, tzinfo=UTC),
                answered_at=None,
                items=[
                    ItemOut(
                        code="car_days_per_week",
                        kind="number",
                        text="On how many days a week do you drive?",
                        min=0,
                        max=7,
                        unit="days",
                    )
                ],
            )
        ]
    )
)
example(AnswersIn(answers={"car_days_per_week": 3, "main_mode": "car", "cycling_is_pleasant": 4}))
example(
    AnswersOut(
        study="kranj-commute-nudges-2027",
        wave="baseline",
        version=1,
        answers={"car_days_per_week": 3, "main_mode": "car", "cycling_is_pleasant": 4},
        answered_at=_WHEN,
    )
)
_SUMMARY = StudySummary(
    code="kranj-commute-nudges-2027",
    title="Social-norm nudges in the Kranj mobility contest",
    campaigns=["mobility-contest-2027"],
    recruiting=True,
)
example(StudyList(items=[_SUMMARY]))
example(
    StudyOut(
        **msgspec.structs.asdict(_SUMMARY),
        description="Do mid-week social-norm reminders raise the days residents travel sustainably?",
        randomisation="blocks",
        stratify_by="district",
        enrolled=812,
        consenting=403,
        consent_rate=0.4963,
        assigned=398,
        arms=[ArmOut("control", True, 1, 200), ArmOut("social-norm", False, 1, 198)],
        waves=[WaveOut("baseline", "travel-habits", 1, 398, 251, 0.6307)],
        export={"k": 5, "min_cell": 10},
    )
)
_EXPORT = ExportOut(
    id=UUID("0b6d7a8e-3f61-4a8e-9a55-2f1f3c9d6e01"),
    study="kranj-commute-nudges-2027",
    status="done",
    requested_at=_WHEN,
    finished_at=datetime(2027, 4, 2, 9, 16, 3, tzinfo=UTC),
    progress={"participants": 391, "actions": 48210},
    failure=None,
    k_reached=6,
    files=[ExportFileOut("actions.parquet", 912044, "9f2c..."), ExportFileOut("datapackage.json", 8120, "1ab4...")],
)
example(_EXPORT)
example(ExportList(items=[_EXPORT]))
example(ExportIn(note="Interim analysis for the April report"))
