"""A corrected emission factor is a new version; rescoring moves stored savings to it."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.factories import CAMPAIGNS, toml_entry
from upscale_api import db
from upscale_api.actions.service import Policy, log_actions
from upscale_api.actions.structs import ActionIn
from upscale_api.catalogue.service import Catalogue
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.scoring.service import rescore, tick


async def test_a_factor_correction_is_rescored_once(fresh_pool: db.Pool, tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, campaigns)
    await apply_definitions(fresh_pool, read_definitions(campaigns))
    uid = f"r-{uuid.uuid4().hex}"
    await fresh_pool.execute(
        "INSERT INTO residents (firebase_uid, city_id, locale, time_zone) "
        "SELECT $1, id, 'sl', time_zone FROM cities WHERE code = 'kranj'",
        uid,
    )
    now = datetime.now(UTC)
    snapshot = await Catalogue(fresh_pool).reload()
    policy = Policy(backdate=timedelta(days=7), delete_grace=timedelta(hours=24))
    items = [
        ActionIn(id=uuid.uuid4(), action_type="cycle-instead-of-car", quantity=10, performed_at=now),
        ActionIn(id=uuid.uuid4(), action_type="vegetarian-instead-of-chicken", quantity=1, performed_at=now),
    ]
    logged = await log_actions(fresh_pool, snapshot, policy, uid, items, now)
    before = logged[0].action
    assert before is not None
    await tick(fresh_pool, now)

    # The car factor is corrected: a new version with another value.
    factors = campaigns / "catalogue/emission-factors.toml"
    text = factors.read_text()
    start, end = toml_entry(text, "factor", "car-si-fleet")
    old_block = text[start:end]
    corrected = old_block.replace("version = 1", "version = 2", 1).replace("value = 0.1229", "value = 0.1100", 1)
    assert corrected != old_block.replace("version = 1", "version = 2", 1)
    factors.write_text(text + "\n" + corrected)
    await apply_definitions(fresh_pool, read_definitions(campaigns))

    changes = (await rescore(fresh_pool, now)).factor_changes
    again = (await rescore(fresh_pool, now, since=date.today())).factor_changes

    by_type = {c.action_type: c for c in changes}
    assert set(by_type) == {"cycle-instead-of-car"}  # the meal used other factors
    after = await fresh_pool.fetchrow(
        "SELECT a.co2e_kg, f.version FROM action_logs a JOIN emission_factors f ON f.id = a.baseline_factor_id "
        "WHERE a.id = $1",
        before.id,
    )
    assert after["version"] == 2
    assert after["co2e_kg"] < before.co2e_kg
    assert abs(by_type["cycle-instead-of-car"].delta_kg - (after["co2e_kg"] - before.co2e_kg)) < 1e-6
    assert again == []
    # What the resident sees moved with it: their day's total is the corrected saving.
    day_total = await fresh_pool.fetchval(
        "SELECT co2e_kg FROM resident_days d JOIN action_types t ON t.id = d.action_type_id "
        "WHERE t.code = 'cycle-instead-of-car' AND d.resident_id = (SELECT id FROM residents WHERE firebase_uid = $1)",
        uid,
    )
    assert float(day_total) == after["co2e_kg"]
