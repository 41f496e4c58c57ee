"""The definition files under campaigns/: checked as a whole, every problem named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.factories import CAMPAIGNS
from upscale_api.definitions.files import InvalidDefinitions, read_definitions


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    """A copy of the shipped definition files to break."""
    copy = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, copy)
    return copy


def _problems(root: Path) -> list[str]:
    with pytest.raises(InvalidDefinitions) as caught:
        read_definitions(root)
    return [str(e) for e in caught.value.errors]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_shipped_catalogue_is_valid_and_complete() -> None:
    definitions = read_definitions(CAMPAIGNS)

    assert len(definitions.action_types) >= 15
    assert {a.category for a in definitions.action_types} == {"mobility", "energy", "food", "consumption", "waste"}
    assert {c.code for c in definitions.cities} >= {"kranj", "ljubljana", "velenje"}
    assert all(c.district for c in definitions.cities)
    assert all(f.sources for f in definitions.factors)
    assert all(
        a.min_quantity <= a.plausible_per_day <= a.max_per_day
        for a in definitions.action_types
        if a.plausible_per_day is not None
    )


def test_a_wrong_type_names_file_field_and_reason(campaigns: Path) -> None:
    _edit(campaigns / "catalogue/action-types.toml", "max_per_day = ", "max_per_day = 'lots' #")

    problems = _problems(campaigns)

    assert problems == ["catalogue/action-types.toml: action_type[0].max_per_day: Expected `float`, got `str`"]


def test_every_problem_is_reported_at_once(campaigns: Path) -> None:
    _edit(campaigns / "catalogue/action-types.toml", 'category = "mobility"', 'category = "teleportation"')
    _edit(campaigns / "catalogue/action-types.toml", "step = ", "colour = 'green'\nstep = ")
    _edit(campaigns / "kranj/city.toml", 'timezone = "Europe/Ljubljana"', "timezone = 5")

    problems = _problems(campaigns)

    assert any("action_type[0].category" in p and "teleportation" in p for p in problems)
    assert any("action_type[0].colour: unknown field" in p for p in problems)
    assert any(p.startswith("kranj/city.toml: timezone:") for p in problems)


def test_cross_references_are_checked(campaigns: Path) -> None:
    _edit(
        campaigns / "catalogue/action-types.toml", 'baseline_factor = "car-si-fleet"', 'baseline_factor = "spaceship"'
    )
    _edit(campaigns / "ljubljana/city.toml", 'timezone = "Europe/Ljubljana"', 'timezone = "Europe/Atlantis"')

    problems = _problems(campaigns)

    assert any("baseline_factor: no factor with code spaceship" in p for p in problems)
    assert "ljubljana/city.toml: timezone: unknown IANA time zone 'Europe/Atlantis'" in problems


def test_a_factor_in_another_unit_is_refused(campaigns: Path) -> None:
    _edit(campaigns / "catalogue/action-types.toml", 'option_factor = "bicycle"', 'option_factor = "meal-vegetarian"')

    assert any("factor is per meal but the action unit is km" in p for p in _problems(campaigns))


def test_broken_toml_is_named(campaigns: Path) -> None:
    (campaigns / "velenje/city.toml").write_text("code = [unclosed")

    problems = _problems(campaigns)

    assert problems[0].startswith("velenje/city.toml: : not valid TOML")


def test_a_city_file_must_sit_in_its_own_folder(campaigns: Path) -> None:
    shutil.copytree(campaigns / "kranj", campaigns / "celje")

    assert "celje/city.toml: code: must equal the folder name 'celje'" in _problems(campaigns)


def test_a_review_limit_must_lie_within_the_daily_range(campaigns: Path) -> None:
    types = campaigns / "catalogue/action-types.toml"
    _edit(types, "plausible_per_day = 100", "plausible_per_day = 200")  # cycling: over its 150 km a day
    _edit(types, "plausible_per_day = 25", "plausible_per_day = 0.1")  # walking: under its smallest entry, 0.2 km

    problems = _problems(campaigns)

    reason = "must satisfy min_quantity <= plausible_per_day <= max_per_day"
    assert problems == [
        f"catalogue/action-types.toml: action_type[0].plausible_per_day: {reason}",
        f"catalogue/action-types.toml: action_type[1].plausible_per_day: {reason}",
    ]


def test_a_review_limit_is_a_positive_number(campaigns: Path) -> None:
    _edit(campaigns / "catalogue/action-types.toml", "plausible_per_day = 260", "plausible_per_day = -1")

    assert _problems(campaigns) == [
        "catalogue/action-types.toml: action_type[3].plausible_per_day: Expected `float` > 0.0"
    ]


def test_a_review_limit_is_optional(campaigns: Path) -> None:
    _edit(campaigns / "catalogue/action-types.toml", "plausible_per_day = 100\n", "")

    cycling = next(a for a in read_definitions(campaigns).action_types if a.code == "cycle-instead-of-car")

    assert cycling.plausible_per_day is None
