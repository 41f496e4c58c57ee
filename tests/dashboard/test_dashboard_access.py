"""Who may open which dashboard page: every route under /dashboard against the eight callers
of the API's authorization table.

Dashboard routes are HTML, not in the API document, so the API's table does not see them; this
table is read from the app's own routes instead, and a dashboard route missing here fails the
test. Residents and researchers cannot sign in (the sign-in refuses them), so every page sends
them to the sign-in page (303), as it does anyone without a session; a coordinator of another
city signs in but is refused Kranj's pages (403; a held entry of Kranj does not exist for them,
404). Unsafe requests carry the session's CSRF token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident
from tests.dashboard.conftest import Browser
from tests.factories import TEXT, campaign_definition, coordinator_of
from tests.research.conftest import study_definition
from upscale_api import db
from upscale_api.app import create_app
from upscale_api.research.store import apply_studies
from upscale_api.roles.service import grant_role
from upscale_api.scoring.service import tick
from upscale_api.settings import load_settings

CALLERS = ("anonymous", "owner", "neighbour", "stranger", "coordinator", "other_coordinator", "researcher", "admin")
OUT = 303  # sent to the sign-in page

Form = dict[str, str]


@dataclass(frozen=True)
class Row:
    statuses: tuple[int, ...]
    form: Form | None = None
    query: dict[str, str] = field(default_factory=dict)
    held_entry: bool = False


def row(*statuses: int, form: Form | None = None, held_entry: bool = False, **query: str) -> Row:
    assert len(statuses) == len(CALLERS)
    return Row(statuses, form, query, held_entry)


STAFF_PAGE = row(OUT, OUT, OUT, OUT, 200, 200, OUT, 200)
KRANJ_PAGE = row(OUT, OUT, OUT, OUT, 200, 403, OUT, 200)
NEW_CAMPAIGN: Form = {
    "code": "__CODE__",
    "title.sl": "Nova",
    "title.en": "New",
    "description.sl": "Opis",
    "description.en": "Text",
    "action[0].type": "cycle-instead-of-car",
    "action[0].points_per_unit": "10",
}

#   anonymous, owner, neighbour, stranger, coordinator, other coordinator, researcher, admin
TABLE: dict[str, Row] = {
    "GET /dashboard/sign-in": row(200, 200, 200, 200, 200, 200, 200, 200),
    # Residents and researchers are refused a session; without a token the page says so (401).
    "POST /dashboard/sign-in": row(401, 403, 403, 403, 303, 303, 403, 303),
    "GET /dashboard/static/{file_path:path}": row(200, 200, 200, 200, 200, 200, 200, 200),
    "POST /dashboard/sign-out": row(OUT, OUT, OUT, OUT, 303, 303, OUT, 303),
    "GET /dashboard": STAFF_PAGE,
    "GET /dashboard/campaigns/new": STAFF_PAGE,
    # Each coordinator creates a campaign of their own city.
    "POST /dashboard/campaigns/new": row(OUT, OUT, OUT, OUT, 303, 303, OUT, 303, form=NEW_CAMPAIGN),
    "GET /dashboard/campaigns/{code:str}": KRANJ_PAGE,
    "GET /dashboard/campaigns/{code:str}/recognition.csv": KRANJ_PAGE,
    "GET /dashboard/campaigns/{code:str}/contest.csv": KRANJ_PAGE,
    "GET /dashboard/campaigns/{code:str}/edit": KRANJ_PAGE,
    "POST /dashboard/campaigns/{code:str}/edit": row(
        OUT, OUT, OUT, OUT, 303, 403, OUT, 303, form={"title.en": "Renamed"}
    ),
    "GET /dashboard/campaigns/{code:str}/broadcast": KRANJ_PAGE,
    "POST /dashboard/campaigns/{code:str}/broadcast": row(
        OUT,
        OUT,
        OUT,
        OUT,
        200,
        403,
        OUT,
        200,
        form={
            "title.sl": "Pozdrav",
            "title.en": "Hello",
            "body.sl": "Besedilo",
            "body.en": "Text",
            "action": "preview",
        },
    ),
    "GET /dashboard/held-entries": row(OUT, OUT, OUT, OUT, 200, 200, OUT, 200, held_entry=True),
    "POST /dashboard/held-entries/{entry_id:int}/decision": row(
        OUT, OUT, OUT, OUT, 200, 404, OUT, 200, held_entry=True, form={"decision": "accept"}
    ),
    "GET /dashboard/cities/{code:str}/impact": KRANJ_PAGE,
    "GET /dashboard/cities/{code:str}/impact.csv": KRANJ_PAGE,
}


def dashboard_routes() -> list[str]:
    app = create_app(load_settings({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}))
    found = set()
    for route in app.routes:
        if not route.path.startswith("/dashboard"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("HEAD", "OPTIONS"):
                    found.add(f"{method} {route.path}")
    return sorted(found)


def test_every_dashboard_route_is_in_the_table() -> None:
    assert sorted(TABLE) == dashboard_routes()


async def test_dashboard_routes_are_not_in_the_api_document(client: AsyncTestClient[Any]) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert [path for path in document["paths"] if path.startswith("/dashboard")] == []


@dataclass
class World:
    browsers: dict[str, Browser]
    uids: dict[str, str]
    campaign: str
    entry_id: int | None = None


async def _world(client: AsyncTestClient[Any], pool: db.Pool, make_resident: MakeResident, held: bool) -> World:
    owner, neighbour, stranger = (
        await make_resident("kranj"),
        await make_resident("kranj"),
        await make_resident("ljubljana"),
    )
    researcher, admin = f"researcher-{uuid.uuid4().hex}", f"admin-{uuid.uuid4().hex}"
    await grant_role(pool, admin, "admin", None, granted_by="test")
    coordinator = await coordinator_of("kranj", client, pool)
    other = await coordinator_of("ljubljana", client, pool)
    uids = {
        "owner": owner.uid, "neighbour": neighbour.uid, "stranger": stranger.uid, "coordinator": coordinator.uid,
        "other_coordinator": other.uid, "researcher": researcher, "admin": admin,
    }  # fmt: skip
    campaign = msgspec.to_builtins(
        campaign_definition(
            cities=["kranj"], challenge=[], question=[], team=[{"code": "a", "kind": "school", "name": "A"}]
        )
    )
    assert (await coordinator.put(f"/v1/admin/campaigns/{campaign['code']}", json=campaign)).status_code == 201
    assert (await owner.post(f"/v1/campaigns/{campaign['code']}/enrolment", json={"team": "a"})).status_code == 201
    study = study_definition(
        campaign["code"], arm=[{"code": "control", "control": True, "title": TEXT}, {"code": "other", "title": TEXT}]
    )
    async with pool.acquire() as conn, conn.transaction():
        assert (await apply_studies(conn, [("kranj", study)], "file"))[1] == []
    await grant_role(pool, researcher, "researcher", None, granted_by="test", study=study.code)
    entry_id = None
    if held:
        now = datetime.now(ZoneInfo("Europe/Ljubljana"))
        earlier_today = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
        for _ in range(2):
            assert (
                await owner.log("cycle-instead-of-car", 60, performed_at=earlier_today.isoformat())
            ).status_code == 201
        await tick(pool, datetime.now(UTC))
        entry_id = await pool.fetchval(
            "SELECT h.id FROM held_days h JOIN residents r ON r.id = h.resident_id WHERE r.firebase_uid = $1", owner.uid
        )
    browsers = {name: Browser(client) for name in CALLERS}
    for name, uid in uids.items():
        await browsers[name].sign_in(uid)
    return World(browsers, uids, campaign["code"], entry_id)


@pytest.mark.parametrize("operation", sorted(TABLE))
async def test_who_may_open_what(
    operation: str, client: AsyncTestClient[Any], pool: db.Pool, make_resident: MakeResident
) -> None:
    rule = TABLE[operation]
    method, template = operation.split(" ")
    world = await _world(client, pool, make_resident, rule.held_entry)
    path = (
        template.replace("{code:str}", "kranj" if "/cities/" in template else world.campaign)
        .replace("{entry_id:int}", str(world.entry_id))
        .replace("{file_path:path}", "dashboard.css")
    )
    got = {}
    for name in (
        "anonymous",
        "owner",
        "neighbour",
        "stranger",
        "researcher",
        "other_coordinator",
        "coordinator",
        "admin",
    ):
        browser = world.browsers[name]
        if method == "GET":
            response = await browser.get(path, params=rule.query)
        elif template == "/dashboard/sign-in":
            uid = world.uids.get(name)
            response = await Browser(client).sign_in(uid) if uid else await browser.post(path, {}, csrf=False)
        else:
            form = {k: v.replace("__CODE__", f"t-{uuid.uuid4().hex[:10]}") for k, v in (rule.form or {}).items()}
            response = await browser.post(path, form)
        got[name] = response.status_code
        if response.status_code == OUT:
            assert response.headers["location"].startswith(("/dashboard/sign-in", "/dashboard/", "/dashboard")), name
    assert {name: got[name] for name in CALLERS} == dict(zip(CALLERS, rule.statuses, strict=True))
