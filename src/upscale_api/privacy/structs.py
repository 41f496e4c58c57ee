"""A resident's own data as ``GET /v1/me/export`` gives it (GDPR Art. 15 and 20).

The export is streamed, section by section, but it is one JSON document of the
shape :class:`ResidentExport` describes; the OpenAPI document carries that
schema, so another service can read an export with any JSON Schema tooling.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from upscale_api.openapi import example

FORMAT: Final = "upscale-export/1"
"""The export's format and version; a change that breaks readers gets a new number."""

Moment = Annotated[datetime, Meta(tz=True)]


class ExportProfile(msgspec.Struct, kw_only=True):
    """The profile as registered."""

    uid: Annotated[str, Meta(description="Your Firebase user id, the account this export belongs to")]
    city: Annotated[str, Meta(description="The home city's code")]
    district: Annotated[str | None, Meta(description="The district's code; null for none")]
    display_name: Annotated[str | None, Meta(description="Shown on leaderboards; null when anonymous")]
    locale: Annotated[str, Meta(description="The language of texts and messages")]
    time_zone: Annotated[str, Meta(description="IANA time zone that days are counted in")]
    registered_at: Annotated[Moment, Meta(description="When you registered")]
    updated_at: Annotated[Moment, Meta(description="When the profile last changed")]


class ExportRole(msgspec.Struct, kw_only=True):
    """A staff role held by the same account."""

    role: Annotated[str, Meta(description="`coordinator`, `researcher` or `admin`")]
    city: Annotated[str | None, Meta(description="The city coordinated; null for the other roles")]
    granted_at: Annotated[Moment, Meta(description="When it was granted")]


class ExportAction(msgspec.Struct, kw_only=True):
    """One logged action, deleted ones included (with ``deleted_at``)."""

    id: Annotated[UUID, Meta(description="The id the app chose")]
    action_type: Annotated[str, Meta(description="The action type's code")]
    category: Annotated[str, Meta(description="Its category")]
    quantity: Annotated[float, Meta(description="In the unit below")]
    unit: Annotated[str, Meta(description="The action type's unit")]
    performed_at: Annotated[Moment, Meta(description="When it was done")]
    local_date: Annotated[date, Meta(description="The day it counts on, in your time zone")]
    recorded_at: Annotated[Moment, Meta(description="When the service received it")]
    deleted_at: Annotated[Moment | None, Meta(description="When you deleted it; null while it counts")]
    co2e_kg: Annotated[float, Meta(description="The estimate of kg CO2e avoided when it was logged")]
    baseline_factor: Annotated[str, Meta(description="The emission factor it was compared against, `code@version`")]
    option_factor: Annotated[str | None, Meta(description="The emission factor of what you did, `code@version`")]


class ExportEnrolment(msgspec.Struct, kw_only=True):
    """A campaign you joined."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    team: Annotated[str | None, Meta(description="Your team's name; null for none")]
    baseline: Annotated[dict[str, Any], Meta(description="Your answers to the campaign's questions")]
    enrolled_at: Annotated[Moment, Meta(description="When you joined")]
    left_at: Annotated[Moment | None, Meta(description="When you left; null while taking part")]


class ExportTeam(msgspec.Struct, kw_only=True):
    """A team you started."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    code: Annotated[str, Meta(description="The team's code")]
    name: Annotated[str, Meta(description="The team's name")]
    kind: Annotated[str, Meta(description="What kind of group it is")]


class ExportScore(msgspec.Struct, kw_only=True):
    """Your score in a campaign as the scoring jobs last computed it."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    points: Annotated[float, Meta(description="Points")]
    co2e_kg: Annotated[float, Meta(description="kg CO2e avoided that counted for the campaign")]
    actions: Annotated[int, Meta(description="Actions that counted")]
    active_days: Annotated[int, Meta(description="Days with a counted action")]
    longest_streak: Annotated[int, Meta(description="The longest run of consecutive active days")]
    updated_at: Annotated[Moment, Meta(description="When it was computed")]


class ExportBadge(msgspec.Struct, kw_only=True):
    """A badge you earned."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    badge: Annotated[str, Meta(description="The badge's code")]
    earned_at: Annotated[Moment, Meta(description="When you earned it")]


class ExportChallenge(msgspec.Struct, kw_only=True):
    """A challenge you met."""

    campaign: Annotated[str, Meta(description="The campaign's code")]
    challenge: Annotated[str, Meta(description="The challenge's code")]
    met_at: Annotated[Moment, Meta(description="When you met it")]


class ExportHeldEntry(msgspec.Struct, kw_only=True):
    """A day total held out of scores as implausible, and what the city decided."""

    local_date: Annotated[date, Meta(description="The day")]
    action_type: Annotated[str, Meta(description="The action type's code")]
    quantity: Annotated[float, Meta(description="The day's total when it was held")]
    status: Annotated[str, Meta(description="`pending`, `accepted` or `rejected`")]
    note: Annotated[str | None, Meta(description="The coordinator's note on the decision")]
    decided_at: Annotated[Moment | None, Meta(description="When it was decided")]


class ExportDevice(msgspec.Struct, kw_only=True):
    """A device registered for push messages."""

    installation_id: Annotated[str, Meta(description="Its Firebase installation ID")]
    platform: Annotated[str, Meta(description="Its platform")]
    app_version: Annotated[str, Meta(description="The app's version when last refreshed")]
    has_registration_token: Annotated[bool, Meta(description="Whether an FCM registration token is stored")]
    locale: Annotated[str | None, Meta(description="Its language; null to use yours")]
    active: Annotated[bool, Meta(description="False once FCM said it is gone")]
    registered_at: Annotated[Moment, Meta(description="When it was first registered")]
    updated_at: Annotated[Moment, Meta(description="When it was last refreshed")]


class ExportNotificationSettings(msgspec.Struct, kw_only=True):
    """What you chose to get pushed."""

    reminders: Annotated[bool, Meta(description="Reminders to log")]
    campaign_news: Annotated[bool, Meta(description="News of campaigns you take part in")]
    achievements: Annotated[bool, Meta(description="Badges earned and challenges met")]
    weekly_summary: Annotated[bool, Meta(description="The weekly summary")]
    quiet_start: Annotated[str, Meta(description="Quiet hours start (HH:MM, your time)")]
    quiet_end: Annotated[str, Meta(description="Quiet hours end (HH:MM, your time)")]
    daily_cap: Annotated[int, Meta(description="Most pushes a day")]


class ExportNotification(msgspec.Struct, kw_only=True):
    """A message written to you (your inbox and its push)."""

    id: Annotated[int, Meta(description="The message's id")]
    kind: Annotated[str, Meta(description="What it is about")]
    campaign: Annotated[str | None, Meta(description="The campaign it is about; null for none")]
    title: Annotated[str, Meta(description="Its title")]
    body: Annotated[str, Meta(description="Its text")]
    created_at: Annotated[Moment, Meta(description="When it was written")]
    status: Annotated[str, Meta(description="What became of its push")]
    read_at: Annotated[Moment | None, Meta(description="When you read it; null while unread")]


class ExportConsent(msgspec.Struct):
    """One consent decision: a document's version granted or withdrawn."""

    purpose: Annotated[str, Meta(description="What the consent is for: service, research or demographics")]
    version: Annotated[int, Meta(description="The version of the consent document decided on")]
    granted: Annotated[bool, Meta(description="True: granted; false: withdrawn or refused")]
    decided_at: Annotated[Moment, Meta(description="When")]


class ExportDemographics(msgspec.Struct):
    """What you told about yourself under the demographics consent."""

    birth_year: Annotated[int | None, Meta(description="Your year of birth")]
    gender: Annotated[str | None, Meta(description="Your gender as you gave it")]
    updated_at: Annotated[Moment, Meta(description="When you last changed it")]


class ExportSurveyAnswer(msgspec.Struct):
    """Your answers to one wave of a study's survey."""

    study: Annotated[str, Meta(description="The study's code")]
    wave: Annotated[str, Meta(description="The wave (e.g. baseline)")]
    instrument: Annotated[str, Meta(description="The survey instrument's code")]
    version: Annotated[int, Meta(description="The instrument's version you answered")]
    answers: Annotated[dict[str, Any], Meta(description="Your answer to each item, by item code")]
    submitted_at: Annotated[Moment, Meta(description="When")]


class ResidentExport(msgspec.Struct, kw_only=True):
    """Everything the service holds about you, as one JSON document (streamed).

    Each section is a list (empty when there is nothing); ``consents`` and
    ``survey_answers`` hold the research records of studies you take part in.
    """

    format: Annotated[Literal["upscale-export/1"], Meta(description="This format and its version")]
    exported_at: Annotated[Moment, Meta(description="When the export was taken (one consistent snapshot)")]
    profile: Annotated[ExportProfile, Meta(description="Your profile")]
    roles: Annotated[list[ExportRole], Meta(description="Staff roles of the same account")]
    actions: Annotated[list[ExportAction], Meta(description="Every action you logged, oldest first")]
    enrolments: Annotated[list[ExportEnrolment], Meta(description="Campaigns you joined")]
    teams: Annotated[list[ExportTeam], Meta(description="Teams you started")]
    scores: Annotated[list[ExportScore], Meta(description="Your scores per campaign")]
    badges: Annotated[list[ExportBadge], Meta(description="Badges you earned")]
    challenges: Annotated[list[ExportChallenge], Meta(description="Challenges you met")]
    held_entries: Annotated[list[ExportHeldEntry], Meta(description="Day totals held for review")]
    devices: Annotated[list[ExportDevice], Meta(description="Your registered devices")]
    notification_settings: Annotated[
        ExportNotificationSettings | None, Meta(description="Your push preferences; null when never changed")
    ]
    notifications: Annotated[list[ExportNotification], Meta(description="Messages written to you, newest first")]
    consents: Annotated[list[ExportConsent], Meta(description="Every consent decision you made, oldest first")]
    demographics: Annotated[
        ExportDemographics | None, Meta(description="What you told about yourself for research; null when nothing")
    ]
    survey_answers: Annotated[list[ExportSurveyAnswer], Meta(description="Your answers to research surveys")]


_AT = datetime(2026, 11, 25, 7, 40, tzinfo=UTC)

example(
    ResidentExport(
        format=FORMAT,
        exported_at=datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
        profile=ExportProfile(
            uid="firebase-uid",
            city="kranj",
            district="bitnje",
            display_name="Maja",
            locale="sl",
            time_zone="Europe/Ljubljana",
            registered_at=datetime(2026, 11, 1, 9, 12, 3, tzinfo=UTC),
            updated_at=datetime(2026, 11, 1, 9, 12, 3, tzinfo=UTC),
        ),
        roles=[],
        actions=[
            ExportAction(
                id=UUID("6f1c6c58-6a3d-4b8e-9a0c-0b0b5a1b2c3d"),
                action_type="cycle-instead-of-car",
                category="mobility",
                quantity=7.5,
                unit="km",
                performed_at=_AT,
                local_date=date(2026, 11, 25),
                recorded_at=_AT,
                deleted_at=None,
                co2e_kg=1.2,
                baseline_factor="car-petrol-km@1",
                option_factor=None,
            )
        ],
        enrolments=[
            ExportEnrolment(
                campaign="kranj-active-travel",
                team="OŠ Stražišče",
                baseline={"car_km_per_week": 120},
                enrolled_at=_AT,
                left_at=None,
            )
        ],
        teams=[],
        scores=[
            ExportScore(
                campaign="kranj-active-travel",
                points=75.0,
                co2e_kg=1.2,
                actions=1,
                active_days=1,
                longest_streak=1,
                updated_at=_AT,
            )
        ],
        badges=[ExportBadge(campaign="kranj-active-travel", badge="first-ride", earned_at=_AT)],
        challenges=[],
        held_entries=[],
        devices=[],
        notification_settings=None,
        notifications=[],
        consents=[ExportConsent("research", 1, True, _AT)],
        demographics=None,
        survey_answers=[],
    )
)
