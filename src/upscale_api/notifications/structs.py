"""Devices, notification preferences and the in-app inbox, as the app sees them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]

Platform = Literal["android", "ios", "web"]
Kind = Literal["reminder", "campaign_news", "achievement", "weekly_summary", "broadcast"]
LocalTime = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["21:00"])]
DAILY_CAP = Meta(ge=0, le=20)


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Register or refresh this device; the path names its Firebase installation ID."""

    platform: Annotated[Platform, Meta(description="The device's platform")]
    app_version: Annotated[str, Meta(min_length=1, max_length=40, description="The app's version, e.g. `1.4.2`")]
    registration_token: Annotated[
        Annotated[str, Meta(min_length=1, max_length=4096)] | None,
        Meta(description="The FCM registration token, for app versions that cannot be addressed by installation ID"),
    ] = None
    locale: Annotated[
        Annotated[str, Meta(pattern=r"^[a-z]{2}$")] | None,
        Meta(description="The device's language (ISO 639-1), e.g. `sl`; null to use the resident's"),
    ] = None


class DeviceOut(msgspec.Struct):
    """A device that receives the resident's push messages."""

    installation_id: Annotated[str, Meta(description="Its Firebase installation ID")]
    platform: Annotated[Platform, Meta(description="Its platform")]
    app_version: Annotated[str, Meta(description="The app's version when last refreshed")]
    has_registration_token: Annotated[bool, Meta(description="Whether an FCM registration token is stored")]
    locale: Annotated[str | None, Meta(description="Its language; null to use the resident's")]
    active: Annotated[bool, Meta(description="False once FCM said it is gone; refreshing makes it active again")]
    updated_at: Annotated[datetime, Meta(tz=True, description="When it was last registered or refreshed")]


class QuietHours(msgspec.Struct, forbid_unknown_fields=True):
    """Local times in the resident's time zone; ``start`` after ``end`` spans midnight."""

    start: Annotated[LocalTime, Meta(description="From this local time (HH:MM) nothing is pushed")]
    end: Annotated[LocalTime, Meta(description="Until this local time (HH:MM)")]


class NotificationSettings(msgspec.Struct, kw_only=True):
    """What the resident gets pushed; every message lands in the inbox either way."""

    reminders: Annotated[bool, Meta(description="Reminders to log")]
    campaign_news: Annotated[bool, Meta(description="News of campaigns you take part in")]
    achievements: Annotated[bool, Meta(description="Badges earned and challenges met")]
    weekly_summary: Annotated[bool, Meta(description="A summary of your week")]
    quiet_hours: Annotated[QuietHours, Meta(description="When nothing is pushed")]
    daily_cap: Annotated[
        int, DAILY_CAP, Meta(description="At most this many push messages a day; more wait for the next day")
    ]


class NotificationSettingsPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Only the fields given change; null or left out keeps the value."""

    reminders: Annotated[bool | None, Meta(description="Reminders to log")] = None
    campaign_news: Annotated[bool | None, Meta(description="News of campaigns you take part in")] = None
    achievements: Annotated[bool | None, Meta(description="Badges earned and challenges met")] = None
    weekly_summary: Annotated[bool | None, Meta(description="A summary of your week")] = None
    quiet_hours: Annotated[QuietHours | None, Meta(description="When nothing is pushed")] = None
    daily_cap: Annotated[
        Annotated[int, DAILY_CAP] | None, Meta(description="At most this many push messages a day (0 to 20)")
    ] = None


class NotificationOut(msgspec.Struct):
    """A message in the inbox."""

    id: Annotated[int, Meta(ge=1, description="Its id, for marking it read")]
    kind: Annotated[Kind, Meta(description="What it is about")]
    title: Annotated[str, Meta(description="Its title, in the resident's language")]
    body: Annotated[str, Meta(description="Its text, in the resident's language")]
    data: Annotated[dict[str, str], Meta(description='What the app opens, e.g. `{"campaign": "kranj-2027"}`')]
    created_at: Annotated[datetime, Meta(tz=True, description="When it was written")]
    read_at: Annotated[Moment | None, Meta(description="When it was marked read; null while unread")]


class Inbox(msgspec.Struct):
    """A page of the inbox, newest first."""

    items: Annotated[list[NotificationOut], Meta(description="The messages of this page")]
    unread: Annotated[int, Meta(ge=0, description="How many messages are unread in all")]
    next_cursor: Annotated[
        str | None, Meta(description="Pass as `cursor` to get the next (older) page; null on the last page")
    ]


example(DeviceIn(platform="android", app_version="1.4.2", locale="sl"))
example(
    DeviceOut(
        installation_id="fGx7cM2uQ0eYk3vVv9a1Zb",
        platform="android",
        app_version="1.4.2",
        has_registration_token=False,
        locale="sl",
        active=True,
        updated_at=datetime(2026, 11, 25, 6, 30, tzinfo=UTC),
    )
)
example(
    NotificationSettings(
        reminders=True,
        campaign_news=True,
        achievements=True,
        weekly_summary=False,
        quiet_hours=QuietHours("21:00", "07:30"),
        daily_cap=3,
    )
)
example(NotificationSettingsPatch(weekly_summary=True, quiet_hours=QuietHours("22:00", "07:00")))
example(
    Inbox(
        items=[
            NotificationOut(
                id=1042,
                kind="achievement",
                title="Nova značka: 7 dni zapored",
                body="Sedem dni zapored ste zabeležili dejanje. Bravo!",
                data={"campaign": "mobility-contest-2027", "badge": "streak-7"},
                created_at=datetime(2026, 11, 25, 7, 0, 9, tzinfo=UTC),
                read_at=None,
            )
        ],
        unread=1,
        next_cursor=None,
    )
)
