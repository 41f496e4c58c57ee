"""Delivering the outbox through firebase-admin, at most once per device.

Two steps, each safe to run in several sender replicas at once:

:func:`plan_due` turns due notifications into deliveries, in set-based SQL:
expired ones are marked ``expired``; a kind the resident opted out of is
``dropped`` (reason recorded); inside the resident's quiet hours the message is
deferred to their end (local time); over the daily cap it is deferred to the
end of the next quiet period; otherwise one delivery row per active device is
created. Rows are locked with ``FOR UPDATE SKIP LOCKED``.

:func:`send_batch` claims up to 500 deliveries (``SKIP LOCKED``), commits the
claim (status ``sending``), sends them with ``messaging.send_each_async``, and
records every outcome and attempt in one transaction. The one unavoidable
window: a sender killed after FCM accepted a batch and before recording it
leaves that batch ``sending``; those rows are never sent again (at most once)
and :func:`fail_stale` marks them failed after a timeout. The window is one
batch.

Errors follow FCM's contract: ``UNREGISTERED`` and ``SENDER_ID_MISMATCH``
deactivate the device; so does ``INVALID_ARGUMENT``, because every payload
is built here from checked fields and is known valid, which leaves the token;
429/``QUOTA_EXCEEDED``, 500 and 503 are retried with exponential backoff and
jitter, honouring ``Retry-After``, up to :data:`MAX_ATTEMPTS`; then failed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from firebase_admin import exceptions as firebase_exceptions
from firebase_admin import messaging

from upscale_api.db import Pool

BATCH = 500
MAX_ATTEMPTS = 5
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 3600.0

PLAN = """
WITH due AS (
    SELECT n.id, n.resident_id, n.kind, n.expires_at, r.time_zone,
           coalesce(s.quiet_start, '21:00') AS quiet_start, coalesce(s.quiet_end, '08:00') AS quiet_end,
           coalesce(s.daily_cap, 3) AS daily_cap,
           CASE n.kind WHEN 'reminder' THEN coalesce(s.reminders, true)
                       WHEN 'campaign_news' THEN coalesce(s.campaign_news, true)
                       WHEN 'achievement' THEN coalesce(s.achievements, true)
                       WHEN 'weekly_summary' THEN coalesce(s.weekly_summary, true)
                       ELSE true END AS wanted,
           ($1::timestamptz AT TIME ZONE r.time_zone) AS local_now
    FROM notifications n
    JOIN residents r ON r.id = n.resident_id
    LEFT JOIN notification_settings s ON s.resident_id = n.resident_id
    WHERE n.status = 'pending' AND n.not_before <= $1
    ORDER BY n.not_before
    LIMIT $2
    FOR UPDATE OF n SKIP LOCKED
), judged AS (
    SELECT d.*,
           CASE WHEN d.quiet_start > d.quiet_end
                THEN d.local_now::time >= d.quiet_start OR d.local_now::time < d.quiet_end
                ELSE d.local_now::time >= d.quiet_start AND d.local_now::time < d.quiet_end END AS quiet,
           -- pushed today (local) before, plus those ahead of this one in this round
           (SELECT count(*) FROM notifications x
            WHERE x.resident_id = d.resident_id AND x.status IN ('sent', 'sending')
              AND (x.not_before AT TIME ZONE d.time_zone)::date = d.local_now::date)
           + row_number() OVER (PARTITION BY d.resident_id ORDER BY d.id) - 1 AS sent_today,
           -- the end of the current (or next) quiet period, back in UTC
           ((CASE WHEN d.local_now::time < d.quiet_end THEN d.local_now::date ELSE d.local_now::date + 1 END
             + d.quiet_end) AT TIME ZONE d.time_zone) AS quiet_ends_at
    FROM due d
), decided AS (
    UPDATE notifications n SET
        status = CASE WHEN j.expires_at <= $1 THEN 'expired'
                      WHEN NOT j.wanted THEN 'dropped'
                      WHEN j.quiet OR j.sent_today >= j.daily_cap THEN 'pending'
                      ELSE 'sending' END,
        status_reason = CASE WHEN j.expires_at <= $1 THEN 'expired before it could be sent'
                             WHEN NOT j.wanted THEN 'opted out of ' || j.kind
                             WHEN j.quiet THEN 'deferred: quiet hours'
                             WHEN j.sent_today >= j.daily_cap THEN 'deferred: daily cap of ' || j.daily_cap
                             ELSE NULL END,
        not_before = CASE WHEN j.expires_at > $1 AND j.wanted AND (j.quiet OR j.sent_today >= j.daily_cap)
                          THEN j.quiet_ends_at ELSE n.not_before END
    FROM judged j WHERE j.id = n.id
    RETURNING n.id, n.resident_id, n.status
)
INSERT INTO notification_deliveries (notification_id, installation_id, next_attempt_at)
SELECT d.id, v.installation_id, $1
FROM decided d JOIN devices v ON v.resident_id = d.resident_id AND v.active
WHERE d.status = 'sending' AND $3  -- push on
ON CONFLICT DO NOTHING
"""

# Notifications that went to 'sending' with nothing to push (no active device, or push
# off) are done: they live in the inbox.
SETTLE_WITHOUT_DEVICES = """
UPDATE notifications n SET status = 'sent', status_reason = 'inbox only: no device to push to'
WHERE n.status = 'sending'
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id)
"""

CLAIM = """
UPDATE notification_deliveries d SET status = 'sending', attempts = d.attempts + 1, claimed_at = $1
FROM (
    SELECT notification_id, installation_id FROM notification_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) c, notifications n, devices v
WHERE d.notification_id = c.notification_id AND d.installation_id = c.installation_id
  AND n.id = d.notification_id AND v.installation_id = d.installation_id
RETURNING d.notification_id, d.installation_id, d.attempts, n.title, n.body, n.data, n.kind, n.expires_at,
          v.registration_token
"""

RECORD = """
WITH results AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
        AS r(notification_id, installation_id, status, outcome, fcm_message_id, next_attempt_at, detail)
), deliveries AS (
    UPDATE notification_deliveries d
    SET status = r.status, fcm_message_id = r.fcm_message_id,
        next_attempt_at = coalesce(r.next_attempt_at, d.next_attempt_at)
    FROM results r
    WHERE d.notification_id = r.notification_id AND d.installation_id = r.installation_id
), attempts AS (
    INSERT INTO notification_attempts (notification_id, installation_id, outcome, fcm_message_id, detail)
    SELECT notification_id, installation_id, outcome, fcm_message_id, detail FROM results
), deactivated AS (
    UPDATE devices v SET active = false, deactivated_reason = r.outcome, updated_at = now()
    FROM results r
    WHERE v.installation_id = r.installation_id AND r.outcome IN ('UNREGISTERED', 'SENDER_ID_MISMATCH', 'INVALID_TOKEN')
)
SELECT count(*) FROM results
"""

# A notification is done when none of its deliveries is still pending or being sent.
SETTLE = """
UPDATE notifications n
SET status = CASE WHEN EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id
                                 AND d.status = 'sent') THEN 'sent' ELSE 'failed' END
WHERE n.id = ANY($1::bigint[]) AND n.status = 'sending'
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id
                    AND d.status IN ('pending', 'sending'))
"""

# Deliveries a sender claimed and never recorded: it may have died after FCM took
# them, so they are not sent again (at most once); they fail with the reason.
FAIL_STALE = """
WITH stale AS (
    UPDATE notification_deliveries d SET status = 'failed'
    WHERE d.status = 'sending' AND d.claimed_at < $1
    RETURNING d.notification_id, d.installation_id
), attempts AS (
    INSERT INTO notification_attempts (notification_id, installation_id, outcome, detail)
    SELECT notification_id, installation_id, 'SENDER_STOPPED',
           'claimed by a sender that stopped before recording the result; not resent to avoid a duplicate'
    FROM stale
)
SELECT coalesce(array_agg(DISTINCT notification_id), '{}') FROM stale
"""

STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Result:
    notification_id: int
    installation_id: str
    status: str  # sent | pending (retry) | failed
    outcome: str  # sent, or the FCM error code
    fcm_message_id: str | None
    next_attempt_at: datetime | None
    detail: str | None


async def plan_due(pool: Pool, now: datetime, limit: int = 5_000, *, push: bool = True) -> None:
    """Decide what is due now: expire, drop, defer, or create deliveries (``push=False``: inbox only)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(PLAN, now, limit, push)
        await conn.execute(SETTLE_WITHOUT_DEVICES)


async def send_batch(pool: Pool, app: Any, now: datetime, batch: int = BATCH) -> int:
    """Claim, send and record one batch; returns how many deliveries it handled."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetch(CLAIM, now, batch)
    if not claimed:
        return 0
    messages = [_message(row) for row in claimed]
    response = await messaging.send_each_async(messages, app=app)
    results = [_result(row, r, now) for row, r in zip(claimed, response.responses, strict=True)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchval(
            RECORD,
            [r.notification_id for r in results],
            [r.installation_id for r in results],
            [r.status for r in results],
            [r.outcome for r in results],
            [r.fcm_message_id for r in results],
            [r.next_attempt_at for r in results],
            [r.detail for r in results],
        )
        await conn.execute(SETTLE, sorted({r.notification_id for r in results}))
    return len(results)


async def fail_stale(pool: Pool, now: datetime) -> int:
    """Fail deliveries left ``sending`` by a stopped sender; returns how many notifications it settled."""
    async with pool.acquire() as conn, conn.transaction():
        notifications = await conn.fetchval(FAIL_STALE, now - STALE_AFTER)
        await conn.execute(SETTLE, notifications)
    return len(notifications)


def _message(row: Any) -> messaging.Message:
    data = {str(k): str(v) for k, v in (row["data"] or {}).items()} | {"kind": row["kind"]}
    ttl = max(timedelta(seconds=0), row["expires_at"] - datetime.now(UTC))
    common = {
        "notification": messaging.Notification(title=row["title"], body=row["body"]),
        "data": data,
        "android": messaging.AndroidConfig(ttl=ttl),
    }
    # App versions that only have a registration token are addressed by it; others by installation ID.
    if row["registration_token"]:
        return messaging.Message(token=row["registration_token"], **common)
    return messaging.Message(fid=row["installation_id"], **common)


def _result(row: Any, response: Any, now: datetime) -> Result:
    key = (row["notification_id"], row["installation_id"])
    if response.success:
        return Result(*key, "sent", "sent", response.message_id, None, None)
    exc = response.exception
    code = _code(exc)
    detail = str(exc)[:500]
    if code in ("UNREGISTERED", "SENDER_ID_MISMATCH"):
        return Result(*key, "failed", code, None, None, detail)
    if code == "INVALID_ARGUMENT":
        # Our payloads are built here and known valid: the token itself is bad.
        return Result(*key, "failed", "INVALID_TOKEN", None, None, detail)
    if code in ("QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL") and row["attempts"] < MAX_ATTEMPTS:
        wait = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** (row["attempts"] - 1))
        wait = max(wait * random.uniform(0.5, 1.5), _retry_after(exc))  # noqa: S311 (jitter)
        return Result(*key, "pending", code, None, now + timedelta(seconds=wait), detail)
    return Result(*key, "failed", code, None, None, detail)


# The FCM error contract as firebase-admin maps it, most specific class first.
_CODES: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str], ...] = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    ((messaging.QuotaExceededError, firebase_exceptions.ResourceExhaustedError), "QUOTA_EXCEEDED"),
    (firebase_exceptions.InvalidArgumentError, "INVALID_ARGUMENT"),
    (firebase_exceptions.UnavailableError, "UNAVAILABLE"),
    (firebase_exceptions.InternalError, "INTERNAL"),
)


def _code(exc: Exception | None) -> str:
    if exc is None:
        return "UNKNOWN"
    return next((code for kinds, code in _CODES if isinstance(exc, kinds)), type(exc).__name__)


def _retry_after(exc: Exception | None) -> float:
    response = getattr(exc, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
