"""Deliveries to city cards: signed webhooks from an outbox, retried with backoff until acknowledged.

A redemption of a ``city-card`` reward writes a row to ``reward_deliveries`` in
its own transaction (the outbox), so a delivery is never lost nor sent for a
redemption that was rolled back. The worker's ``deliver_rewards`` job (every
replica, rows claimed with ``FOR UPDATE SKIP LOCKED``) POSTs each due one to the
partner's ``webhook_url``; any 2xx acknowledges it and the redemption becomes
``delivered``. Anything else (an error status, a refused connection, a timeout)
is tried again after ``UPSCALE_WEBHOOK_RETRY_SECONDS``, doubling each time up
to an hour (±10% so that retries of many deliveries spread out), until
acknowledged. Every attempt is recorded (``reward_delivery_attempts``).

The signature follows the Standard Webhooks specification: headers
``webhook-id`` (the delivery's id, the same on every attempt), ``webhook-timestamp``
(Unix seconds of this attempt) and ``webhook-signature`` (``v1,`` and the base64
HMAC-SHA256 of ``{id}.{timestamp}.{body}`` with ``UPSCALE_REWARDS_WEBHOOK_SECRET``).
A receiver recomputes it (:func:`verify`), refuses timestamps more than five
minutes away from its clock, and remembers the ids it acknowledged: a replayed
request is then either too old or a repeat.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from upscale_api.db import Pool, Record
from upscale_api.rewards import queries

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
"""How far a webhook's timestamp may be from the receiver's clock."""
MAX_BACKOFF_SECONDS = 3600.0
BATCH = 20


class InvalidWebhook(Exception):
    """The request is not a webhook signed with the shared secret, or is too old or new to accept."""


def sign(secret: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of a body sent as ``webhook_id`` at ``timestamp``."""
    mac = hmac.new(secret, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
    """What a receiver does: the webhook's id when ``headers`` sign ``body`` with ``secret`` and its
    timestamp is within five minutes of ``now``; raises :class:`InvalidWebhook` otherwise. A receiver
    also refuses an id it has seen before (a replay within the five minutes)."""
    webhook_id, stamp, signatures = (
        headers.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not webhook_id or not stamp.isdigit():
        raise InvalidWebhook("webhook-id or webhook-timestamp is missing")
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        raise InvalidWebhook("webhook-timestamp is more than five minutes away")
    expected = sign(secret, webhook_id, int(stamp), body)
    if not any(hmac.compare_digest(expected, given) for given in signatures.split()):
        raise InvalidWebhook("webhook-signature does not match")
    return webhook_id


def backoff(attempt: int, first_seconds: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
    wait: float = min(first_seconds * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return wait * random.uniform(0.9, 1.1)  # noqa: S311  (spreading retries, not a secret)


async def deliver_due(
    pool: Pool, client: httpx.AsyncClient, secret: bytes, now: datetime, retry_seconds: float, batch: int = BATCH
) -> int:
    """Send up to ``batch`` deliveries due at ``now`` side by side and record the attempts; returns how
    many were sent. The rows stay locked meanwhile, so another worker sends the next ones instead."""
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(queries.CLAIM_DELIVERIES, now, batch)
        if not due:
            return 0
        results = await asyncio.gather(*(_attempt(client, secret, row, now, retry_seconds) for row in due))
        await conn.execute(queries.RECORD_ATTEMPTS, results)
    failed = [r for r in results if not r["delivered"]]
    if failed:
        log.warning("card deliveries: %d of %d not acknowledged; retried later", len(failed), len(results))
    return len(results)


async def _attempt(
    client: httpx.AsyncClient, secret: bytes, row: Record, now: datetime, retry_seconds: float
) -> dict[str, Any]:
    webhook_id = str(row["id"])
    body = msgspec.json.encode(row["payload"])
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, webhook_id, stamp, body),
        "user-agent": "upscale-api rewards webhook",
    }
    attempt = row["attempts"] + 1
    status: int | None = None
    error: str | None = None
    started = time.perf_counter()
    try:
        response = await client.post(row["url"], content=body, headers=headers)
        status = response.status_code
        if not response.is_success:
            error = f"answered {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    delivered = error is None
    return {
        "id": webhook_id,
        "attempt": attempt,
        "attempted_at": now.isoformat(),
        "status_code": status,
        "error": error,
        "duration_ms": (time.perf_counter() - started) * 1000,
        "delivered": delivered,
        "next_attempt_at": None
        if delivered
        else (now + timedelta(seconds=backoff(attempt, retry_seconds))).isoformat(),
    }


def payload(
    delivery_id: str, city: str, partner: str, card: bytes, redemption: dict[str, Any], created_at: datetime
) -> dict[str, Any]:
    """The body of a delivery: which card (its keyed hash, as the card operator computes it) gets what."""
    return {
        "type": "reward.redeemed",
        "id": delivery_id,
        "created_at": created_at.isoformat(),
        "city": city,
        "partner": partner,
        "card": card.hex(),
        "redemption": redemption,
    }
