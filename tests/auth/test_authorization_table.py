"""Who may call what, on whose data: one row per operation of the served API.

Every operation in the OpenAPI document is called by eight callers: nobody
(no token), a Kranj resident who owns the data the path names, another Kranj
resident, a Ljubljana resident, Kranj's coordinator, Ljubljana's coordinator,
a researcher and an admin. Each cell is the status that caller must get. The
data each row works on is made fresh for the row (a campaign of Kranj, the
owner enrolled in it, an action, a device, a message and a held day total of
the owner), so a row that changes something cannot disturb another.

An operation served but missing from the table fails the test: a new route
states who may call it here before it can land.

``GET /metrics`` (served when ``UPSCALE_METRICS_TOKEN`` is set) is the one route
outside the API document and so outside this table: only the scraper's token
opens it, which ``tests/observability/test_metrics.py`` checks for every kind
of caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.factories import Resident, action, campaign_definition, coordinator_of, settings_for_tests
from upscale_api import db
from upscale_api.opendata.service import publish_all
from upscale_api.research import service as research
from upscale_api.research.store import apply_studies
from upscale_api.research.structs import Study
from upscale_api.roles.service import grant_role
from upscale_api.scoring.service import tick

CALLERS = ("anonymous", "owner", "neighbour", "stranger", "coordinator", "other_coordinator", "researcher", "admin")
"""The columns of the table, in this order."""

ASKED_IN_THIS_ORDER = (
    "anonymous",
    "neighbour",
    "stranger",
    "other_coordinator",
    "researcher",
    "coordinator",
    "admin",
    "owner",
)
"""Those who may change the row's data go last, so that a refusal is never explained by a change already made."""

DEVICE = {"platform": "android", "app_version": "1.4.0", "registration_token": "owner-token"}
MESSAGE = {"title": {"sl": "Pozdrav", "en": "Hello"}, "body": {"sl": "Besedilo", "en": "Text"}}


@dataclass
class World:
    """The data a row works on; the owner's ids are what the other callers try to reach."""

    callers: dict[str, Resident]
    campaign: dict[str, Any]
    action_id: str
    installation_id: str
    notification_id: int
    study: str
    export_id: str
    entry_id: int | None = None
    partner: dict[str, Any] | None = None
    """A Kranj partner with a reward of 10 points (rows with ``rewards``)."""
    key_id: int | None = None
    redemption: dict[str, Any] | None = None
    """The owner's redemption of that reward (rows with ``rewards``)."""

    @property
    def owner(self) -> Resident:
        return self.callers["owner"]

    def secrets(self) -> list[str]:
        """What identifies the owner's data; no caller but the owner and the city's staff may see it."""
        redemption = [self.redemption["id"], self.redemption["code"]] if self.redemption else []
        return [self.owner.uid, self.action_id, self.installation_id, *redemption]


Body = Callable[[World, str], Any]
"""A row's request body, from the row's data and the caller's name."""


@dataclass(frozen=True)
class Row:
    """Expected statuses in the order of :data:`CALLERS`, and how to call the operation."""

    statuses: tuple[int, int, int, int, int, int, int, int]
    body: Body | None = None
    query: dict[str, str] = field(default_factory=dict)
    held_entry: bool = False
    """The row needs a held day total of the owner (one scoring run)."""
    rewards: bool = False
    """The row needs a partner, the owner's points (one scoring run), a redemption and a city card."""
    open_data: bool = False
    """The row needs Kranj's open aggregates published."""


def _redemption(world: World, who: str) -> dict[str, Any]:
    assert world.partner is not None
    return {"id": str(uuid.uuid4()), "reward": world.partner["reward"][0]["code"]}


def _card(world: World, who: str) -> dict[str, str]:
    return {"number": f"63{uuid.uuid4().int % 10**14:014d}"}


def _own_city(world: World, who: str) -> dict[str, Any]:
    return world.campaign | ({"cities": ["ljubljana"]} if who == "other_coordinator" else {})


def row(
    *statuses: int,
    body: Body | None = None,
    held_entry: bool = False,
    rewards: bool = False,
    open_data: bool = False,
    **query: str,
) -> Row:
    assert len(statuses) == len(CALLERS)
    return Row(statuses, body, query, held_entry=held_entry, rewards=rewards, open_data=open_data)  # type: ignore[arg-type]


EVERYONE_200 = row(200, 200, 200, 200, 200, 200, 200, 200)
NO_FIREBASE_TOKEN = row(401, 401, 401, 401, 401, 401, 401, 401)
RESIDENTS_ONLY = row(401, 200, 200, 200, 404, 404, 404, 404)
"""``/v1/me`` reads: each resident gets their own data; staff who never registered as residents get 404."""
OWNER_ONLY = row(401, 204, 404, 404, 404, 404, 404, 404)
"""The owner's id in a ``/v1/me`` path: to anyone else it does not exist."""
CITY_STAFF = row(401, 403, 403, 403, 200, 403, 403, 200)
"""A Kranj campaign's coordinator routes: Kranj's coordinator and admins; another city's coordinator is refused."""

STUDY_STAFF = row(401, 403, 403, 403, 403, 403, 200, 200)
"""A study's researcher routes: its researchers and admins."""
SERVICE_CONSENT = {"purpose": "service", "version": 1, "granted": True}

#   anonymous, owner, neighbour, stranger, coordinator, other coordinator, researcher, admin
TABLE: dict[str, Row] = {
    "GET /health/live": EVERYONE_200,
    "GET /health/ready": EVERYONE_200,
    "GET /v1/cities": EVERYONE_200,
    "GET /v1/cities/{city}/action-types": EVERYONE_200,
    # Open data: for anyone, and never a resident's id.
    "GET /v1/open/catalog": EVERYONE_200,
    "GET /v1/open/cities/{city}/dataset": EVERYONE_200,
    "GET /v1/open/cities/{city}/stats": row(200, 200, 200, 200, 200, 200, 200, 200, open_data=True),
    "GET /v1/open/cities/{city}/stats.csv": row(200, 200, 200, 200, 200, 200, 200, 200, open_data=True),
    "GET /v1/me": RESIDENTS_ONLY,
    # Each caller erases their own account (staff: their roles); nobody reaches another's.
    "DELETE /v1/me": row(401, 204, 204, 204, 204, 204, 204, 204),
    "GET /v1/me/export": RESIDENTS_ONLY,
    "PUT /v1/me": row(401, 200, 200, 200, 201, 201, 201, 201, body=lambda w, who: {"city": "kranj"}),
    "GET /v1/me/actions": RESIDENTS_ONLY,
    "POST /v1/me/actions": row(401, 201, 201, 201, 404, 404, 404, 404, body=lambda w, who: action()),
    "POST /v1/me/actions/batch": row(
        401, 200, 200, 200, 404, 404, 404, 404, body=lambda w, who: {"actions": [action()]}
    ),
    "DELETE /v1/me/actions/{action_id}": OWNER_ONLY,
    "GET /v1/me/impact": RESIDENTS_ONLY,
    "GET /v1/me/devices": row(401, 200, 200, 200, 200, 200, 200, 200),  # staff have none: []
    # Another resident knows the owner's installation id but not the token only the owner's phone holds.
    "PUT /v1/me/devices/{installation_id}": row(
        401, 200, 409, 409, 404, 404, 404, 404, body=lambda w, who: DEVICE | {"registration_token": "guessed"}
    ),
    "DELETE /v1/me/devices/{installation_id}": OWNER_ONLY,
    "GET /v1/me/notification-settings": RESIDENTS_ONLY,
    "PATCH /v1/me/notification-settings": row(
        401, 200, 200, 200, 404, 404, 404, 404, body=lambda w, who: {"daily_cap": 2}
    ),
    "GET /v1/me/notifications": RESIDENTS_ONLY,
    "POST /v1/me/notifications/{notification_id}/read": OWNER_ONLY,
    # A Kranj campaign does not exist for a Ljubljana resident.
    "GET /v1/campaigns": RESIDENTS_ONLY,
    "GET /v1/campaigns/{code}": row(401, 200, 200, 404, 404, 404, 404, 404),
    "POST /v1/campaigns/{code}/enrolment": row(401, 200, 201, 404, 404, 404, 404, 404, body=lambda w, who: {}),
    # Leaving is idempotent: a Kranj resident who never enrolled has left already.
    "DELETE /v1/campaigns/{code}/enrolment": row(401, 204, 204, 404, 404, 404, 404, 404),
    "POST /v1/campaigns/{code}/teams": row(
        401, 201, 201, 404, 404, 404, 404, 404, body=lambda w, who: {"name": f"Team {uuid.uuid4().hex[:6]}"}
    ),
    "GET /v1/campaigns/{code}/leaderboard": row(401, 200, 200, 404, 404, 404, 404, 404),
    "GET /v1/me/campaigns/{code}": row(401, 200, 404, 404, 404, 404, 404, 404),
    # Staff routes. Every coordinator lists the campaigns of their own cities only.
    "GET /v1/admin/campaigns": row(401, 403, 403, 403, 200, 200, 403, 200),
    "GET /v1/admin/campaigns/{code}": CITY_STAFF,
    # Ljubljana's coordinator tries to take the campaign over by naming their own city in the body.
    "PUT /v1/admin/campaigns/{code}": row(401, 403, 403, 403, 200, 403, 403, 200, body=_own_city),
    "GET /v1/admin/campaigns/{code}/teams": CITY_STAFF,
    "GET /v1/admin/campaigns/{code}/stats": CITY_STAFF,
    "GET /v1/admin/campaigns/{code}/recognition": CITY_STAFF,
    "GET /v1/admin/campaigns/{code}/recognition.csv": CITY_STAFF,
    "GET /v1/admin/campaigns/{code}/contest": CITY_STAFF,
    "GET /v1/admin/campaigns/{code}/contest.csv": CITY_STAFF,
    "POST /v1/admin/campaigns/{code}/broadcasts": row(
        401, 403, 403, 403, 200, 403, 403, 200, body=lambda w, who: MESSAGE | {"dry_run": True}
    ),
    "GET /v1/admin/cities/{code}/impact": CITY_STAFF,
    # Another city's held entry answers 404, as if it did not exist.
    "GET /v1/admin/held-entries": row(401, 403, 403, 403, 200, 200, 403, 200, held_entry=True),
    "GET /v1/admin/held-entries/{entry_id}": row(401, 403, 403, 403, 200, 404, 403, 200, held_entry=True),
    "POST /v1/admin/held-entries/{entry_id}/decision": row(
        401, 403, 403, 403, 200, 404, 403, 200, held_entry=True, body=lambda w, who: {"decision": "accept"}
    ),
    # Consents, demographics and surveys are the caller's own; staff never registered as residents.
    "GET /v1/me/consents": RESIDENTS_ONLY,
    "PUT /v1/me/consents": row(
        401, 200, 200, 200, 404, 404, 404, 404, body=lambda w, who: {"decisions": [SERVICE_CONSENT]}
    ),
    "GET /v1/me/consents/history": RESIDENTS_ONLY,
    "GET /v1/me/demographics": RESIDENTS_ONLY,
    # Only under the demographics consent, which nobody here granted.
    "PUT /v1/me/demographics": row(401, 409, 409, 409, 404, 404, 404, 404, body=lambda w, who: {"birth_year": 1990}),
    "GET /v1/me/surveys": RESIDENTS_ONLY,
    # The owner takes part in the study; for anyone else its wave is not open.
    "PUT /v1/me/surveys/{study}/{wave}": row(
        401, 201, 404, 404, 404, 404, 404, 404, body=lambda w, who: {"answers": {"car_days_per_week": 2}}
    ),
    # Research routes: the study's researchers and admins; never a resident or a coordinator.
    "GET /v1/research/studies": STUDY_STAFF,
    "GET /v1/research/studies/{study}": STUDY_STAFF,
    "POST /v1/research/studies/{study}/exports": row(401, 403, 403, 403, 403, 403, 202, 202, body=lambda w, who: {}),
    "GET /v1/research/studies/{study}/exports": STUDY_STAFF,
    "GET /v1/research/studies/{study}/exports/{export_id}": STUDY_STAFF,
    # The world's export is still queued: its files are not served yet.
    "GET /v1/research/studies/{study}/exports/{export_id}/files/{name}": row(401, 403, 403, 403, 403, 403, 409, 409),
    # Rewards. A city's rewards are public; balances and redemptions are each resident's own.
    "GET /v1/cities/{city}/rewards": EVERYONE_200,
    "GET /v1/me/rewards": RESIDENTS_ONLY,
    "GET /v1/me/points": RESIDENTS_ONLY,
    "GET /v1/me/points/{city}": RESIDENTS_ONLY,
    # Only the owner has points; the others' redemption is refused for want of them.
    "POST /v1/me/redemptions": row(401, 201, 409, 409, 404, 404, 404, 404, rewards=True, body=_redemption),
    "GET /v1/me/redemptions": row(401, 200, 200, 200, 404, 404, 404, 404, rewards=True),
    "POST /v1/me/redemptions/{redemption_id}/cancellation": row(401, 200, 404, 404, 404, 404, 404, 404, rewards=True),
    "GET /v1/me/city-card": row(401, 200, 404, 404, 404, 404, 404, 404, rewards=True),
    "PUT /v1/me/city-card": row(401, 200, 201, 201, 404, 404, 404, 404, rewards=True, body=_card),
    "DELETE /v1/me/city-card": row(401, 204, 204, 204, 404, 404, 404, 404, rewards=True),
    # The partner API takes a partner's API key, never a Firebase token (its callers: tests/rewards/test_partners.py).
    "GET /v1/partner": NO_FIREBASE_TOKEN,
    "GET /v1/partner/redemptions": NO_FIREBASE_TOKEN,
    "GET /v1/partner/redemptions/{code}": NO_FIREBASE_TOKEN,
    "POST /v1/partner/redemptions/{code}/use": NO_FIREBASE_TOKEN,
    "POST /v1/partner/keys": NO_FIREBASE_TOKEN,
    "GET /v1/admin/cities/{code}/partners": row(401, 403, 403, 403, 200, 403, 403, 200, rewards=True),
    "PUT /v1/admin/cities/{code}/partners/{partner}": row(
        401, 403, 403, 403, 200, 403, 403, 200, rewards=True, body=lambda w, who: w.partner
    ),
    "POST /v1/admin/cities/{code}/partners/{partner}/keys": row(401, 403, 403, 403, 201, 403, 403, 201, rewards=True),
    "DELETE /v1/admin/cities/{code}/partners/{partner}/keys/{key_id}": row(
        401, 403, 403, 403, 204, 403, 403, 204, rewards=True
    ),
    "GET /v1/admin/cities/{code}/redemptions": row(401, 403, 403, 403, 200, 403, 403, 200, rewards=True),
}


@pytest.fixture(scope="module")
async def served_operations(client: AsyncTestClient[Any]) -> list[str]:
    document = (await client.get("/schema/openapi.json")).json()
    methods = {"get", "put", "post", "patch", "delete"}
    return sorted(f"{m.upper()} {path}" for path, item in document["paths"].items() for m in item if m in methods)


async def test_every_served_operation_is_in_the_table(served_operations: list[str]) -> None:
    assert sorted(TABLE) == served_operations


async def _staff(client: AsyncTestClient[Any], pool: db.Pool, study: str) -> dict[str, Resident]:
    researcher = Resident(uid=f"researcher-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, researcher.uid, "researcher", None, granted_by="test", study=study)
    admin = Resident(uid=f"admin-{uuid.uuid4().hex}", client=client)
    await grant_role(pool, admin.uid, "admin", None, granted_by="test")
    return {
        "coordinator": await coordinator_of("kranj", client, pool),
        "other_coordinator": await coordinator_of("ljubljana", client, pool),
        "researcher": researcher,
        "admin": admin,
    }


async def _world(client: AsyncTestClient[Any], pool: db.Pool, make_resident: MakeResident, rule: Row) -> World:
    owner, neighbour = await make_resident("kranj"), await make_resident("kranj")
    campaign = msgspec.to_builtins(
        campaign_definition(
            cities=["kranj"], team=[], question=[], challenge=[], residents_create_teams=True, enrolment="open"
        )
    )
    study = f"study-{campaign['code']}"
    callers = {
        "anonymous": Resident(uid="", client=client),
        "owner": owner,
        "neighbour": neighbour,
        "stranger": await make_resident("ljubljana"),
        **await _staff(client, pool, await _study(pool, client, campaign, study)),
    }
    consented = await owner.put("/v1/me/consents", json={"decisions": [RESEARCH_CONSENT]})
    assert consented.status_code == 200, consented.text
    assert (await owner.post(f"/v1/campaigns/{campaign['code']}/enrolment", json={})).status_code == 201
    logged = await owner.log()
    assert logged.status_code == 201, logged.text
    installation_id = f"fid-{uuid.uuid4().hex}"
    assert (await owner.put(f"/v1/me/devices/{installation_id}", json=DEVICE)).status_code == 201
    sent = await callers["coordinator"].post(f"/v1/admin/campaigns/{campaign['code']}/broadcasts", json=MESSAGE)
    assert sent.json()["recipients"] == 1
    (message,) = (await owner.get("/v1/me/notifications")).json()["items"]
    async with pool.acquire() as conn:
        study_id = await research.study_id(pool, study)
        assert study_id is not None
        export_id = await research.create_export(conn, study_id, "test", "api", {})
    world = World(callers, campaign, logged.json()["id"], installation_id, message["id"], study, str(export_id))
    if rule.held_entry:
        world.entry_id = await _held_entry_of(owner, pool)
    if rule.rewards:
        await _rewards_of(world, pool)
    if rule.open_data:
        await tick(pool, datetime.now(UTC))
        await publish_all(pool, settings_for_tests(), datetime.now(UTC))
    return world


async def _rewards_of(world: World, pool: db.Pool) -> None:
    """A Kranj partner with a reward of 10 points; the owner earns points (one scoring run), redeems
    it and links a city card."""
    code = f"partner-{uuid.uuid4().hex[:10]}"
    world.partner = {
        "code": code,
        "kind": "shop",
        "name": MESSAGE["title"],
        "description": MESSAGE["body"],
        "reward": [{"code": f"{code}-r", "title": MESSAGE["title"], "description": MESSAGE["body"], "cost": 10}],
    }
    coordinator = world.callers["coordinator"]
    created = await coordinator.put(f"/v1/admin/cities/kranj/partners/{code}", json=world.partner)
    assert created.status_code == 201, created.text
    key = await coordinator.post(f"/v1/admin/cities/kranj/partners/{code}/keys")
    world.key_id = key.json()["info"]["id"]
    await tick(pool, datetime.now(UTC))
    redeemed = await world.owner.post("/v1/me/redemptions", json=_redemption(world, "owner"))
    assert redeemed.status_code == 201, redeemed.text
    world.redemption = redeemed.json()
    assert (await world.owner.put("/v1/me/city-card", json=_card(world, "owner"))).status_code == 201


async def _held_entry_of(owner: Resident, pool: db.Pool) -> int:
    """2 x 60 km cycled in a day is over its plausible 100 km: the scoring run holds the day for review."""
    now = datetime.now(ZoneInfo("Europe/Ljubljana"))
    earlier_today = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    for _ in range(2):
        logged = await owner.log("cycle-instead-of-car", 60, performed_at=earlier_today.isoformat())
        assert logged.status_code == 201, logged.text
    await tick(pool, datetime.now(UTC))
    entry_id: int = await pool.fetchval(
        "SELECT h.id FROM held_days h JOIN residents r ON r.id = h.resident_id WHERE r.firebase_uid = $1",
        owner.uid,
    )
    assert entry_id is not None
    return entry_id


RESEARCH_CONSENT = {"purpose": "research", "version": 1, "granted": True}


async def _study(pool: db.Pool, client: AsyncTestClient[Any], campaign: dict[str, Any], code: str) -> str:
    """A study of the campaign (made over the API by the coordinator, stored here), with a baseline survey."""
    coordinator = await coordinator_of("kranj", client, pool)
    created = await coordinator.put(f"/v1/admin/campaigns/{campaign['code']}", json=campaign)
    assert created.status_code == 201, created.text
    study = msgspec.convert(
        {
            "code": code,
            "title": {"sl": "Raziskava", "en": "Study"},
            "description": {"sl": "Opis", "en": "About"},
            "campaigns": [campaign["code"]],
            "seed": "authorization-table",
            "arm": [
                {"code": "control", "control": True, "title": {"sl": "K", "en": "C"}},
                {"code": "treated", "title": {"sl": "T", "en": "T"}},
            ],
            "wave": [{"code": "baseline", "survey": "travel-habits", "opens": "enrolment"}],
        },
        Study,
    )
    async with pool.acquire() as conn, conn.transaction():
        _, problems = await apply_studies(conn, [("kranj", study)], "file")
    assert problems == []
    return code


def _path(template: str, world: World) -> str:
    code = "kranj" if template.startswith("/v1/admin/cities/") else world.campaign["code"]
    values = {
        "city": "kranj",
        "code": code,
        "action_id": world.action_id,
        "installation_id": world.installation_id,
        "notification_id": world.notification_id,
        "entry_id": world.entry_id,
        "study": world.study,
        "wave": "baseline",
        "export_id": world.export_id,
        "name": "datapackage.json",
        "partner": world.partner["code"] if world.partner else None,
        "key_id": world.key_id,
        "redemption_id": world.redemption["id"] if world.redemption else None,
    }
    return template.format(**values)


async def _call(name: str, method: str, path: str, rule: Row, world: World) -> httpx.Response:
    caller = world.callers[name]
    headers = caller.headers if caller.uid else {}
    kwargs: dict[str, Any] = {"headers": headers, "params": rule.query}
    if rule.body is not None:
        kwargs["json"] = rule.body(world, name)
    return await caller.client.request(method, path, **kwargs)


@pytest.mark.parametrize("operation", sorted(TABLE))
async def test_who_may_call_what(
    operation: str, client: AsyncTestClient[Any], pool: db.Pool, make_resident: MakeResident
) -> None:
    rule = TABLE[operation]
    method, template = operation.split(" ")
    world = await _world(client, pool, make_resident, rule)
    path = _path(template, world)
    expected = dict(zip(CALLERS, rule.statuses, strict=True))

    got: dict[str, int] = {}
    leaks: dict[str, list[str]] = {}
    for name in ASKED_IN_THIS_ORDER:
        response = await _call(name, method, path, rule, world)
        got[name] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), response.text
        if name not in ("owner", "coordinator", "admin"):
            leaks[name] = [s for s in world.secrets() if s in response.text and s not in path]

    assert {name: got[name] for name in CALLERS} == expected
    assert leaks == {name: [] for name in leaks}
