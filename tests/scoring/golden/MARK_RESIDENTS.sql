WITH days AS (
    INSERT INTO dirty_days (resident_id, local_date)
    SELECT DISTINCT resident_id, local_date FROM action_logs
    WHERE $4::int IS NULL AND resident_id BETWEEN $1 AND $2 AND resident_id % $5 = $6
      AND ($3::date IS NULL OR local_date >= $3)
    UNION
    SELECT DISTINCT resident_id, local_date FROM resident_days
    WHERE $4::int IS NULL AND resident_id BETWEEN $1 AND $2 AND resident_id % $5 = $6
      AND ($3::date IS NULL OR local_date >= $3)
    ON CONFLICT DO NOTHING
)
INSERT INTO changed_enrolments (campaign_id, resident_id)
SELECT e.campaign_id, e.resident_id
FROM enrolments e JOIN campaigns k ON k.id = e.campaign_id
WHERE e.resident_id BETWEEN $1 AND $2 AND e.resident_id % $5 = $6 AND ($4::int IS NULL OR e.campaign_id = $4)
  AND ($3::date IS NULL OR k.ends_on >= $3)
ON CONFLICT DO NOTHING
