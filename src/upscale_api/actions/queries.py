"""SQL for the action log."""

LOG_ACTIONS = """
SELECT item, outcome, day, stored_at, day_total
FROM log_actions($1, $2::uuid[], $3::boolean[], $4::int[], $5::float8[], $6::timestamptz[], $7::float8[],
                 $8::int[], $9::int[], $10::float8[])
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
UPDATE action_logs SET deleted_at = now(), written_xid = pg_current_xact_id() WHERE id = $1
"""
