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
