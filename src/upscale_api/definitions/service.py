"""Storing the definition files in PostgreSQL, all in one transaction.

Applying is idempotent: the same files applied twice change nothing. Every
table is written with one set-based statement. A factor version once stored
is history: its value and unit may not change (add a new version instead);
catalogue entries and districts that leave the files are retired, not deleted,
because logged actions point at them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from upscale_api.campaigns.service import apply_campaigns
from upscale_api.db import AdvisoryLock, Connection, Pool, rows_affected
from upscale_api.definitions.files import FACTORS_FILE, InvalidDefinitions
from upscale_api.definitions.structs import DefinitionError, Definitions


class ApplyResult(msgspec.Struct):
    """How many rows each table gained or changed."""

    factors_added: int = 0
    action_types_changed: int = 0
    action_types_retired: int = 0
    cities_changed: int = 0
    districts_changed: int = 0
    districts_retired: int = 0
    campaigns_changed: int = 0
    teams_changed: int = 0
    challenges_changed: int = 0
    badges_changed: int = 0
    nudges_changed: int = 0

    def counts(self) -> dict[str, int]:
        return msgspec.structs.asdict(self)

    @property
    def changed(self) -> bool:
        return any(self.counts().values())


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(item) for item in items]


async def apply_definitions(pool: Pool, definitions: Definitions, *, dry_run: bool = False) -> ApplyResult:
    """Store ``definitions`` (or with ``dry_run`` only count what would change).

    Raises :class:`InvalidDefinitions` if a stored factor version would change.
    """
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            result = await _apply(conn, definitions)
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return result


async def _apply(conn: Connection, definitions: Definitions) -> ApplyResult:
    result = ApplyResult()
    await conn.execute("SELECT pg_advisory_xact_lock($1)", AdvisoryLock.LOAD_DEFINITIONS)
    factors = _rows(definitions.factors)
    rewritten = await conn.fetch(
        """
        SELECT f.code, f.version
        FROM jsonb_to_recordset($1::jsonb) AS n(code text, version int, value float8, per text)
        JOIN emission_factors f USING (code, version)
        WHERE f.value IS DISTINCT FROM n.value OR f.per IS DISTINCT FROM n.per
        """,
        factors,
    )
    if rewritten:
        raise InvalidDefinitions(
            [
                DefinitionError(
                    str(FACTORS_FILE),
                    f"{r['code']} version {r['version']}",
                    "value or unit differs from the stored version; add a new version instead",
                )
                for r in rewritten
            ]
        )
    result.factors_added = rows_affected(
        await conn.execute(
            """
            INSERT INTO emission_factors
                (code, version, title, value, per, baseline, method, uncertainty_low, uncertainty_high, sources)
            SELECT n.code, n.version, n.title, n.value, n.per, n.baseline, n.method,
                   (n.uncertainty->>'low')::float8, (n.uncertainty->>'high')::float8, n.sources
            FROM jsonb_to_recordset($1::jsonb) AS n(
                code text, version int, title text, value float8, per text, baseline text,
                method text, uncertainty jsonb, sources jsonb)
            ON CONFLICT (code, version) DO UPDATE SET
                title = excluded.title, baseline = excluded.baseline, method = excluded.method,
                uncertainty_low = excluded.uncertainty_low, uncertainty_high = excluded.uncertainty_high,
                sources = excluded.sources
            WHERE (emission_factors.title, emission_factors.baseline, emission_factors.method,
                   emission_factors.uncertainty_low, emission_factors.uncertainty_high, emission_factors.sources)
              IS DISTINCT FROM
                  (excluded.title, excluded.baseline, excluded.method,
                   excluded.uncertainty_low, excluded.uncertainty_high, excluded.sources)
            """,
            factors,
        )
    )
    result.action_types_changed = rows_affected(
        await conn.execute(
            """
            INSERT INTO action_types
                (code, category, unit, baseline_factor, option_factor, min_quantity, max_quantity,
                 max_per_day, plausible_per_day, step, title, description, active)
            SELECT n.code, n.category, n.unit, n.baseline_factor, n.option_factor, n.min_quantity,
                   n.max_quantity, n.max_per_day, n.plausible_per_day, n.step, n.title, n.description, true
            FROM jsonb_to_recordset($1::jsonb) AS n(
                code text, category text, unit text, baseline_factor text, option_factor text,
                min_quantity float8, max_quantity float8, max_per_day float8, plausible_per_day float8,
                step float8, title jsonb, description jsonb)
            ON CONFLICT (code) DO UPDATE SET
                category = excluded.category, unit = excluded.unit,
                baseline_factor = excluded.baseline_factor, option_factor = excluded.option_factor,
                min_quantity = excluded.min_quantity, max_quantity = excluded.max_quantity,
                max_per_day = excluded.max_per_day, plausible_per_day = excluded.plausible_per_day,
                step = excluded.step, title = excluded.title, description = excluded.description, active = true
            WHERE (action_types.category, action_types.unit, action_types.baseline_factor,
                   action_types.option_factor, action_types.min_quantity, action_types.max_quantity,
                   action_types.max_per_day, action_types.plausible_per_day, action_types.step,
                   action_types.title, action_types.description, action_types.active)
              IS DISTINCT FROM
                  (excluded.category, excluded.unit, excluded.baseline_factor, excluded.option_factor,
                   excluded.min_quantity, excluded.max_quantity, excluded.max_per_day,
                   excluded.plausible_per_day, excluded.step, excluded.title, excluded.description, true)
            """,
            _rows(definitions.action_types),
        )
    )
    result.action_types_retired = rows_affected(
        await conn.execute(
            "UPDATE action_types SET active = false WHERE active AND NOT (code = ANY($1::text[]))",
            [a.code for a in definitions.action_types],
        )
    )
    cities = _rows(definitions.cities)
    result.cities_changed = rows_affected(
        await conn.execute(
            """
            INSERT INTO cities (code, country, name, time_zone, languages, climate_target)
            SELECT n.code, n.country, n.name, n.timezone,
                   ARRAY(SELECT jsonb_array_elements_text(n.languages)), n.climate_target
            FROM jsonb_to_recordset($1::jsonb) AS n(
                code text, country text, name jsonb, timezone text, languages jsonb, climate_target jsonb)
            ON CONFLICT (code) DO UPDATE SET
                country = excluded.country, name = excluded.name, time_zone = excluded.time_zone,
                languages = excluded.languages, climate_target = excluded.climate_target, updated_at = now()
            WHERE (cities.country, cities.name, cities.time_zone, cities.languages, cities.climate_target)
              IS DISTINCT FROM
                  (excluded.country, excluded.name, excluded.time_zone, excluded.languages, excluded.climate_target)
            """,
            cities,
        )
    )
    result.districts_changed = rows_affected(
        await conn.execute(
            """
            INSERT INTO districts (city_id, code, name, active)
            SELECT c.id, d.code, d.name, true
            FROM jsonb_to_recordset($1::jsonb) AS n(code text, district jsonb)
            JOIN cities c ON c.code = n.code
            CROSS JOIN LATERAL jsonb_to_recordset(n.district) AS d(code text, name jsonb)
            ON CONFLICT (city_id, code) DO UPDATE SET name = excluded.name, active = true
            WHERE (districts.name, districts.active) IS DISTINCT FROM (excluded.name, true)
            """,
            cities,
        )
    )
    result.districts_retired = rows_affected(
        await conn.execute(
            """
            UPDATE districts d SET active = false
            FROM cities c
            WHERE c.id = d.city_id AND d.active AND c.code = ANY($1::text[])
              AND NOT EXISTS (
                  SELECT 1
                  FROM jsonb_to_recordset($2::jsonb) AS n(code text, district jsonb)
                  CROSS JOIN LATERAL jsonb_to_recordset(n.district) AS x(code text)
                  WHERE n.code = c.code AND x.code = d.code)
            """,
            [c.code for c in definitions.cities],
            cities,
        )
    )
    # Which action types each city offers: "*" means the whole active catalogue.
    await conn.execute(
        """
        WITH wanted AS (
            SELECT c.id AS city_id, t.id AS action_type_id
            FROM jsonb_to_recordset($1::jsonb) AS n(code text, action_types jsonb)
            JOIN cities c ON c.code = n.code
            JOIN action_types t ON t.active
             AND (n.action_types ? '*' OR n.action_types ? t.code)
        ), removed AS (
            DELETE FROM city_action_types x
            WHERE x.city_id IN (SELECT id FROM cities WHERE code = ANY($2::text[]))
              AND (x.city_id, x.action_type_id) NOT IN (SELECT city_id, action_type_id FROM wanted)
        )
        INSERT INTO city_action_types (city_id, action_type_id)
        SELECT city_id, action_type_id FROM wanted
        ON CONFLICT DO NOTHING
        """,
        cities,
        [c.code for c in definitions.cities],
    )
    campaign_counts, problems = await apply_campaigns(
        conn, definitions.campaigns, {c.code: c.timezone for c in definitions.cities}, "file", datetime.now(UTC).date()
    )
    if problems:
        raise InvalidDefinitions([DefinitionError(f"campaign {code}", field, why) for code, field, why in problems])
    for name, value in msgspec.structs.asdict(campaign_counts).items():
        setattr(result, name, value)
    if result.changed:
        await conn.execute("UPDATE definitions_revision SET revision = revision + 1, applied_at = now()")
    return result
