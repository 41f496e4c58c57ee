INSERT INTO scoring_pending_totals
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT 0, s.scope, s.scope_id, c.local_date, c.action_type_id,
       sum(c.sign * c.quantity), sum(c.sign * c.co2e_kg), sum(c.sign * 0), sum(c.sign * c.actions), sum(c.sign)
FROM day_changes c
CROSS JOIN LATERAL (VALUES ('city', c.city_id)) AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL AND NOT held
GROUP BY 1, s.scope, s.scope_id, c.local_date, c.action_type_id
HAVING sum(c.sign * c.quantity) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * 0) <> 0
    OR sum(c.sign * c.actions) <> 0 OR sum(c.sign) <> 0
