"""Residents' devices, notification preferences and in-app inbox."""

from __future__ import annotations

from datetime import datetime, time

from upscale_api.db import Pool, Record, rows_affected
from upscale_api.errors import Problem
from upscale_api.notifications import queries
from upscale_api.notifications.structs import (
    DeviceIn,
    DeviceOut,
    Inbox,
    NotificationOut,
    NotificationSettings,
    NotificationSettingsPatch,
    QuietHours,
)
from upscale_api.residents import service as residents
from upscale_api.residents.service import not_registered

DEFAULTS = NotificationSettings(
    reminders=True,
    campaign_news=True,
    achievements=True,
    weekly_summary=True,
    quiet_hours=QuietHours("21:00", "08:00"),
    daily_cap=3,
)


def _device(row: Record) -> DeviceOut:
    return DeviceOut(
        installation_id=row["installation_id"],
        platform=row["platform"],
        app_version=row["app_version"],
        has_registration_token=row["has_token"],
        locale=row["locale"],
        active=row["active"],
        updated_at=row["updated_at"],
    )


async def register_device(pool: Pool, uid: str, installation_id: str, data: DeviceIn) -> tuple[DeviceOut, bool]:
    """Register or refresh a device; returns it and whether it is new here.

    A device registered by another resident moves to this one only when ``data``
    carries the registration token stored for it (a shared phone changing
    hands); otherwise it stays where it is and this is a 409.
    """
    args = (installation_id, uid, data.registration_token, data.platform, data.app_version, data.locale)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(queries.UPSERT_DEVICE, *args)
        if row is None:
            registered = await conn.fetchval(queries.DEVICE_REFUSAL, uid)
    if row is not None:
        return _device(row), bool(row["created"])
    if not registered:
        raise not_registered()
    raise Problem.field(
        "installation_id",
        "this device is registered to another account: send the registration token it has now, or sign out there first",
        status=409,
        kind="conflict",
    )


async def devices(pool: Pool, uid: str) -> list[DeviceOut]:
    return [_device(r) for r in await pool.fetch(queries.DEVICES, uid)]


async def remove_device(pool: Pool, uid: str, installation_id: str) -> None:
    if rows_affected(await pool.execute(queries.DELETE_DEVICE, uid, installation_id)) == 0:
        raise Problem.field("installation_id", "no such device of yours", status=404, kind="not-found")


def _settings(row: Record) -> NotificationSettings:
    if row["reminders"] is None:
        return DEFAULTS
    return NotificationSettings(
        reminders=row["reminders"],
        campaign_news=row["campaign_news"],
        achievements=row["achievements"],
        weekly_summary=row["weekly_summary"],
        quiet_hours=QuietHours(row["quiet_start"], row["quiet_end"]),
        daily_cap=row["daily_cap"],
    )


async def settings(pool: Pool, uid: str) -> NotificationSettings:
    row = await pool.fetchrow(queries.SETTINGS, uid)
    if row is None:
        raise not_registered()
    return _settings(row)


async def update_settings(pool: Pool, uid: str, patch: NotificationSettingsPatch) -> NotificationSettings:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.SETTINGS, uid)
        if row is None:
            raise not_registered()
        quiet = patch.quiet_hours
        await conn.execute(
            queries.PATCH_SETTINGS,
            row["resident_id"],
            patch.reminders,
            patch.campaign_news,
            patch.achievements,
            patch.weekly_summary,
            _time(quiet.start) if quiet else None,
            _time(quiet.end) if quiet else None,
            patch.daily_cap,
        )
        updated = await conn.fetchrow(queries.SETTINGS, uid)
    assert updated is not None
    return _settings(updated)


def _time(hh_mm: str) -> time:
    hours, minutes = hh_mm.split(":")
    return time(int(hours), int(minutes))


async def inbox(pool: Pool, uid: str, limit: int, cursor: str | None) -> Inbox:
    before = _cursor(cursor)
    async with pool.acquire() as conn:
        resident = await residents.find(conn, uid)
        if resident is None:
            raise not_registered()
        resident_id = resident["id"]
        rows = await conn.fetch(queries.INBOX, resident_id, before, limit + 1)
        unread = await conn.fetchval(queries.UNREAD, resident_id)
    items = [
        NotificationOut(r["id"], r["kind"], r["title"], r["body"], r["data"], r["created_at"], r["read_at"])
        for r in rows[:limit]
    ]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return Inbox(items=items, unread=unread, next_cursor=next_cursor)


def _cursor(cursor: str | None) -> int | None:
    """The id the page starts after; a 422 naming ``cursor`` unless it is one of ours
    (ASCII digits: ``str.isdigit`` also takes "²", and ids are 64-bit)."""
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit() and int(cursor) < 2**63):
        raise Problem.field("cursor", "is not a cursor returned by this endpoint")
    return int(cursor)


async def mark_read(pool: Pool, uid: str, notification_id: int) -> None:
    if await pool.fetchrow(queries.MARK_READ, uid, notification_id) is None:
        raise Problem.field("id", "no such notification of yours", status=404, kind="not-found")


async def outbox_due(pool: Pool, now: datetime) -> tuple[int, float]:
    """How many messages are due and waiting (to be planned or sent), and how many seconds the oldest has waited."""
    row = await pool.fetchrow(queries.OUTBOX_DUE, now)
    assert row is not None
    oldest: datetime | None = row["oldest"]
    return row["messages"], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
