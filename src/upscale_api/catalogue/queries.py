"""SQL that reads the catalogue each API process keeps in memory."""

# Moves whenever the definition files are applied.
REVISION = "SELECT revision FROM definitions_revision"

# Every city with its active districts.
CITIES = """
SELECT c.id, c.code, c.country, c.name, c.time_zone, c.languages, c.climate_target,
       coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'code', d.code, 'name', d.name)
                          ORDER BY d.code) FILTER (WHERE d.id IS NOT NULL), '[]') AS districts
FROM cities c LEFT JOIN districts d ON d.city_id = c.id AND d.active
GROUP BY c.id ORDER BY c.code
"""

# Active action types with the factor versions in force and the cities offering each.
ACTION_TYPES_IN_FORCE = """
SELECT t.*, to_jsonb(b) AS baseline, to_jsonb(o) AS option,
       b.id AS baseline_factor_id, o.id AS option_factor_id,
       ARRAY(SELECT city_id FROM city_action_types x WHERE x.action_type_id = t.id) AS city_ids
FROM action_types t
JOIN emission_factors_in_force b ON b.code = t.baseline_factor
LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
WHERE t.active
ORDER BY t.category, t.code
"""
