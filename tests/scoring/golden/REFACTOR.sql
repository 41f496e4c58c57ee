WITH in_force AS (
    SELECT t.id AS action_type_id, t.code, b.id AS baseline_id, o.id AS option_id,
           b.value - coalesce(o.value, 0) AS saving_per_unit
    FROM action_types t
    JOIN emission_factors_in_force b ON b.code = t.baseline_factor
    LEFT JOIN emission_factors_in_force o ON o.code = t.option_factor
), stale AS MATERIALIZED (
    -- found first, with their kg before: usually none of ten million actions, read once
    SELECT a.id, f.code, f.baseline_id, f.option_id, a.co2e_kg AS before,
           round((a.quantity * f.saving_per_unit)::numeric, 6)::float8 AS co2e_kg
    FROM action_logs a JOIN in_force f ON f.action_type_id = a.action_type_id
    WHERE a.deleted_at IS NULL
      AND ($1::date IS NULL OR a.local_date >= $1)
      AND ($2::text IS NULL OR f.code = $2)
      AND (a.baseline_factor_id, a.option_factor_id) IS DISTINCT FROM (f.baseline_id, f.option_id)
), changed AS (
    UPDATE action_logs a
    SET baseline_factor_id = s.baseline_id, option_factor_id = s.option_id, co2e_kg = s.co2e_kg,
        written_xid = pg_current_xact_id()
    FROM stale s
    WHERE a.id = s.id AND a.deleted_at IS NULL
    RETURNING s.code, s.co2e_kg, s.before
)
SELECT code AS action_type, count(*) AS actions, round(sum(co2e_kg - before)::numeric, 6)::float8 AS delta_kg
FROM changed GROUP BY code ORDER BY code
