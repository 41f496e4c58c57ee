"""The city card: linked as a keyed hash only, and rewards delivered to it by signed webhooks,
retried until the card operator acknowledges them. The operator here is a real HTTP server on
this machine that verifies each signature and refuses replays, as a receiver must."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.factories import Resident, assert_problem, settings_for_tests
from tests.rewards.conftest import MakePartner, balance, redeem, reward
from upscale_api import db
from upscale_api.rewards import webhooks

MakeEarner = Callable[[int], Awaitable[Resident]]
SETTINGS = settings_for_tests()
SECRET = SETTINGS.webhook_secret or b""
CARD_KEY = SETTINGS.city_card_key or b""
CARD_NUMBER = "6390001234567890"


@dataclass
class CardOperator:
    """The card operator's webhook receiver: answers each valid, new webhook with the next of
    ``answers`` (200 once they run out) and remembers the ids it acknowledged."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        try:
            webhook_id = webhooks.verify(SECRET, headers, body)
        except webhooks.InvalidWebhook:
            return 401
        if webhook_id in self.acknowledged:
            return 409  # a replay of a delivery acknowledged before
        status = self.answers.pop(0) if self.answers else 200
        if status < 300:
            self.acknowledged.add(webhook_id)
        return status


@pytest.fixture
def operator() -> Iterator[CardOperator]:
    receiver = CardOperator()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.answer(headers, body)
            receiver.received.append((headers, body, status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/upscale"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    thread.join(timeout=5)


async def _deliver(pool: db.Pool, now: datetime) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        while await webhooks.deliver_due(pool, client, SECRET, now, retry_seconds=30):
            pass


async def test_a_card_is_kept_only_as_a_keyed_hash(make_earner: MakeEarner, pool: db.Pool) -> None:
    resident = await make_earner(10)

    linked = await resident.put("/v1/me/city-card", json={"number": "6390 0012-3456 7890"})
    relinked = await resident.put("/v1/me/city-card", json={"number": CARD_NUMBER})

    assert (linked.status_code, relinked.status_code) == (201, 200)
    assert (await resident.get("/v1/me/city-card")).json()["city"] == "kranj"
    row = await pool.fetchrow(
        "SELECT c.* FROM city_cards c JOIN residents r ON r.id = c.resident_id WHERE r.firebase_uid = $1", resident.uid
    )
    assert row["card_hash"] == hmac.new(CARD_KEY, f"kranj:{CARD_NUMBER}".encode(), hashlib.sha256).digest()
    assert CARD_NUMBER not in str(dict(row)) and CARD_NUMBER[-4:] not in str(dict(row))


async def test_a_card_linked_by_someone_else_is_refused_and_a_bad_number_named(
    make_earner: MakeEarner, pool: db.Pool
) -> None:
    holder, other = await make_earner(10), await make_earner(10)
    number = f"63{uuid.uuid4().int % 10**14:014d}"
    assert (await holder.put("/v1/me/city-card", json={"number": number})).status_code == 201

    taken = await other.put("/v1/me/city-card", json={"number": number})
    letters = await other.put("/v1/me/city-card", json={"number": "63900A12"})
    short = await other.put("/v1/me/city-card", json={"number": "1234"})

    assert_problem(taken, 409, "conflict", "number")
    assert_problem(letters, 422, "validation-error", "number")
    assert_problem(short, 422, "validation-error", "number")
    assert_problem(await other.get("/v1/me/city-card"), 404, "not-found")


async def test_unlinking_forgets_the_card(make_earner: MakeEarner) -> None:
    resident = await make_earner(10)
    await resident.put("/v1/me/city-card", json={"number": f"77{uuid.uuid4().int % 10**10:010d}"})

    assert (await resident.delete("/v1/me/city-card")).status_code == 204
    assert (await resident.delete("/v1/me/city-card")).status_code == 204
    assert_problem(await resident.get("/v1/me/city-card"), 404, "not-found")


async def test_a_card_reward_needs_a_linked_card(
    make_partner: MakePartner, make_earner: MakeEarner, operator: CardOperator, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=50, delivery="city-card"), kind="city-card", webhook_url=operator.url)
    resident = await make_earner(100)

    answer = await redeem(resident, partner.rewards[0])

    assert_problem(answer, 409, "no-city-card")
    assert (await balance(resident))["spent"] == 0
    offer = next(o for o in (await resident.get("/v1/me/rewards")).json()["rewards"] if o["code"] == partner.rewards[0])
    assert offer["reason"] == "no-city-card"


async def test_a_reward_reaches_the_card_through_a_signed_webhook_retried_until_acknowledged(
    make_partner: MakePartner, make_earner: MakeEarner, operator: CardOperator, coordinator: Resident, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=80, delivery="city-card"), kind="city-card", webhook_url=operator.url)
    resident = await make_earner(100)
    number = f"63{uuid.uuid4().int % 10**14:014d}"
    await resident.put("/v1/me/city-card", json={"number": number})
    redemption = (await redeem(resident, partner.rewards[0])).json()
    assert (redemption["status"], redemption["code"], redemption["expires_at"]) == ("issued", None, None)
    operator.answers = [503]  # the card system is down at first
    now = datetime.now(UTC)

    await _deliver(pool, now)  # refused with 503
    await _deliver(pool, now)  # not due yet: nothing sent
    await _deliver(pool, now + timedelta(seconds=40))  # the retry, acknowledged

    mine = [r for r in operator.received if json.loads(r[1])["redemption"]["id"] == redemption["id"]]
    assert [status for _, _, status in mine] == [503, 200]
    (first_headers, body, _), (second_headers, _, _) = mine
    assert first_headers["webhook-id"] == second_headers["webhook-id"]
    sent = json.loads(body)
    assert sent["card"] == hmac.new(CARD_KEY, f"kranj:{number}".encode(), hashlib.sha256).hexdigest()
    assert (sent["partner"], sent["redemption"]["reward"], sent["redemption"]["points"]) == (
        partner.code,
        partner.rewards[0],
        80,
    )
    assert number not in body.decode()
    delivered = (await resident.get("/v1/me/redemptions")).json()["items"][0]
    assert (delivered["status"], delivered["used_at"] is not None) == ("delivered", True)
    assert (await balance(resident))["spent"] == 80
    audit = (await coordinator.get("/v1/admin/cities/kranj/redemptions", params={"partner": partner.code})).json()
    delivery = audit["items"][0]["delivery"]
    assert [(a["attempt"], a["http_status"]) for a in delivery["attempts"]] == [(1, 503), (2, 200)]
    assert delivery["delivered_at"] is not None and delivery["next_attempt_at"] is None


async def test_the_receiver_refuses_replays_forgeries_and_old_webhooks(
    make_partner: MakePartner, make_earner: MakeEarner, operator: CardOperator, pool: db.Pool
) -> None:
    partner = await make_partner(reward(cost=10, delivery="city-card"), kind="city-card", webhook_url=operator.url)
    resident = await make_earner(100)
    await resident.put("/v1/me/city-card", json={"number": f"63{uuid.uuid4().int % 10**14:014d}"})
    await redeem(resident, partner.rewards[0])
    await _deliver(pool, datetime.now(UTC))
    received, body, status = operator.received[-1]
    assert status == 200
    headers = {k: v for k, v in received.items() if k.startswith("webhook-") or k == "content-type"}
    stamp = int(time.time()) - 600
    old = headers | {
        "webhook-timestamp": str(stamp),
        "webhook-signature": webhooks.sign(SECRET, headers["webhook-id"], stamp, body),
    }

    async with httpx.AsyncClient() as client:
        replayed = await client.post(operator.url, content=body, headers=headers)
        forged = await client.post(
            operator.url, content=body.replace(b'"points":10', b'"points":9999'), headers=headers
        )
        stale = await client.post(operator.url, content=body, headers=old)
        wrong_key = await client.post(
            operator.url,
            content=body,
            headers=headers | {"webhook-signature": webhooks.sign(b"x" * 32, headers["webhook-id"], stamp + 600, body)},
        )

    assert (replayed.status_code, forged.status_code, stale.status_code, wrong_key.status_code) == (409, 401, 401, 401)
