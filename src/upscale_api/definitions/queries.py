"""SQL that stores the definition files: emission factors, action types, cities and districts.

Each statement takes every row of its table at once (``jsonb_to_recordset``) and
writes only what differs, so applying the same files twice changes nothing.
"""

# Stored factor versions whose value or unit the files would change (refused: history stays).
FACTOR_VERSIONS_REWRITTEN = """
SELECT f.code, f.version
FROM jsonb_to_recordset($1::jsonb) AS n(code text, version int, value float8, per text)
JOIN emission_factors f USING (code, version)
WHERE f.value IS DISTINCT FROM n.value OR f.per IS DISTINCT FROM n.per
"""

UPSERT_FACTORS = """
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
"""

UPSERT_ACTION_TYPES = """
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
"""

# Action types that left the files stay for the actions that point at them, inactive.
RETIRE_ACTION_TYPES = "UPDATE action_types SET active = false WHERE active AND NOT (code = ANY($1::text[]))"

UPSERT_CITIES = """
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
"""

UPSERT_DISTRICTS = """
INSERT INTO districts (city_id, code, name, active)
SELECT c.id, d.code, d.name, true
FROM jsonb_to_recordset($1::jsonb) AS n(code text, district jsonb)
JOIN cities c ON c.code = n.code
CROSS JOIN LATERAL jsonb_to_recordset(n.district) AS d(code text, name jsonb)
ON CONFLICT (city_id, code) DO UPDATE SET name = excluded.name, active = true
WHERE (districts.name, districts.active) IS DISTINCT FROM (excluded.name, true)
"""

RETIRE_DISTRICTS = """
UPDATE districts d SET active = false
FROM cities c
WHERE c.id = d.city_id AND d.active AND c.code = ANY($1::text[])
  AND NOT EXISTS (
      SELECT 1
      FROM jsonb_to_recordset($2::jsonb) AS n(code text, district jsonb)
      CROSS JOIN LATERAL jsonb_to_recordset(n.district) AS x(code text)
      WHERE n.code = c.code AND x.code = d.code)
"""

# Which action types each city offers: "*" means the whole active catalogue.
SYNC_CITY_ACTION_TYPES = """
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
"""

# Every API process reloads its catalogue when the revision moves.
BUMP_REVISION = "UPDATE definitions_revision SET revision = revision + 1, applied_at = now()"
