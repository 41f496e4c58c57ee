INSERT INTO changed_enrolments (campaign_id, resident_id)
SELECT campaign_id, resident_id FROM enrolments
WHERE written_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::pg_snapshot)
  AND resident_id % $2 = $3
ON CONFLICT DO NOTHING
