"""SQL for recomputing savings when an emission factor is corrected."""

# Live actions whose stored estimate came from factor versions no longer in force
# get the versions in force and the saving they give: one statement, and a second
# run finds nothing to change. change_seq moves so incremental jobs see them.
RESCORE = """
WITH in_force AS (
    SELECT t.id AS action_type_id, t.code, b.id AS baseline_id, o.id AS option_id,
           b.value - coalesce(o.value, 0) AS saving_per_unit
    FROM action_types t
    JOIN emission_factors_in_force b ON b.code = t.baseline_factor
    LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
), changed AS (
    UPDATE action_logs a
    SET baseline_factor_id = f.baseline_id,
        option_factor_id = f.option_id,
        co2e_kg = round((a.quantity * f.saving_per_unit)::numeric, 6)::float8,
        change_seq = nextval('action_log_changes')
    FROM in_force f, action_logs old
    WHERE f.action_type_id = a.action_type_id AND old.id = a.id
      AND a.deleted_at IS NULL
      AND ($1::date IS NULL OR a.local_date >= $1)
      AND ($2::text IS NULL OR f.code = $2)
      AND (a.baseline_factor_id, a.option_factor_id) IS DISTINCT FROM (f.baseline_id, f.option_id)
    RETURNING f.code, a.co2e_kg, old.co2e_kg AS before
)
SELECT code AS action_type, count(*) AS actions, round(sum(co2e_kg - before)::numeric, 6)::float8 AS delta_kg
FROM changed GROUP BY code ORDER BY code
"""
