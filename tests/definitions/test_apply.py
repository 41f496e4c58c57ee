"""Storing the definition files: idempotent, all or nothing, history kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.factories import CAMPAIGNS, toml_entry
from upscale_api import db
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import InvalidDefinitions, read_definitions
from upscale_api.definitions.service import apply_definitions


@pytest.fixture
def empty_pool(fresh_pool: db.Pool) -> db.Pool:
    """A migrated database of its own, with no definitions applied yet."""
    return fresh_pool


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    copy = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, copy)
    return copy


async def _table_counts(pool: db.Pool) -> dict[str, int]:
    tables = ["cities", "districts", "emission_factors", "action_types", "city_action_types"]
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


async def test_applying_twice_changes_nothing(empty_pool: db.Pool) -> None:
    definitions = read_definitions(CAMPAIGNS)

    first = await apply_definitions(empty_pool, definitions)
    counts = await _table_counts(empty_pool)
    second = await apply_definitions(empty_pool, definitions)

    assert first.changed and first.cities_changed == 3
    assert not second.changed
    assert await _table_counts(empty_pool) == counts
    assert counts["action_types"] == len(definitions.action_types)


async def test_a_dry_run_counts_but_writes_nothing(empty_pool: db.Pool) -> None:
    result = await apply_definitions(empty_pool, read_definitions(CAMPAIGNS), dry_run=True)

    assert result.action_types_changed == len(read_definitions(CAMPAIGNS).action_types)
    assert set((await _table_counts(empty_pool)).values()) == {0}


async def test_a_stored_factor_version_cannot_be_rewritten(empty_pool: db.Pool, campaigns: Path) -> None:
    await apply_definitions(empty_pool, read_definitions(campaigns))
    before = await _table_counts(empty_pool)
    factors = campaigns / "catalogue/emission-factors.toml"
    factors.write_text(factors.read_text().replace("value = 0.1844", "value = 0.2", 1))
    (campaigns / "velenje/city.toml").write_text(
        (campaigns / "velenje/city.toml").read_text().replace('name = { sl = "Velenje"', 'name = { sl = "Velenje!"', 1)
    )

    with pytest.raises(InvalidDefinitions, match="add a new version instead"):
        await apply_definitions(empty_pool, read_definitions(campaigns))

    assert await _table_counts(empty_pool) == before
    assert await empty_pool.fetchval("SELECT name->>'sl' FROM cities WHERE code = 'velenje'") == "Velenje"


async def test_a_corrected_factor_is_a_new_version_in_force(empty_pool: db.Pool, campaigns: Path) -> None:
    await apply_definitions(empty_pool, read_definitions(campaigns))
    factors = campaigns / "catalogue/emission-factors.toml"
    text = factors.read_text()
    start, end = toml_entry(text, "factor", "car-si-fleet")
    corrected = text[start:end].replace("version = 1", "version = 2", 1)
    factors.write_text(text + "\n" + corrected)

    result = await apply_definitions(empty_pool, read_definitions(campaigns))
    snapshot = await Catalogue(empty_pool).reload()

    assert result.factors_added == 1
    assert snapshot.action_types["cycle-instead-of-car"].baseline.version == 2
    assert await empty_pool.fetchval("SELECT count(*) FROM emission_factors WHERE code = 'car-si-fleet'") == 2


async def test_removed_entries_are_retired_not_deleted(empty_pool: db.Pool, campaigns: Path) -> None:
    await apply_definitions(empty_pool, read_definitions(campaigns))
    types = campaigns / "catalogue/action-types.toml"
    text = types.read_text()
    start, end = toml_entry(text, "action_type", "milk-saved-from-bin")  # the last entry
    types.write_text(text[:start] + text[end:])

    result = await apply_definitions(empty_pool, read_definitions(campaigns))
    snapshot = await Catalogue(empty_pool).reload()

    assert result.action_types_retired == 1
    assert "milk-saved-from-bin" not in snapshot.action_types
    assert await empty_pool.fetchval("SELECT active FROM action_types WHERE code = 'milk-saved-from-bin'") is False


async def test_review_limits_are_stored_changed_and_cleared(empty_pool: db.Pool, campaigns: Path) -> None:
    await apply_definitions(empty_pool, read_definitions(campaigns))
    limit = "SELECT plausible_per_day FROM action_types WHERE code = $1"
    stored = {code: await empty_pool.fetchval(limit, code) for code in ("cycle-instead-of-car", "thermostat-down-1c")}
    types = campaigns / "catalogue/action-types.toml"
    types.write_text(types.read_text().replace("plausible_per_day = 100\n", "plausible_per_day = 120\n", 1))

    raised = await apply_definitions(empty_pool, read_definitions(campaigns))
    after_raise = await empty_pool.fetchval(limit, "cycle-instead-of-car")
    types.write_text(types.read_text().replace("plausible_per_day = 120\n", "", 1))
    cleared = await apply_definitions(empty_pool, read_definitions(campaigns))

    assert stored == {"cycle-instead-of-car": 100, "thermostat-down-1c": None}
    assert (raised.action_types_changed, after_raise) == (1, 120)
    assert cleared.action_types_changed == 1
    assert await empty_pool.fetchval(limit, "cycle-instead-of-car") is None
