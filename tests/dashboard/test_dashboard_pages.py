"""The dashboard's pages as a coordinator uses them: signing in and out, the session cookie,
CSRF, the editor's errors beside their fields, deciding held entries, a broadcast's preview,
the city report, both languages; and bad input never answered with a 5xx."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeCampaign, MakeResident
from tests.dashboard.conftest import SESSION_COOKIE, Browser, editor_fields
from tests.factories import ROOT, Resident, campaign_definition, settings_for_tests
from upscale_api import db
from upscale_api.dashboard.routes import session_config
from upscale_api.dashboard.texts import TEXTS
from upscale_api.roles.service import revoke_role
from upscale_api.scoring.service import tick


async def _api_campaign(coordinator: Resident, **overrides: Any) -> dict[str, Any]:
    team = [{"code": "school", "kind": "school", "name": "OŠ Test"}]
    campaign = msgspec.to_builtins(campaign_definition(**{"cities": ["kranj"], "team": team} | overrides))
    created = await coordinator.put(f"/v1/admin/campaigns/{campaign['code']}", json=campaign)
    assert created.status_code == 201, created.text
    return campaign


async def test_signing_in_gives_an_httponly_samesite_session_under_a_fresh_id(
    browser: Browser, coordinator: Resident, pool: db.Pool
) -> None:
    browser.session = "planted-by-someone-else"
    response = await browser.sign_in(coordinator.uid)

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; production sets it (below)
    assert browser.session not in (None, "planted-by-someone-else")
    # The table holds a hash of the id, never the id.
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM dashboard_sessions WHERE key_hash = sha256(convert_to($1, 'UTF8'))", browser.session
        )
        == 1
    )
    assert await pool.fetchval("SELECT count(*) FROM dashboard_sessions WHERE value::text LIKE '%' || $1 || '%'",
                                browser.session) == 0  # fmt: skip
    page = await browser.get("/dashboard/")
    assert page.status_code == 200
    assert coordinator.uid in page.text
    # Scripts only from the app, never framed by another site, kept off shared caches.
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"

    # A page that leaves the session as it was does not write it again; choosing a language does.
    def version() -> Any:
        return pool.fetchval(
            "SELECT xmin::text FROM dashboard_sessions WHERE key_hash = sha256(convert_to($1, 'UTF8'))", browser.session
        )

    written = await version()
    await browser.get("/dashboard/held-entries")
    assert await version() == written
    await browser.get("/dashboard/held-entries", params={"lang": "sl"})
    assert await version() != written


def test_the_session_cookie_is_secure_in_production() -> None:
    production = session_config(settings_for_tests(UPSCALE_ENV="production", FIREBASE_AUTH_EMULATOR_HOST=""))
    assert (production.secure, production.httponly, production.samesite) == (True, True, "lax")
    assert session_config(settings_for_tests()).secure is False


async def test_the_sign_in_page_stores_nothing_for_visitors(browser: Browser, pool: db.Pool) -> None:
    before = await pool.fetchval("SELECT count(*) FROM dashboard_sessions")
    response = await browser.get("/dashboard/sign-in")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert await pool.fetchval("SELECT count(*) FROM dashboard_sessions") == before


async def test_signing_out_ends_the_session_on_the_server(browser: Browser, coordinator: Resident) -> None:
    await browser.sign_in(coordinator.uid)
    session = browser.session

    response = await browser.post("/dashboard/sign-out")

    assert response.status_code == 303
    browser.session = session  # a copy of the old cookie no longer works
    assert (await browser.get("/dashboard/")).status_code == 303


async def test_a_revoked_coordinator_is_refused_at_the_next_page(
    browser: Browser, coordinator: Resident, pool: db.Pool
) -> None:
    await browser.sign_in(coordinator.uid)
    await revoke_role(pool, coordinator.uid, "coordinator", "kranj")

    response = await browser.get("/dashboard/")

    assert response.status_code == 403
    assert "Access refused" in response.text


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    browser: Browser, coordinator: Resident, pool: db.Pool
) -> None:
    campaign = await _api_campaign(coordinator)
    await browser.sign_in(coordinator.uid)
    path = f"/dashboard/campaigns/{campaign['code']}/edit"

    missing = await browser.post(path, {"title.en": "Hijacked"}, csrf=False)
    wrong = await browser.post(path, {"title.en": "Hijacked", "_csrf": "guessed"}, csrf=False)
    other_header = await browser.post(path, {"title.en": "Hijacked"}, csrf=False, headers={"X-CSRF-Token": "guessed"})

    assert [missing.status_code, wrong.status_code, other_header.status_code] == [403, 403, 403]
    stored = await pool.fetchval(
        "SELECT definition -> 'title' ->> 'en' FROM campaigns WHERE code = $1", campaign["code"]
    )
    assert stored == campaign["title"]["en"]
    # With the token, as htmx sends it in a header, it goes through.
    saved = await browser.post(path, {"title.en": "Renamed"}, csrf=False, headers={"X-CSRF-Token": browser.csrf})
    assert saved.status_code == 303
    assert (
        await pool.fetchval("SELECT definition -> 'title' ->> 'en' FROM campaigns WHERE code = $1", campaign["code"])
        == "Renamed"
    )


async def test_the_editor_shows_each_error_beside_its_field_and_stores_nothing(
    browser: Browser, coordinator: Resident, pool: db.Pool
) -> None:
    campaign = await _api_campaign(coordinator)
    await browser.sign_in(coordinator.uid)
    path = f"/dashboard/campaigns/{campaign['code']}/edit"
    editor = await browser.get(path)
    assert editor.status_code == 200
    assert 'name="challenge[2].rule.share" type="number" value="0.5"' in editor.text
    # Posted as it is, nothing changes.
    unchanged = await browser.post(path, [(n, v) for n, v in editor_fields(editor.text) if n != "_csrf"])
    assert unchanged.status_code == 303, unchanged.text
    served = (await coordinator.get(f"/v1/admin/campaigns/{campaign['code']}")).json()["definition"]
    assert served == campaign | {"ranking": {"measure": "points_per_member", "action_types": []}}

    changes = {
        "title.sl": "",
        "ends_on": (datetime.now(UTC).date() - timedelta(days=400)).isoformat(),
        "challenge[2].rule.share": "50",
        "ranking.measure": "km",
    }
    response = await browser.post(path, [(n, v) for n, v in editor_fields(editor.text, **changes) if n != "_csrf"])

    assert response.status_code == 422
    errors = dict(re.findall(r'<p class="error" id="f-([a-z0-9-]+)-error" role="alert">([^<]+)</p>', response.text))
    assert errors["title-sl"] == "must not be empty"
    assert errors["challenge-2-rule-share"].startswith("must be a fraction above 0 and at most 1")
    assert errors["ranking-measure"].startswith("&#39;km&#39; is not one of points_per_member")
    assert 'aria-invalid="true" aria-describedby="f-challenge-2-rule-share-error"' in response.text
    # The checks a type cannot express (as for files and the API) come once the fields are well formed.
    early_end = {"ends_on": changes["ends_on"]}
    response = await browser.post(path, [(n, v) for n, v in editor_fields(editor.text, **early_end) if n != "_csrf"])
    assert response.status_code == 422
    assert '<p class="error" id="f-ends-on-error" role="alert">must not be before starts_on</p>' in response.text
    assert (
        await pool.fetchval("SELECT definition ->> 'ends_on' FROM campaigns WHERE code = $1", campaign["code"])
        == (campaign["ends_on"])
    )


async def test_a_campaign_made_in_the_editor_is_the_one_the_api_serves(browser: Browser, coordinator: Resident) -> None:
    await browser.sign_in(coordinator.uid)
    code = f"t-{uuid.uuid4().hex[:10]}"
    response = await browser.post(
        "/dashboard/campaigns/new",
        [
            ("code", code),
            ("title.sl", "Šole kolesarijo"),
            ("title.en", "Schools cycle"),
            ("description.sl", "Opis"),
            ("description.en", "Text"),
            ("status", "scheduled"),
            ("action[0].type", "cycle-instead-of-car"),
            ("action[0].points_per_unit", "10"),
            ("team[0].code", "os-orehek"),
            ("team[0].name", "OŠ Orehek"),
            ("team[0].kind", "school"),
            ("team[1].code", "dropped"),
            ("team[1].name", "Dropped"),
            ("team[1]._remove", "1"),
            ("challenge[0].code", "half"),
            ("challenge[0].title.sl", "Pol"),
            ("challenge[0].title.en", "Half"),
            ("challenge[0].description.sl", "Pol"),
            ("challenge[0].description.en", "Half"),
            ("challenge[0].rule.kind", "team_participation"),
            ("challenge[0].rule.share", "0.5"),
            ("challenge[0].rule.target", "99"),  # a field of another rule kind, ignored
            ("challenge[0].rule.member_rule.kind", "distinct_days"),
            ("challenge[0].rule.member_rule.days", "15"),
            ("challenge[0].rule.member_rule.categories", ""),
            ("challenge[0].rule.member_rule.categories", "mobility"),
            ("challenge[0].rule.badge_to", "members_meeting_rule"),
            ("ranking.measure", "participation"),
        ],
    )
    assert response.status_code == 303, response.text

    served = (await coordinator.get(f"/v1/admin/campaigns/{code}")).json()
    definition = served["definition"]
    assert served["source"] == "api" and definition["cities"] == ["kranj"]
    assert [t["code"] for t in definition["team"]] == ["os-orehek"]
    assert definition["challenge"][0]["rule"] == {
        "kind": "team_participation",
        "share": 0.5,
        "member_rule": {"kind": "distinct_days", "action_types": [], "categories": ["mobility"], "days": 15},
        "badge_to": "members_meeting_rule",
    }
    assert definition["ranking"] == {"measure": "participation", "action_types": []}


async def test_a_held_entry_is_decided_in_place(
    browser: Browser, coordinator: Resident, make_resident: MakeResident, pool: db.Pool
) -> None:
    owner = await make_resident("kranj")
    now = datetime.now(ZoneInfo("Europe/Ljubljana"))
    earlier_today = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    for _ in range(2):
        assert (await owner.log("cycle-instead-of-car", 60, performed_at=earlier_today.isoformat())).status_code == 201
    await tick(pool, datetime.now(UTC))
    entry_id = await pool.fetchval(
        "SELECT h.id FROM held_days h JOIN residents r ON r.id = h.resident_id WHERE r.firebase_uid = $1", owner.uid
    )
    await browser.sign_in(coordinator.uid)
    listed = await browser.get("/dashboard/held-entries")
    assert f'id="entry-{entry_id}"' in listed.text
    assert "<summary>2 actions</summary>" in listed.text  # the day's actions, to judge them by

    response = await browser.post(
        f"/dashboard/held-entries/{entry_id}/decision",
        {"decision": "accept", "note": "a long ride"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="entry-{entry_id}">')  # only the row, swapped in place
    assert "accepted" in response.text
    assert await pool.fetchval("SELECT status FROM held_days WHERE id = $1", entry_id) == "accepted"


async def test_a_broadcast_is_previewed_without_sending_then_sent(
    browser: Browser, coordinator: Resident, make_resident: MakeResident, pool: db.Pool
) -> None:
    campaign = await _api_campaign(coordinator)
    for _ in range(2):
        resident = await make_resident("kranj")
        assert (
            await resident.post(
                f"/v1/campaigns/{campaign['code']}/enrolment", json={"baseline": {"car_km_per_week": 50}}
            )
        ).status_code == 201
    await browser.sign_in(coordinator.uid)
    path = f"/dashboard/campaigns/{campaign['code']}/broadcast"
    message = {"title.sl": "Še en teden", "title.en": "One more week", "body.sl": "Vozite!", "body.en": "Ride!"}

    def sent() -> Any:
        return pool.fetchval(
            "SELECT count(*) FROM notifications n JOIN campaigns k ON k.id = n.campaign_id WHERE k.code = $1",
            campaign["code"],
        )

    preview = await browser.post(path, message | {"action": "preview"}, headers={"HX-Request": "true"})
    assert preview.status_code == 200
    assert '<strong id="recipients">2</strong>' in preview.text and "One more week" in preview.text
    assert await sent() == 0

    missing = await browser.post(path, {"title.sl": "Samo slovensko", "action": "send"})
    assert missing.status_code == 422 and "title.en" in missing.text
    assert await sent() == 0

    done = await browser.post(path, message | {"action": "send"})
    assert done.status_code == 200 and "Sent" in done.text
    assert await sent() == 2


async def test_the_city_report_and_its_csv(browser: Browser, coordinator: Resident) -> None:
    await browser.sign_in(coordinator.uid)
    page = await browser.get("/dashboard/cities/kranj/impact", params={"from": "2026-01", "to": "2026-03"})
    assert page.status_code == 200
    assert "Impact of Kranj" in page.text and "2026-02" in page.text
    csv = await browser.get("/dashboard/cities/kranj/impact.csv", params={"from": "2026-01", "to": "2026-03"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("month,co2e_kg,actions,participants")
    assert [line.split(",")[0] for line in csv.text.splitlines()[1:]] == ["2026-01", "2026-02", "2026-03"]


async def test_pages_speak_slovenian_or_english(
    browser: Browser, coordinator: Resident, make_campaign: MakeCampaign
) -> None:
    campaign = await make_campaign(cities=["kranj"])
    await browser.sign_in(coordinator.uid)

    slovenian = await browser.get(f"/dashboard/campaigns/{campaign.code}", params={"lang": "sl"})
    assert '<html lang="sl">' in slovenian.text and "Priznanja ekipam in ustanovam" in slovenian.text
    assert "Kolesarski mesec" in slovenian.text  # the campaign's own title in Slovenian
    kept = await browser.get("/dashboard/")  # the choice is kept in the session
    assert "Kampanje mojega mesta" in kept.text
    english = await browser.get(f"/dashboard/campaigns/{campaign.code}", params={"lang": "en"})
    assert "Team and institution recognition" in english.text and "Cycling month" in english.text


def test_every_text_is_in_both_languages() -> None:
    assert [key for key, (sl, en) in TEXTS.items() if not sl.strip() or not en.strip()] == []


BAD_REQUESTS = [
    ("GET", "/dashboard/campaigns/no-such-campaign", None),
    ("GET", "/dashboard/campaigns/" + "x" * 70, None),
    ("GET", "/dashboard/campaigns/%00/edit", None),
    ("GET", "/dashboard/cities/atlantis/impact", None),
    ("GET", "/dashboard/cities/kranj/impact?from=2026-13", None),
    ("GET", "/dashboard/cities/kranj/impact?from=2026-05&to=2026-01", None),
    ("GET", "/dashboard/cities/kranj/impact.csv?to=1999999", None),
    ("GET", "/dashboard/held-entries?status=maybe", None),
    ("GET", "/dashboard/held-entries?cursor=not-a-cursor", None),
    ("POST", "/dashboard/held-entries/0/decision", {"decision": "accept"}),
    ("POST", "/dashboard/held-entries/99999999999999999999/decision", {"decision": "accept"}),
    ("POST", "/dashboard/held-entries/5/decision", {"decision": "perhaps"}),
    ("POST", "/dashboard/campaigns/new", {"code": "Not A Code!", "action[0].points_per_unit": "many"}),
    ("POST", "/dashboard/campaigns/new", {"challenge[999].code": "x", "team[abc].code": "y", "ends_on": "tomorrow"}),
    ("POST", "/dashboard/campaigns/new", {"challenge[0].rule.kind": "magic", "starts_on": "2026-02-30"}),
    ("POST", "/dashboard/campaigns/__CAMPAIGN__/broadcast", {"inactive_days": "-3", "team": "nobody"}),
    ("POST", "/dashboard/campaigns/__CAMPAIGN__/edit", {"action[0].type": "teleport", "team[0].member_quota": "0"}),
    ("POST", "/dashboard/sign-in", {"id_token": "not.a.token"}),
    ("POST", "/dashboard/sign-in", {"id_token": "x" * 10_000}),
]


@pytest.mark.parametrize(("method", "path", "form"), BAD_REQUESTS)
async def test_bad_input_is_a_page_with_a_4xx_never_a_5xx(
    method: str, path: str, form: dict[str, str] | None, browser: Browser, coordinator: Resident,
    client: AsyncTestClient[Any],
) -> None:  # fmt: skip
    campaign = await _api_campaign(coordinator)
    await browser.sign_in(coordinator.uid)
    path = path.replace("__CAMPAIGN__", campaign["code"])
    if method == "GET":
        response = await browser.get(path)
    else:
        response = await browser.post(path, form or {}, csrf=not path.endswith("sign-in"))
    assert 400 <= response.status_code < 500, (response.status_code, response.text[-500:])
    assert response.headers["content-type"].startswith("text/html")


def test_the_production_sign_in_page_uses_the_firebase_sdk_the_app_serves() -> None:
    """Outside emulator mode the page signs in with the Firebase JS SDK; every script it loads is
    one the app serves itself (nothing from a CDN), so the page works on an intranet."""
    from upscale_api.dashboard import routes

    page = routes._environment().get_template("sign_in.html.j2").render(
        lang="en", t=lambda key: key, uid=None, csrf="", cities=[], path="/dashboard/sign-in", query="",
        emulated=False, project_id="upscale-prod", api_key="AIza-test", auth_domain="upscale-prod.firebaseapp.com",
        next="/dashboard/", problem=None, moment=str, zone=None, day=str, figure=str,
    )  # fmt: skip

    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert "/dashboard/static/firebase/firebase-auth-compat.js" in scripts
    assert 'data-api-key="AIza-test"' in page and 'id="dev-uid"' not in page
    static = ROOT / "src" / "upscale_api" / "dashboard" / "static"
    assert all(s.startswith("/dashboard/static/") and (static / s.removeprefix("/dashboard/static/")).is_file()
               for s in scripts)  # fmt: skip


async def test_a_contest_between_cities_shows_each_city_by_the_measure_and_its_goal(
    browser: Browser, coordinator: Resident, make_campaign: MakeCampaign, make_resident: MakeResident,
    pool: db.Pool, score: Any,
) -> None:  # fmt: skip
    campaign = await make_campaign(ranking={"measure": "quantity", "action_types": ["cycle-instead-of-car"]})
    for city, km in (("kranj", 12), ("velenje", 30)):
        resident = await make_resident(city)
        joined = await resident.post(
            f"/v1/campaigns/{campaign.code}/enrolment", json={"baseline": {"car_km_per_week": 50}}
        )
        assert joined.status_code == 201
        assert (await resident.log("cycle-instead-of-car", km)).status_code == 201
    await score()
    await browser.sign_in(coordinator.uid)

    page = await browser.get(f"/dashboard/campaigns/{campaign.code}")

    assert page.status_code == 200
    contest = page.text[page.text.index('id="h-contest"') :]
    assert "The cities&#39; contest" in contest and 'id="chart-contest"' in contest
    assert contest.index("Velenje") < contest.index("Kranj")  # 30 km before 12
    assert "30 km" in contest and "12 km" in contest  # the chart's labels: the measure in its unit
    goals = page.text[page.text.index('id="h-goals"') : page.text.index('id="h-contest"')]
    assert goals.count('<figure class="goal">') == 2  # the goal per city, each with its progress
