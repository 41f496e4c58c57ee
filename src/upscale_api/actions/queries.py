"""SQL for the action log."""

LOCK_RESIDENT = """
SELECT id, city_id, time_zone FROM residents WHERE firebase_uid = $1 FOR NO KEY UPDATE
"""

RESIDENT_ID = "SELECT id FROM residents WHERE firebase_uid = $1"

_ACTION_COLUMNS = """
SELECT a.id, a.resident_id, t.code AS action_type, t.category, t.unit, a.quantity, a.performed_at,
       a.local_date, a.recorded_at, a.deleted_at, a.co2e_kg,
       b.code AS baseline_code, b.version AS baseline_version,
       o.code AS option_code, o.version AS option_version
FROM action_logs a
JOIN action_types t ON t.id = a.action_type_id
JOIN emission_factors b ON b.id = a.baseline_factor_id
LEFT JOIN emission_factors o ON o.id = a.option_factor_id
"""

BY_IDS = _ACTION_COLUMNS + "WHERE a.id = ANY($1::uuid[])"

DAY_TOTALS = """
SELECT a.action_type_id, a.local_date, sum(a.quantity) AS total
FROM action_logs a
JOIN unnest($2::int[], $3::date[]) AS k(action_type_id, local_date) USING (action_type_id, local_date)
WHERE a.resident_id = $1 AND a.deleted_at IS NULL
GROUP BY a.action_type_id, a.local_date
"""

INSERT = """
INSERT INTO action_logs
    (id, resident_id, city_id, action_type_id, quantity, performed_at, local_date,
     baseline_factor_id, option_factor_id, co2e_kg)
SELECT u.id, $1, $2, u.action_type_id, u.quantity, u.performed_at, u.local_date,
       u.baseline_factor_id, u.option_factor_id, u.co2e_kg
FROM unnest($3::uuid[], $4::int[], $5::float8[], $6::timestamptz[], $7::date[], $8::int[], $9::int[], $10::float8[])
     AS u(id, action_type_id, quantity, performed_at, local_date, baseline_factor_id, option_factor_id, co2e_kg)
ON CONFLICT (id) DO NOTHING
RETURNING id, recorded_at
"""

PAGE = (
    _ACTION_COLUMNS
    + """
WHERE a.resident_id = $1 AND a.deleted_at IS NULL
  AND ($2::timestamptz IS NULL OR (a.performed_at, a.id) < ($2, $3::uuid))
ORDER BY a.performed_at DESC, a.id DESC
LIMIT $4
"""
)

FOR_DELETE = """
SELECT a.recorded_at, a.deleted_at
FROM action_logs a JOIN residents r ON r.id = a.resident_id
WHERE a.id = $1 AND r.firebase_uid = $2
FOR UPDATE OF a
"""

SOFT_DELETE = """
UPDATE action_logs SET deleted_at = now(), change_seq = nextval('action_log_changes') WHERE id = $1
"""
