"""Demo data: plausible, within the rules, and written only once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.factories import CAMPAIGNS, settings_for_tests
from upscale_api import db
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.demo.seed import (
    DEMO_CAMPAIGN,
    DEMO_CONTEST,
    DEMO_RESEARCHER,
    DEMO_STUDY,
    RESIDENTS_PER_CITY,
    seed_demo,
)
from upscale_api.research import export as exports
from upscale_api.research import service as research
from upscale_api.roles.service import grants_of


@pytest.fixture
async def loaded_pool(fresh_pool: db.Pool) -> db.Pool:
    await apply_definitions(fresh_pool, read_definitions(CAMPAIGNS))
    return fresh_pool


async def test_seeding_twice_changes_nothing(loaded_pool: db.Pool) -> None:
    snapshot = await Catalogue(loaded_pool).reload()

    first = await seed_demo(loaded_pool, snapshot, today=date(2026, 11, 25))
    again = await seed_demo(loaded_pool, snapshot, today=date(2026, 11, 26))

    assert first.residents == sum(RESIDENTS_PER_CITY.values())
    assert first.actions > 1000
    assert (again.residents, again.actions) == (0, 0)
    assert await loaded_pool.fetchval("SELECT count(*) FROM action_logs") == first.actions


async def test_demo_actions_respect_the_catalogue_rules(loaded_pool: db.Pool) -> None:
    await seed_demo(loaded_pool, await Catalogue(loaded_pool).reload(), today=date(2026, 11, 25))

    over_limits = await loaded_pool.fetchval(
        """
        SELECT count(*) FROM (
            SELECT a.resident_id, a.action_type_id, a.local_date, sum(a.quantity) AS total, t.max_per_day
            FROM action_logs a JOIN action_types t ON t.id = a.action_type_id
            GROUP BY 1, 2, 3, t.max_per_day
        ) d WHERE total > max_per_day
        """
    )
    out_of_range = await loaded_pool.fetchval(
        """
        SELECT count(*) FROM action_logs a JOIN action_types t ON t.id = a.action_type_id
        WHERE a.quantity < t.min_quantity OR a.quantity > t.max_quantity
        """
    )
    cities = await loaded_pool.fetch(
        "SELECT c.code, count(*) FROM residents r JOIN cities c ON c.id = r.city_id GROUP BY c.code"
    )
    assert (over_limits, out_of_range) == (0, 0)
    assert {r["code"]: r["count"] for r in cities} == RESIDENTS_PER_CITY


async def test_kranj_demo_residents_take_part_in_an_active_campaign(loaded_pool: db.Pool) -> None:
    await seed_demo(loaded_pool, await Catalogue(loaded_pool).reload())

    row = await loaded_pool.fetchrow(
        """
        SELECT p.phase, count(e.*) AS enrolled, count(DISTINCT e.team_id) AS teams,
               (SELECT count(*) FROM action_logs a JOIN enrolments x ON x.resident_id = a.resident_id
                  AND x.campaign_id = k.id JOIN action_types t ON t.id = a.action_type_id
                WHERE t.category = 'mobility') AS counted_actions
        FROM campaigns k JOIN campaign_phases p ON p.id = k.id JOIN enrolments e ON e.campaign_id = k.id
        WHERE k.code = $1 GROUP BY p.phase, k.id
        """,
        DEMO_CAMPAIGN,
    )
    assert row["phase"] == "active"
    assert (row["enrolled"], row["teams"]) == (RESIDENTS_PER_CITY["kranj"], 3)
    assert row["counted_actions"] > 100


async def test_the_demo_study_has_two_arms_survey_answers_and_a_researcher_who_can_export_it(
    loaded_pool: db.Pool, tmp_path: Path
) -> None:
    await seed_demo(loaded_pool, await Catalogue(loaded_pool).reload())

    arms = await loaded_pool.fetch(
        "SELECT arm.code, count(*) FROM study_assignments a JOIN study_arms arm ON arm.id = a.arm_id "
        "JOIN studies s ON s.id = a.study_id WHERE s.code = $1 GROUP BY arm.code ORDER BY arm.code",
        DEMO_STUDY,
    )
    answers = await loaded_pool.fetchval("SELECT count(*) FROM survey_responses")
    grants = await grants_of(loaded_pool, DEMO_RESEARCHER)
    study_id = await research.study_id(loaded_pool, DEMO_STUDY)
    assert study_id is not None
    async with loaded_pool.acquire() as conn:
        export_id = await research.create_export(conn, study_id, "test", "cli", {})
    result = await exports.run_export(loaded_pool, settings_for_tests(), export_id, tmp_path, now=datetime.now(UTC))

    assert [a["code"] for a in arms] == ["control", "evening-reminder"] and all(a["count"] >= 20 for a in arms)
    assert answers > 30
    assert [(g.role, g.study) for g in grants] == [("researcher", DEMO_STUDY)]
    assert result.gate.k_reached is not None and result.gate.k_reached >= 5
    assert result.rows["participants"] > 40 and result.rows["actions"] > 500


async def test_kranj_and_ljubljana_demo_residents_race_in_km_cycled(loaded_pool: db.Pool) -> None:
    await seed_demo(loaded_pool, await Catalogue(loaded_pool).reload())

    row = await loaded_pool.fetchrow(
        "SELECT k.definition -> 'ranking' AS ranking, array_agg(DISTINCT c.code ORDER BY c.code) AS cities, "
        "count(e.*) AS enrolled FROM campaigns k JOIN enrolments e ON e.campaign_id = k.id "
        "JOIN cities c ON c.id = e.city_id WHERE k.code = $1 GROUP BY k.id",
        DEMO_CONTEST,
    )
    assert row["cities"] == ["kranj", "ljubljana"]
    assert row["enrolled"] == RESIDENTS_PER_CITY["kranj"] + RESIDENTS_PER_CITY["ljubljana"]
    assert row["ranking"]["measure"] == "quantity"
    assert "cycle-instead-of-car" in row["ranking"]["action_types"]
