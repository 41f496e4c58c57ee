"""Delivering the outbox through firebase-admin, at most once per device.

Two steps, each safe to run in several sender replicas at once:

:func:`plan_due` turns due notifications into deliveries, in set-based SQL:
expired ones are marked ``expired``; a kind the resident opted out of is
``dropped`` (reason recorded); inside the resident's quiet hours the message is
deferred to their end (local time); over the daily cap it is deferred to the
end of the next quiet period; otherwise one delivery row per active device is
created. Rows are locked with ``FOR UPDATE SKIP LOCKED``.

:func:`send_batch` claims up to 500 deliveries (``SKIP LOCKED``), commits the
claim (status ``sending``), sends them through a :class:`transport.BatchSender`
(firebase-admin encodes each message and maps each answer; see
``notifications/transport.py``), and records every outcome and attempt in one
transaction. A sender told to stop (``stopping``) finishes the batches it is
sending and claims no other; a claim it made but has not sent yet goes back to
``pending`` at once. The one unavoidable
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

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import firebase_admin
import httpx
from firebase_admin import exceptions as firebase_exceptions
from firebase_admin import messaging

from upscale_api.db import Pool
from upscale_api.notifications import queries
from upscale_api.notifications.transport import BatchSender, batch_sender
from upscale_api.observability.metrics import count_fcm_outcomes

BATCH = 500
LOOPS = 2  # batches in progress at once per sender process: one is claimed or recorded while another is sent
MAX_ATTEMPTS = 5
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 3600.0


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
        await conn.execute(queries.PLAN, now, limit, push)
        await conn.execute(queries.SETTLE_WITHOUT_DEVICES)


async def send_batch(
    pool: Pool,
    app: BatchSender | Any,
    now: datetime,
    batch: int = BATCH,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Claim, send and record one batch; returns how many deliveries it handled.

    ``app`` is a :class:`~upscale_api.notifications.transport.BatchSender`, or a firebase-admin App,
    sent to through ``batch_sender(app)`` (pyreqwest, or the stock client if the SDK fails its check).
    When ``stopping()`` has become true by the time the claim is made, the claim is released unsent
    and 0 returned.
    """
    send = batch_sender(app) if isinstance(app, firebase_admin.App) else app
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetch(queries.CLAIM, now, batch)
    if not claimed:
        return 0
    if stopping():
        await release(pool, claimed)
        return 0
    messages = [_message(row) for row in claimed]
    response = await send.send_each(messages)
    results = [_result(row, r, now) for row, r in zip(claimed, response.responses, strict=True)]
    count_fcm_outcomes(r.outcome for r in results)
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchval(
            queries.RECORD,
            [r.notification_id for r in results],
            [r.installation_id for r in results],
            [r.status for r in results],
            [r.outcome for r in results],
            [r.fcm_message_id for r in results],
            [r.next_attempt_at for r in results],
            [r.detail for r in results],
        )
        await conn.execute(queries.SETTLE, sorted({r.notification_id for r in results}))
    return len(results)


async def drain(
    pool: Pool,
    app: BatchSender | Any,
    now: datetime,
    loops: int = LOOPS,
    batch: int = BATCH,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Send batches until none is left or ``stopping()``, ``loops`` at once; returns how many
    deliveries were handled.

    With one loop the HTTP client waits while a batch is claimed and recorded; with two, one batch's
    database work overlaps another's sending (both share the sender's 100 requests in flight).
    """

    async def loop() -> int:
        handled = 0
        while not stopping() and (sent := await send_batch(pool, app, now, batch, stopping=stopping)):
            handled += sent
        return handled

    return sum(await asyncio.gather(*(loop() for _ in range(loops))))


async def release(pool: Pool, claimed: Sequence[Any]) -> None:
    """Put claimed deliveries that were never handed to FCM back in the queue, due at once."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            queries.RELEASE, [r["notification_id"] for r in claimed], [r["installation_id"] for r in claimed]
        )


async def fail_stale(pool: Pool, now: datetime) -> int:
    """Fail deliveries left ``sending`` by a stopped sender; returns how many notifications it settled."""
    async with pool.acquire() as conn, conn.transaction():
        notifications = await conn.fetchval(queries.FAIL_STALE, now - STALE_AFTER)
        await conn.execute(queries.SETTLE, notifications)
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
    if code in ("QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "NOT_SENT") and row["attempts"] < MAX_ATTEMPTS:
        wait = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** (row["attempts"] - 1))
        wait = max(wait * random.uniform(0.5, 1.5), _retry_after(exc))  # noqa: S311 (jitter)
        return Result(*key, "pending", code, None, now + timedelta(seconds=wait), detail)
    return Result(*key, "failed", code, None, None, detail)


# Timeouts before a connection carried the request: nothing reached FCM, so it is safe to retry.
# A timeout after sending (a read timeout: DeadlineExceededError) is not: FCM may have it.
NOT_SENT = (httpx.ConnectTimeout, httpx.PoolTimeout)

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
    if isinstance(getattr(exc, "cause", None), NOT_SENT):
        return "NOT_SENT"
    return next((code for kinds, code in _CODES if isinstance(exc, kinds)), type(exc).__name__)


def _retry_after(exc: Exception | None) -> float:
    response = getattr(exc, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
