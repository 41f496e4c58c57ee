"""Rate limits: per resident and per client address, lower for invite codes and
batches, shared across API processes through PostgreSQL.

Each test serves its own app under uvicorn on 127.0.0.1 (a real peer address,
so X-Forwarded-For can be trusted or not) with small limits; the rest of the
suite runs with the limits off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import MakeCampaign, MakeResident, NewDatabase
from tests.factories import CAMPAIGNS, EMULATOR_HOST, action, assert_problem, settings_for_tests, token_for
from upscale_api import db, migrations
from upscale_api.app import create_app
from upscale_api.ratelimit.store import forget_expired
from upscale_api.settings import SettingsError

GENEROUS = "1000/60"


@contextlib.asynccontextmanager
async def served(database_url: str, **settings: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app under uvicorn on a free port of 127.0.0.1, limits on (memory store unless told),
    refused requests answered without a pause unless told."""
    overrides = {
        "UPSCALE_RATE_LIMIT_STORE": "memory",
        "UPSCALE_RATE_LIMIT_PAUSE_SECONDS": "0",
        "UPSCALE_RATE_LIMIT_RESIDENT": GENEROUS,
        "UPSCALE_RATE_LIMIT_ADDRESS": GENEROUS,
    } | settings
    app = create_app(settings_for_tests(**overrides), database_url=database_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", proxy_headers=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # start-up failed: raise why
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await serving


class Caller:
    """A registered resident (registered beforehand, with the limits off) calling one served app."""

    def __init__(self, http: httpx.AsyncClient, uid: str) -> None:
        self.http = http
        self.uid = uid
        self.headers = {"Authorization": f"Bearer {token_for(uid)}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=self.headers | kwargs.pop("headers", {}), **kwargs)

    async def log(self, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("POST", "/v1/me/actions", json=body or action(quantity=1))


def limits(response: httpx.Response) -> dict[str, tuple[int, int]]:
    """The RateLimit field as ``{policy: (remaining, seconds until more)}``."""
    items = re.findall(r'"([a-z-]+)";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    return {name: (int(r), int(t)) for name, r, t in items}


def assert_rate_limited(response: httpx.Response, policy: str) -> int:
    """A 429 problem naming ``policy``, with Retry-After (returned) and the RateLimit fields."""
    problem = assert_problem(response, 429, "rate-limited")
    assert f'"{policy}"' in problem["detail"]
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert policy in limits(response)
    assert f'"{policy}";q=' in response.headers["ratelimit-policy"]
    return retry_after


async def stored(pool: db.Pool, action_id: str) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM action_logs WHERE id = $1", uuid.UUID(action_id)))


async def test_a_resident_over_the_limit_gets_429_and_other_residents_do_not(
    database_url: str, make_resident: MakeResident, pool: db.Pool
) -> None:
    alice_uid, bob_uid = (await make_resident()).uid, (await make_resident()).uid
    async with served(database_url, UPSCALE_RATE_LIMIT_RESIDENT="3/60") as http:
        alice, bob = Caller(http, alice_uid), Caller(http, bob_uid)
        logged = [await alice.log() for _ in range(3)]
        refused_body = action(quantity=1)
        refused = await alice.log(refused_body)
        bobs = await bob.log()

    assert [r.status_code for r in logged] == [201, 201, 201]
    assert logged[0].headers["ratelimit-policy"] == '"address";q=1000;w=60, "resident";q=3;w=60'
    assert limits(logged[0])["resident"] == (2, 20)  # two left; one more back within 20 s
    assert limits(logged[2])["resident"][0] == 0
    retry_after = assert_rate_limited(refused, "resident")
    assert retry_after <= 20
    assert limits(refused)["resident"][0] == 0
    assert not await stored(pool, refused_body["id"])
    assert bobs.status_code == 201 and await stored(pool, bobs.json()["id"])


async def test_the_address_limit_counts_requests_without_a_token_and_before_verifying_one(
    database_url: str,
) -> None:
    async with served(database_url, UPSCALE_RATE_LIMIT_ADDRESS="3/60") as http:
        public = [await http.get("/v1/cities") for _ in range(2)]
        made_up_token = await http.get("/v1/me", headers={"Authorization": "Bearer not-a-token"})
        over = await http.get("/v1/cities")
        guessed_token = await http.get("/v1/me", headers={"Authorization": "Bearer another-guess"})
        probes = [await http.get(path) for path in ("/health/live", "/health/ready")]

    assert [r.status_code for r in public] == [200, 200]
    assert limits(public[1])["address"][0] == 1
    assert_problem(made_up_token, 401, "unauthenticated")
    assert_rate_limited(over, "address")
    assert_rate_limited(guessed_token, "address")  # refused before the token is even looked at
    assert [r.status_code for r in probes] == [200, 200]  # health probes are never limited
    assert "ratelimit" not in probes[0].headers


async def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(database_url: str) -> None:
    async with served(database_url, UPSCALE_RATE_LIMIT_ADDRESS="2/60", UPSCALE_TRUSTED_PROXIES="127.0.0.1") as http:

        async def from_(forwarded_for: str) -> int:
            return (await http.get("/v1/cities", headers={"X-Forwarded-For": forwarded_for})).status_code

        first_client = [await from_("203.0.113.7") for _ in range(2)]
        spoofed_left_part = await from_("198.51.100.1, 203.0.113.7")  # the proxy appended the real address
        second_client = await from_("203.0.113.8")
        same_ipv6_subscriber = [
            await from_("2001:db8:1:2::a"),
            await from_("2001:db8:1:2::b"),
            await from_("2001:db8:1:2::c"),
        ]

    assert first_client == [200, 200]
    assert spoofed_left_part == 429
    assert second_client == 200
    assert same_ipv6_subscriber == [200, 200, 429]  # one /64

    async with served(database_url, UPSCALE_RATE_LIMIT_ADDRESS="2/60", UPSCALE_TRUSTED_PROXIES="10.0.0.0/8") as http:
        untrusted_peer = [
            (await http.get("/v1/cities", headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code for i in range(3)
        ]

    assert untrusted_peer == [200, 200, 429]  # 127.0.0.1 is no trusted proxy: its header is ignored


async def test_invite_code_guesses_have_a_lower_limit(
    database_url: str, make_resident: MakeResident, make_campaign: MakeCampaign, pool: db.Pool
) -> None:
    by_invite = await make_campaign(enrolment="invite", invite_code="TOPLO-2026")
    open_teams = await make_campaign(enrolment="team", residents_create_teams=True)
    baseline = {"baseline": {"car_km_per_week": 100}}
    guesser_uid, neighbour_uid = (await make_resident()).uid, (await make_resident()).uid
    async with served(
        database_url, UPSCALE_RATE_LIMIT_RESIDENT="20/60", UPSCALE_RATE_LIMIT_INVITE_RESIDENT="3/600"
    ) as http:
        guesser, neighbour = Caller(http, guesser_uid), Caller(http, neighbour_uid)
        enrolment = f"/v1/campaigns/{by_invite.code}/enrolment"
        guesses = [
            await guesser.request("POST", enrolment, json={"invite_code": code} | baseline) for code in ("AAAA", "AAAB")
        ]
        team = await guesser.request(
            "POST", f"/v1/campaigns/{open_teams.code}/teams", json={"name": "Ulica"} | baseline
        )
        right_code_too_late = await guesser.request("POST", enrolment, json={"invite_code": "TOPLO-2026"} | baseline)
        still_browsing = await guesser.request("GET", "/v1/campaigns")
        neighbour_enrols = await neighbour.request("POST", enrolment, json={"invite_code": "TOPLO-2026"} | baseline)

    assert [g.status_code for g in guesses] == [422, 422]
    assert team.status_code == 201  # starting a team counts against the same limit
    assert_rate_limited(right_code_too_late, "invite-resident")
    assert '"invite-address";q=60;w=600' in right_code_too_late.headers["ratelimit-policy"]
    assert still_browsing.status_code == 200  # the ordinary limit is not used up
    assert neighbour_enrols.status_code == 201
    enrolled = await pool.fetchval(
        "SELECT count(*) FROM enrolments e JOIN residents r ON r.id = e.resident_id "
        "JOIN campaigns k ON k.id = e.campaign_id WHERE r.firebase_uid = $1 AND k.code = $2",
        guesser.uid,
        by_invite.code,
    )
    assert enrolled == 0


async def test_a_batch_counts_as_many_as_its_actions(
    database_url: str, make_resident: MakeResident, pool: db.Pool
) -> None:
    uid = (await make_resident()).uid
    async with served(database_url, UPSCALE_RATE_LIMIT_BATCH_RESIDENT="10/3600") as http:
        resident = Caller(http, uid)

        async def batch(size: int) -> tuple[httpx.Response, list[dict[str, Any]]]:
            actions = [action(quantity=1) for _ in range(size)]
            return await resident.request("POST", "/v1/me/actions/batch", json={"actions": actions}), actions

        six, _ = await batch(6)
        five, refused = await batch(5)
        four, _ = await batch(4)
        single = await resident.log()  # one action at a time is not a batch

    assert six.status_code == 200 and six.json()["stored"] == 6
    assert limits(six)["batch-resident"] == (4, 360)
    assert_rate_limited(five, "batch-resident")
    assert limits(five)["batch-resident"][0] == 4  # four actions left: not enough for five
    assert int(five.headers["retry-after"]) == 360  # one action comes back every 6 minutes
    assert not any([await stored(pool, a["id"]) for a in refused])
    assert four.status_code == 200 and four.json()["stored"] == 4
    assert single.status_code == 201


@pytest.mark.parametrize(("store", "passed"), [("postgres", 4), ("memory", 8)])
async def test_two_app_instances_share_the_limit_through_postgres(
    database_url: str, make_resident: MakeResident, store: str, passed: int
) -> None:
    uid = (await make_resident()).uid
    settings = {"UPSCALE_RATE_LIMIT_STORE": store, "UPSCALE_RATE_LIMIT_RESIDENT": "4/60"}
    async with served(database_url, **settings) as first, served(database_url, **settings) as second:
        callers = [Caller(first, uid), Caller(second, uid)]
        answers = await asyncio.gather(*(callers[i % 2].request("GET", "/v1/campaigns") for i in range(12)))

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * passed + [429] * (12 - passed)


async def test_upscale_serve_with_several_workers_counts_in_postgres(
    database_url: str, make_resident: MakeResident
) -> None:
    uid = (await make_resident()).uid
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("UPSCALE_", "FIREBASE_"))} | {
        "DATABASE_URL": database_url,
        "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
        "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
        "UPSCALE_PORT": str(port),
        "UPSCALE_RATE_LIMIT_RESIDENT": "3/60",
        "UPSCALE_RATE_LIMIT_PAUSE_SECONDS": "0",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "upscale_api", "serve", "--workers", "2", env=environ, stderr=asyncio.subprocess.PIPE
    )
    assert server.stderr is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # both workers up
        answers = []
        for _ in range(8):  # a new connection each: the two processes share them out
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                answers.append((await Caller(http, uid).request("GET", "/v1/campaigns")).status_code)
    finally:
        server.terminate()
        _, errors = await server.communicate()

    assert "counted in PostgreSQL, shared by the 2 workers" in errors.decode()
    assert sorted(answers) == [200] * 3 + [429] * 5


async def test_the_quota_comes_back_over_its_window(database_url: str, make_resident: MakeResident) -> None:
    uid = (await make_resident()).uid
    async with served(database_url, UPSCALE_RATE_LIMIT_RESIDENT="2/2") as http:
        resident = Caller(http, uid)
        burst = [(await resident.request("GET", "/v1/campaigns")).status_code for _ in range(3)]
        await asyncio.sleep(1.1)  # one request comes back every second
        after_a_while = await resident.request("GET", "/v1/campaigns")
        again = await resident.request("GET", "/v1/campaigns")

    assert burst == [200, 200, 429]
    assert after_a_while.status_code == 200
    assert again.status_code == 429


async def test_a_refused_request_is_answered_after_a_pause(database_url: str, make_resident: MakeResident) -> None:
    uid = (await make_resident()).uid
    async with served(database_url, UPSCALE_RATE_LIMIT_RESIDENT="1/60", UPSCALE_RATE_LIMIT_PAUSE_SECONDS="0.3") as http:
        resident = Caller(http, uid)
        passed = await resident.request("GET", "/v1/campaigns")
        started = time.monotonic()
        refused = await resident.request("GET", "/v1/campaigns")
        waited = time.monotonic() - started

    assert passed.status_code == 200
    retry_after = assert_rate_limited(refused, "resident")
    assert waited >= 0.3  # a script that ignores Retry-After sends one request per pause and connection
    assert retry_after <= 60  # counted from the answer, after the pause


async def test_the_worker_forgets_keys_whose_quota_is_whole_again(new_database: NewDatabase) -> None:
    pool = await db.create_pool(await new_database(), settings_for_tests())
    try:
        async with pool.acquire() as conn:
            await migrations.migrate(conn)
        await pool.execute(
            "INSERT INTO rate_limits (key, tat) VALUES "
            "('resident:past', (extract(epoch FROM now()) * 1000000)::bigint - 1000000), "
            "('resident:future', (extract(epoch FROM now()) * 1000000)::bigint + 60000000)"
        )

        assert await forget_expired(pool) == 1
        assert [r["key"] for r in await pool.fetch("SELECT key FROM rate_limits")] == ["resident:future"]
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("UPSCALE_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"), ("UPSCALE_RATE_LIMIT_RESIDENT", "60 per minute")],
)
def test_a_malformed_limit_setting_stops_start_up_naming_it(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_for_tests(**{variable: value})
