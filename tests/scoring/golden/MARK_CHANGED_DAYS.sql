INSERT INTO dirty_days (resident_id, local_date)
SELECT resident_id, local_date FROM action_logs
WHERE written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)
  AND resident_id % $2 = $3
UNION
SELECT resident_id, local_date FROM held_days
WHERE written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)
  AND resident_id % $2 = $3
ON CONFLICT DO NOTHING
