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
