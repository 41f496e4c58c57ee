"""Devices, notification preferences and the in-app inbox, as the app sees them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Platform = Literal["android", "ios", "web"]
Kind = Literal["reminder", "campaign_news", "achievement", "weekly_summary", "broadcast"]
LocalTime = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["21:00"])]


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Register or refresh this device; the path names its Firebase installation ID."""

    platform: Platform
    app_version: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    registration_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None
    """The FCM registration token, for app versions that cannot be addressed by installation ID."""
    locale: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] | None = None


class DeviceOut(msgspec.Struct):
    installation_id: str
    platform: Platform
    app_version: str
    has_registration_token: bool
    locale: str | None
    active: bool
    updated_at: datetime


class QuietHours(msgspec.Struct, forbid_unknown_fields=True):
    """Local times in the resident's time zone; ``start`` after ``end`` spans midnight."""

    start: LocalTime
    end: LocalTime


class NotificationSettings(msgspec.Struct, kw_only=True):
    reminders: bool
    campaign_news: bool
    achievements: bool
    weekly_summary: bool
    quiet_hours: QuietHours
    daily_cap: int
    """At most this many push messages a day; more wait for the next day."""


class NotificationSettingsPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Only the fields given change."""

    reminders: bool | None = None
    campaign_news: bool | None = None
    achievements: bool | None = None
    weekly_summary: bool | None = None
    quiet_hours: QuietHours | None = None
    daily_cap: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None


class NotificationOut(msgspec.Struct):
    id: int
    kind: Kind
    title: str
    body: str
    data: dict[str, str]
    created_at: datetime
    read_at: datetime | None


class Inbox(msgspec.Struct):
    items: list[NotificationOut]
    unread: int
    next_cursor: str | None
