INSERT INTO scoring_pending_totals
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date, c.action_type_id,
       sum(c.sign * c.quantity), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions), sum(c.sign)
FROM member_changes c
CROSS JOIN LATERAL (VALUES ('campaign', 0), ('city', c.city_id)) AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY 1, s.scope, s.scope_id, c.local_date, c.action_type_id
HAVING sum(c.sign * c.quantity) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0 OR sum(c.sign) <> 0
