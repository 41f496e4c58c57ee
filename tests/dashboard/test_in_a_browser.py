"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright, against the app
served by uvicorn. A Kranj coordinator signs in, creates a campaign with a team challenge in the
editor; residents enrol and log over the API; a scoring run later the campaign page's chart and
recognition table show it. Another city's coordinator is refused the page. A screenshot of the
campaign page is kept in ``.upscale/artifacts/``.

Needs the ``chromium`` package (``.ci/run`` installs it); without a browser that starts, the tests
are skipped and say why. ``UPSCALE_CHROMIUM`` names another browser binary.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright, expect

from tests.factories import ROOT, TODAY, coordinator_of, local_noon, settings_for_tests, token_for
from upscale_api import db
from upscale_api.app import create_app
from upscale_api.scoring import service as scoring

ARTIFACTS = ROOT / ".upscale" / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    wanted = os.environ.get("UPSCALE_CHROMIUM")
    return wanted if wanted else shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
async def served(database_url: str) -> AsyncIterator[str]:
    """The app under uvicorn on a free port of 127.0.0.1; its base URL."""
    app = create_app(settings_for_tests(), database_url=database_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium: install Debian's `chromium` package (.ci/run does) or set UPSCALE_CHROMIUM")
    profile = tempfile.mkdtemp(prefix="upscale-chromium-")
    async with async_playwright() as playwright:
        try:
            # A fresh profile each run; Playwright would otherwise make one of its own.
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 900},
                locale="en-GB",
            )
        except Exception as exc:
            shutil.rmtree(profile, ignore_errors=True)
            pytest.skip(f"Chromium at {executable} did not start: {str(exc).splitlines()[0]}")
        try:
            yield context
        finally:
            await context.close()
            shutil.rmtree(profile, ignore_errors=True)


async def _sign_in(page: Any, base: str, uid: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{base}/dashboard/")
    assert "/dashboard/sign-in" in page.url  # no session: sent to sign in
    await page.fill("#dev-uid", uid)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_load_state("networkidle")


async def test_a_coordinator_creates_a_team_campaign_and_sees_its_teams_recognised(
    served: str, browser: Any, client: Any, pool: db.Pool
) -> None:
    base = served
    coordinator = await coordinator_of("kranj", client, pool)
    page = await browser.new_page()
    await _sign_in(page, base, coordinator.uid)
    assert await page.inner_text("h1") == "My city's campaigns"

    # The editor: a campaign with an action, a team and a team challenge.
    code = f"browser-{TODAY:%m%d}-{os.getpid() % 10000}"
    await page.click("text=New campaign")
    await page.fill('[name="code"]', code)
    for field, value in {
        "title.sl": "Kranj kolesari",
        "title.en": "Kranj cycles",
        "description.sl": "Šole kolesarijo.",
        "description.en": "Schools cycle.",
        "starts_on": (TODAY - timedelta(days=5)).isoformat(),
        "ends_on": (TODAY + timedelta(days=20)).isoformat(),
    }.items():
        await page.fill(f'[name="{field}"]', value)
    await page.select_option('[name="status"]', "scheduled")
    await page.click("text=Add an action")
    await page.select_option('[name="action[0].type"]', "cycle-instead-of-car")
    await page.fill('[name="action[0].points_per_unit"]', "10")
    await page.click("text=Add a team")
    await page.fill('[name="team[0].code"]', "os-primskovo")
    await page.fill('[name="team[0].name"]', "OŠ Primskovo")
    await page.click("text=Add a challenge")
    challenge = {
        "challenge[0].code": "half-the-school",
        "challenge[0].title.sl": "Pol šole",
        "challenge[0].title.en": "Half the school",
        "challenge[0].description.sl": "Polovica učencev kolesari.",
        "challenge[0].description.en": "Half the pupils cycle.",
        "challenge[0].rule.share": "50",  # a percentage: refused, the reason shown beside the field
        "challenge[0].rule.member_rule.days": "1",
    }
    for field, value in challenge.items():
        await page.fill(f'[name="{field}"]', value)
    assert await page.is_hidden('[name="challenge[0].rule.target"]')  # not a parameter of a team rule
    await page.check('[name="challenge[0].rule.member_rule.categories"][value="mobility"]')
    await page.click("#save")
    await page.wait_for_load_state("networkidle")
    error = page.locator("#f-challenge-0-rule-share-error")
    assert "must be a fraction above 0 and at most 1" in await error.inner_text()
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE code = $1", code) == 0
    await page.fill('[name="challenge[0].rule.share"]', "0.5")
    await page.click("#save")
    await page.wait_for_load_state("networkidle")
    assert await page.locator(".notice[role=status]").inner_text() == "Saved."
    assert await pool.fetchval("SELECT source FROM campaigns WHERE code = $1", code) == "api"

    # Residents enrol in the team and log over the API.
    async with httpx.AsyncClient(base_url=base) as api:
        residents = []
        for n in range(2):
            uid = f"browser-resident-{os.getpid()}-{n}-{datetime.now(UTC).timestamp()}"
            headers = {"Authorization": f"Bearer {token_for(uid)}"}
            assert (await api.put("/v1/me", json={"city": "kranj"}, headers=headers)).status_code == 201
            enrolled = await api.post(f"/v1/campaigns/{code}/enrolment", json={"team": "os-primskovo"}, headers=headers)
            assert enrolled.status_code == 201, enrolled.text
            residents.append(headers)
        await pool.execute(
            "UPDATE enrolments SET enrolled_at = now() - interval '3 days', written_xid = pg_current_xact_id() "
            "WHERE campaign_id = (SELECT id FROM campaigns WHERE code = $1)",
            code,
        )
        await scoring.tick(pool, datetime.now(UTC))
        await page.goto(f"{base}/dashboard/campaigns/{code}")
        row = page.locator("#recognition-half-the-school tr[data-team=os-primskovo]")
        assert await row.locator("td.status").inner_text() == "no"
        assert await page.locator("#kpi-active").inner_text() == "0"

        logged = await api.post(
            "/v1/me/actions",
            json={
                "id": str(uuid.uuid4()),
                "action_type": "cycle-instead-of-car",
                "quantity": 6,
                "performed_at": local_noon(1),
            },
            headers=residents[0],
        )
        assert logged.status_code == 201, logged.text

    now = datetime.now(UTC)
    await scoring.tick(pool, now)
    await scoring.compute_standings(pool, now)
    await page.click("text=Refresh")  # htmx: the figures are fetched again and swapped in
    # Waited for through Playwright's own scripts: the page's policy lets no script of a test run in it.
    await expect(page.locator("#kpi-active")).to_have_text("1")
    assert await row.locator("td.status").inner_text() == "✔ yes"
    assert "1\n" in await row.inner_text() or (await row.locator("td.num").nth(1).inner_text()) == "1"
    bars = page.locator("#chart-active rect.bar")
    assert await bars.count() == 1  # one day with an active participant
    assert "1 participants" in (await bars.first.locator("title").text_content() or "")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-campaign.png"), full_page=True)
    assert (ARTIFACTS / "dashboard-campaign.png").stat().st_size > 10_000

    # Ljubljana's coordinator signs in but is refused Kranj's campaign.
    other = await coordinator_of("ljubljana", client, pool)
    await _sign_in(page, base, other.uid)
    response = await page.goto(f"{base}/dashboard/campaigns/{code}")
    assert response is not None and response.status == 403
    assert await page.inner_text("h1") == "Access refused (403)"
    assert "Half the school" not in await page.content()
    await page.close()


async def test_a_resident_cannot_sign_in(served: str, browser: Any, make_resident: Any) -> None:
    resident = await make_resident("kranj")
    page = await browser.new_page()
    await _sign_in(page, served, resident.uid)
    assert "/dashboard/sign-in" in page.url
    assert "coordinates no city" in await page.inner_text("#sign-in-problem")
    cookies = await page.context.cookies()
    assert [c for c in cookies if c["name"] == "upscale_dashboard"] == []
    await page.close()


def test_the_artifacts_folder_is_not_committed() -> None:
    assert ".upscale/" in Path(ROOT / ".gitignore").read_text()
