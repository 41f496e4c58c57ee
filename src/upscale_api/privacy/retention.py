"""Retention: what the service keeps only for a while, deleted or erased by the worker.

:func:`apply_retention` runs once per worker tick under an advisory lock
(``worker.py``) and takes the clock as an argument, so its tests move time
instead of waiting. Each part is a set-based statement over a bounded batch, in
a transaction of its own, repeated until nothing is left:

- messages (inbox and outbox) older than ``UPSCALE_RETENTION_NOTIFICATIONS_DAYS``,
  with their deliveries and attempts;
- delivery attempts older than ``UPSCALE_RETENTION_ATTEMPTS_DAYS``;
- devices not refreshed for ``UPSCALE_RETENTION_DEVICES_DAYS``;
- accounts inactive for ``UPSCALE_RETENTION_INACTIVE_MONTHS``: first a notice
  through the outbox, then, ``UPSCALE_RETENTION_NOTICE_DAYS`` later and still
  inactive, the same erasure as ``DELETE /v1/me``. Activity in between starts
  the clock again. Staff accounts are left to their operators.

See docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from upscale_api.db import Pool, rows_affected
from upscale_api.privacy import queries
from upscale_api.privacy.service import erase_residents
from upscale_api.settings import Settings

BATCH = 5_000
"""Rows one statement deletes, notices or erases at most: transactions stay short."""

NOTICE_TITLE = {
    "sl": "Vaš račun bo izbrisan",
    "en": "Your account will be erased",
}
NOTICE_BODY = {
    "sl": "Aplikacije že dolgo niste uporabljali. Če je ne odprete do {date}, bomo vaš račun in podatke "
    "izbrisali; skupni rezultati vašega mesta in ekip ostanejo.",
    "en": "You have not used the app for a long time. Unless you open it by {date}, we will erase your "
    "account and data; your city's and teams' totals stay as they are.",
}


@dataclass(frozen=True)
class RetentionPolicy:
    notifications: timedelta
    attempts: timedelta
    devices: timedelta
    inactive: timedelta | None
    """None: inactive accounts are kept."""
    notice: timedelta
    settings: Settings
    """What erasing an account needs besides (the research pseudonyms' key)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        months = settings.upscale_retention_inactive_months
        return cls(
            notifications=timedelta(days=settings.upscale_retention_notifications_days),
            attempts=timedelta(days=settings.upscale_retention_attempts_days),
            devices=timedelta(days=settings.upscale_retention_devices_days),
            inactive=timedelta(days=round(months * 30.44)) if months else None,
            notice=timedelta(days=settings.upscale_retention_notice_days),
            settings=settings,
        )


@dataclass
class RetentionReport:
    notifications: int = 0
    attempts: int = 0
    devices: int = 0
    notices_withdrawn: int = 0
    notices: int = 0
    erased: int = 0
    messages_to_erased: int = 0

    def __bool__(self) -> bool:
        return any(vars(self).values())


async def apply_retention(pool: Pool, now: datetime, policy: RetentionPolicy) -> RetentionReport:
    """Delete and erase what ``policy`` says is due at ``now``; returns how much of each."""
    report = RetentionReport()
    inactive = policy.inactive
    if inactive is not None:
        report.notices_withdrawn = rows_affected(await pool.execute(queries.RESET_NOTICES))
        report.erased = await _repeat(lambda: _erase_due(pool, policy.settings, now, told_before=now - policy.notice))
        report.notices = await _repeat(lambda: _notify_inactive(pool, now, now - inactive, now + policy.notice))
    report.messages_to_erased = await pool.fetchval(queries.SWEEP_ERASED_MESSAGES)
    report.notifications = await _repeat(
        lambda: pool.fetchval(queries.RETAIN_NOTIFICATIONS, now - policy.notifications, BATCH)
    )
    report.attempts = await _repeat(
        lambda: _affected(pool.execute(queries.RETAIN_ATTEMPTS, now - policy.attempts, BATCH))
    )
    report.devices = await pool.fetchval(queries.RETAIN_DEVICES, now - policy.devices)
    return report


async def _erase_due(pool: Pool, settings: Settings, now: datetime, told_before: datetime) -> int:
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(queries.DUE_FOR_ERASURE, told_before, BATCH)
        return await erase_residents(conn, settings, due, now)


async def _notify_inactive(pool: Pool, now: datetime, inactive_since: datetime, erase_at: datetime) -> int:
    erase_on = erase_at.date().isoformat()
    status = await pool.execute(
        queries.NOTIFY_INACTIVE, now, inactive_since, BATCH, NOTICE_TITLE, NOTICE_BODY, erase_on, erase_at
    )
    return rows_affected(status)


async def _affected(status: Awaitable[str]) -> int:
    return rows_affected(await status)


async def _repeat(batch: Callable[[], Awaitable[int]]) -> int:
    """Run ``batch`` (one bounded statement, returning how many rows it did) until one does nothing."""
    total = 0
    while done := await batch():
        total += done
    return total
