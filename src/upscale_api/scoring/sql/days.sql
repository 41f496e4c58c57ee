-- Resident days: one row per resident, local day and action type, recomputed from the action log (a
-- unit's marked days, or every day in a rebuild), and the days held for review.

-- name: MARK_CHANGED_DAYS
-- Resident days of part $3 of $2 (resident id modulo $2) whose actions or whose review decision were
-- written by a transaction that snapshot $1 did not see as done. The two predicates are
-- queries.WRITTEN_SINCE and queries.IN_PART (the scoring benchmark selects with them too).
INSERT INTO dirty_days (resident_id, local_date)
SELECT resident_id, local_date FROM action_logs
WHERE written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)
  AND resident_id % $2 = $3
UNION
SELECT resident_id, local_date FROM held_days
WHERE written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)
  AND resident_id % $2 = $3
ON CONFLICT DO NOTHING

-- name: RESIDENT_DAYS_OUT
-- The marked resident days deleted, kept as differences with sign -1.
WITH gone AS (
    DELETE FROM resident_days r USING dirty_days d
    WHERE r.resident_id = d.resident_id AND r.local_date = d.local_date
    RETURNING r.*
)
INSERT INTO day_changes SELECT -1, * FROM gone

-- name: RESIDENT_DAYS_IN
-- The marked resident days computed again from their actions, kept as differences with sign +1. A
-- day total over the type's plausible limit is held unless a coordinator accepted at least that
-- much. Each action's quantity and kg count to the millionth: summed as whole millionths (bigint),
-- which is exact in any order and, unlike a float8-to-numeric cast per row (a conversion through
-- text), costs almost nothing; the limits are cast once per type.
WITH stored AS (
    WITH t AS MATERIALIZED (SELECT id, plausible_per_day::numeric AS plausible_per_day FROM action_types)
    INSERT INTO resident_days (resident_id, local_date, action_type_id, city_id, district_id, quantity, co2e_kg,
                               actions, held)
    SELECT f.resident_id, f.local_date, f.action_type_id, f.city_id, r.district_id, f.quantity, f.co2e_kg, f.actions,
           coalesce(f.quantity > t.plausible_per_day, false)
           AND NOT coalesce(h.status = 'accepted' AND f.quantity <= h.decided_quantity, false)
    FROM (SELECT a.resident_id, a.local_date, a.action_type_id, min(a.city_id) AS city_id,
                 sum((a.quantity * 1000000)::bigint) * 0.000001 AS quantity,
                 sum((a.co2e_kg * 1000000)::bigint) * 0.000001 AS co2e_kg, count(*)::int AS actions
          FROM dirty_days d JOIN action_logs a ON a.resident_id = d.resident_id AND a.local_date = d.local_date
          WHERE a.deleted_at IS NULL
          GROUP BY a.resident_id, a.local_date, a.action_type_id) f
    JOIN residents r ON r.id = f.resident_id
    JOIN t ON t.id = f.action_type_id
    LEFT JOIN held_days h
        ON h.resident_id = f.resident_id AND h.local_date = f.local_date AND h.action_type_id = f.action_type_id
    RETURNING *
)
INSERT INTO day_changes SELECT 1, * FROM stored

-- name: REBUILD_RESIDENT_DAYS
-- Every resident day, computed as RESIDENT_DAYS_IN computes the marked ones, from the whole action
-- log.
WITH t AS MATERIALIZED (SELECT id, plausible_per_day::numeric AS plausible_per_day FROM action_types)
INSERT INTO resident_days (resident_id, local_date, action_type_id, city_id, district_id, quantity, co2e_kg, actions,
                           held)
SELECT f.resident_id, f.local_date, f.action_type_id, f.city_id, r.district_id, f.quantity, f.co2e_kg, f.actions,
       coalesce(f.quantity > t.plausible_per_day, false)
       AND NOT coalesce(h.status = 'accepted' AND f.quantity <= h.decided_quantity, false)
FROM (SELECT a.resident_id, a.local_date, a.action_type_id, min(a.city_id) AS city_id,
             sum((a.quantity * 1000000)::bigint) * 0.000001 AS quantity,
             sum((a.co2e_kg * 1000000)::bigint) * 0.000001 AS co2e_kg, count(*)::int AS actions
      FROM action_logs a
      WHERE a.deleted_at IS NULL
      GROUP BY a.resident_id, a.local_date, a.action_type_id) f
JOIN residents r ON r.id = f.resident_id
JOIN t ON t.id = f.action_type_id
LEFT JOIN held_days h
    ON h.resident_id = f.resident_id AND h.local_date = f.local_date AND h.action_type_id = f.action_type_id

-- name: HOLDS
-- Held days are listed for review (a larger total than the one accepted is pending again); a pending
-- day that fell back under the limit is withdrawn. The tick's own writes keep written_xid at 0 so
-- they do not mark the day again.
WITH flagged AS (
    INSERT INTO held_days (resident_id, local_date, action_type_id, city_id, quantity, written_xid)
    SELECT resident_id, local_date, action_type_id, city_id, quantity, '0'
    FROM day_changes WHERE sign = 1 AND held
    ON CONFLICT (resident_id, local_date, action_type_id) DO UPDATE
    SET quantity = excluded.quantity,
        status = 'pending',
        flagged_at = now()
    WHERE held_days.quantity <> excluded.quantity OR held_days.status = 'accepted'
)
DELETE FROM held_days h USING dirty_days d
WHERE h.resident_id = d.resident_id AND h.local_date = d.local_date AND h.status = 'pending'
  AND NOT EXISTS (
      SELECT 1 FROM day_changes c
      WHERE c.sign = 1 AND c.held AND c.resident_id = h.resident_id AND c.local_date = h.local_date
        AND c.action_type_id = h.action_type_id)

-- name: REBUILD_HOLDS
-- The same as HOLDS over every resident day, after a rebuild.
WITH flagged AS (
    INSERT INTO held_days (resident_id, local_date, action_type_id, city_id, quantity, written_xid)
    SELECT resident_id, local_date, action_type_id, city_id, quantity, '0' FROM resident_days WHERE held
    ON CONFLICT (resident_id, local_date, action_type_id) DO UPDATE
    SET quantity = excluded.quantity,
        status = 'pending',
        flagged_at = now()
    WHERE held_days.quantity <> excluded.quantity OR held_days.status = 'accepted'
)
DELETE FROM held_days h
WHERE h.status = 'pending'
  AND NOT EXISTS (
      SELECT 1 FROM resident_days r
      WHERE r.held AND r.resident_id = h.resident_id AND r.local_date = h.local_date
        AND r.action_type_id = h.action_type_id)
