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
