"""Campaigns as code: campaign files are checked, applied idempotently, and a
started campaign cannot be rewritten under residents' feet."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import CAMPAIGNS
from upscale_api import db
from upscale_api.definitions.files import InvalidDefinitions, read_definitions
from upscale_api.definitions.service import apply_definitions

TODAY = datetime.now(UTC).date()


def campaign_toml(starts_on: str, ends_on: str, points: int = 10, title: str = "Na delo s kolesom") -> str:
    return textwrap.dedent(
        f"""
        code = "test-bike-to-work"
        cities = ["kranj", "velenje"]
        title = {{ sl = "{title}", en = "Bike to work" }}
        description = {{ sl = "Opis", en = "Description" }}
        starts_on = {starts_on}
        ends_on = {ends_on}
        enrolment = "team"

        [[action]]
        type = "cycle-instead-of-car"
        points_per_unit = {points}
        max_points_per_day = 300

        [[action]]
        type = "walk-instead-of-car"
        points_per_unit = 5

        [[team]]
        code = "city-hall"
        kind = "workplace"
        name = "Mestna občina Kranj"
        member_quota = 250

        [[team]]
        code = "velenje-school"
        kind = "school"
        name = "OŠ Gustava Šiliha"
        city = "velenje"

        [[question]]
        code = "car_km_per_week"
        text = {{ sl = "Koliko km na teden prevozite z avtom?", en = "How many km a week do you drive?" }}
        unit = "km"
        max = 2000

        [[challenge]]
        code = "half-the-team-15-days"
        title = {{ sl = "Polovica ekipe 15 dni", en = "Half the team on 15 days" }}
        description = {{ sl = "Opis", en = "Description" }}
        rule = {{ kind = "team_participation", share = 0.5, member_rule = {{ kind = "distinct_days", days = 15, categories = ["mobility"] }} }}

        [[challenge]]
        code = "cut-car-km"
        title = {{ sl = "Manj avta", en = "Less car" }}
        description = {{ sl = "Opis", en = "Description" }}
        rule = {{ kind = "personal", question = "car_km_per_week", share = 0.2, action_types = ["cycle-instead-of-car", "walk-instead-of-car"] }}

        [[badge]]
        code = "team-player"
        title = {{ sl = "Ekipni igralec", en = "Team player" }}
        description = {{ sl = "Opis", en = "Description" }}
        rule = {{ kind = "challenge_met", challenge = "half-the-team-15-days" }}

        [[nudge]]
        code = "monday"
        schedule = {{ weekday = "monday", time = "07:30" }}
        audience = "inactive_this_week"
        title = {{ sl = "Nov teden", en = "A new week" }}
        body = {{ sl = "Na kolo!", en = "Get on your bike!" }}
        """
    )


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    copy = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, copy, ignore=shutil.ignore_patterns("*.toml"), dirs_exist_ok=True)
    for path in CAMPAIGNS.rglob("*.toml"):
        if path.name == "city.toml" or path.parent.name == "catalogue":
            (copy / path.relative_to(CAMPAIGNS)).write_bytes(path.read_bytes())
    return copy


@pytest.fixture
def pool(fresh_pool: db.Pool) -> db.Pool:
    return fresh_pool


def _write(campaigns: Path, text: str) -> None:
    (campaigns / "kranj/test-bike-to-work.toml").write_text(text)


async def test_a_campaign_file_is_stored_with_everything_in_it(campaigns: Path, pool: db.Pool) -> None:
    _write(campaigns, campaign_toml("2027-03-01", "2027-03-31"))

    result = await apply_definitions(pool, read_definitions(campaigns))
    again = await apply_definitions(pool, read_definitions(campaigns))

    assert (result.campaigns_changed, result.teams_changed, result.challenges_changed) == (1, 2, 2)
    assert (result.badges_changed, result.nudges_changed) == (1, 1)
    assert not again.changed
    row = await pool.fetchrow(
        """
        SELECT k.starts_at, k.ends_at, c.code AS owner,
               (SELECT array_agg(x.code ORDER BY x.code) FROM campaign_cities cc JOIN cities x ON x.id = cc.city_id
                WHERE cc.campaign_id = k.id) AS cities,
               (SELECT count(*) FROM campaign_action_types a WHERE a.campaign_id = k.id) AS action_types,
               (SELECT p.phase FROM campaign_phases p WHERE p.id = k.id) AS phase
        FROM campaigns k JOIN cities c ON c.id = k.city_id WHERE k.code = 'test-bike-to-work'
        """
    )
    assert row["owner"] == "kranj" and row["cities"] == ["kranj", "velenje"]
    assert row["action_types"] == 2
    # local midnight in Ljubljana (CET, UTC+1 in March before the DST change on the 28th)
    assert row["starts_at"] == datetime(2027, 2, 28, 23, 0, tzinfo=UTC)
    assert row["ends_at"] == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # CEST after the change
    assert row["phase"] == "scheduled"
    teams = await pool.fetch("SELECT code, invite_code FROM teams ORDER BY code")
    assert [t["code"] for t in teams] == ["city-hall", "velenje-school"]
    assert len({t["invite_code"] for t in teams}) == 2


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (
            ('cycle-instead-of-car"\npoints', 'teleport"\npoints'),
            "action[0].type",
            "no action type with code 'teleport'",
        ),
        (('challenge = "half-the-team-15-days"', 'challenge = "nothing"'), "badge[0].rule.challenge", "no challenge"),
        (('question = "car_km_per_week"', 'question = "bus_rides"'), "challenge[1].rule.question", "no question"),
        (('cities = ["kranj", "velenje"]', 'cities = ["velenje"]'), "cities[0]", "folder's city 'kranj'"),
        (('city = "velenje"', 'city = "ljubljana"'), "team[1].city", "not one of the campaign's cities"),
        (
            ("share = 0.2, action_types", 'share = 0.2, categories = ["mobility"], action_types'),
            "challenge[1].rule.categories",
            "cannot be added",
        ),
    ],
)
def test_bad_campaign_files_name_the_field(campaigns: Path, edit: tuple[str, str], field: str, reason: str) -> None:
    text = campaign_toml("2027-03-01", "2027-03-31")
    assert edit[0] in text
    _write(campaigns, text.replace(edit[0], edit[1], 1))

    with pytest.raises(InvalidDefinitions) as caught:
        read_definitions(campaigns)

    problems = [str(e) for e in caught.value.errors]
    assert any(p.startswith(f"kranj/test-bike-to-work.toml: {field}: ") and reason in p for p in problems), problems


def test_a_wrong_rule_kind_is_reported(campaigns: Path) -> None:
    _write(campaigns, campaign_toml("2027-03-01", "2027-03-31").replace('kind = "personal"', 'kind = "magic"'))

    with pytest.raises(InvalidDefinitions) as caught:
        read_definitions(campaigns)

    assert any("challenge[1].rule" in str(e) and "magic" in str(e) for e in caught.value.errors)


async def test_a_started_campaign_keeps_what_residents_earned(campaigns: Path, pool: db.Pool) -> None:
    start, end = (TODAY - timedelta(days=3)).isoformat(), (TODAY + timedelta(days=20)).isoformat()
    _write(campaigns, campaign_toml(start, end))
    await apply_definitions(pool, read_definitions(campaigns))

    _write(campaigns, campaign_toml(start, end, points=20))
    with pytest.raises(InvalidDefinitions, match="points for cycle-instead-of-car were earned already"):
        await apply_definitions(pool, read_definitions(campaigns))
    _write(campaigns, campaign_toml((TODAY - timedelta(days=1)).isoformat(), end))
    with pytest.raises(InvalidDefinitions, match="its start cannot move"):
        await apply_definitions(pool, read_definitions(campaigns))

    later = (TODAY + timedelta(days=30)).isoformat()
    _write(campaigns, campaign_toml(start, later, title="Na delo s kolesom, podaljšano"))
    result = await apply_definitions(pool, read_definitions(campaigns))

    assert result.campaigns_changed == 1
    assert await pool.fetchval("SELECT phase FROM campaign_phases") == "active"
    assert await pool.fetchval("SELECT points_per_unit FROM campaign_action_types ORDER BY 1 DESC LIMIT 1") == 10
