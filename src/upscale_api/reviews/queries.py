"""SQL for held entries.

The ``cities`` parameter is the city codes the caller manages, or NULL for
every city (admins): a held day of another city is simply not found.
"""

_ENTRY_COLUMNS = """
SELECT h.id, c.code AS city, h.resident_id, h.local_date, t.code AS action_type, t.unit,
       h.quantity::float8 AS quantity, t.plausible_per_day, h.status, h.flagged_at,
       h.decided_by, h.decided_at, h.decided_quantity::float8 AS decided_quantity, h.note
FROM held_days h
JOIN cities c ON c.id = h.city_id
JOIN action_types t ON t.id = h.action_type_id
"""

# $1 cities, $2 status, ($3, $4) the cursor, $5 limit
PAGE = (
    _ENTRY_COLUMNS
    + """
WHERE ($1::text[] IS NULL OR h.city_id = ANY(ARRAY(SELECT id FROM cities WHERE code = ANY($1::text[]))))
  AND ($2::text IS NULL OR h.status = $2)
  AND ($3::timestamptz IS NULL OR (h.flagged_at, h.id) < ($3, $4::bigint))
ORDER BY h.flagged_at DESC, h.id DESC
LIMIT $5
"""
)

# $1 id, $2 cities
ONE = (
    _ENTRY_COLUMNS
    + """
WHERE h.id = $1
  AND ($2::text[] IS NULL OR h.city_id = ANY(ARRAY(SELECT id FROM cities WHERE code = ANY($2::text[]))))
"""
)

DAY_ACTIONS = """
SELECT h.id AS entry, a.id, a.quantity, a.performed_at, a.recorded_at
FROM held_days h
JOIN action_logs a
  ON a.resident_id = h.resident_id AND a.local_date = h.local_date
 AND a.action_type_id = h.action_type_id AND a.deleted_at IS NULL
WHERE h.id = ANY($1::bigint[])
ORDER BY a.performed_at, a.id
"""

DECISIONS = """
SELECT held_day_id AS entry, status, quantity::float8 AS quantity, note, decided_by, decided_at
FROM held_day_decisions
WHERE held_day_id = ANY($1::bigint[])
ORDER BY held_day_id, id
"""

# $1 id, $2 cities, $3 status, $4 decided_by, $5 decided_at, $6 note.
# The decision covers the day total as flagged; written_xid hands it to the next scoring tick.
DECIDE = """
WITH decided AS (
    UPDATE held_days h
    SET status = $3, decided_by = $4, decided_at = $5, decided_quantity = h.quantity, note = $6,
        written_xid = pg_current_xact_id()
    WHERE h.id = $1
      AND ($2::text[] IS NULL OR h.city_id = ANY(ARRAY(SELECT id FROM cities WHERE code = ANY($2::text[]))))
    RETURNING h.id, h.status, h.quantity, h.note, h.decided_by, h.decided_at
)
INSERT INTO held_day_decisions (held_day_id, status, quantity, note, decided_by, decided_at)
SELECT id, status, quantity, note, decided_by, decided_at FROM decided
RETURNING held_day_id
"""

CITY_EXISTS = "SELECT true FROM cities WHERE code = $1"
