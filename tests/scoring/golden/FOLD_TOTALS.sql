INSERT INTO totals_daily AS t
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT campaign_id, scope, scope_id, local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(points), sum(actions), sum(residents)
FROM scoring_pending_totals
GROUP BY campaign_id, scope, scope_id, local_date, action_type_id
HAVING sum(quantity) <> 0 OR sum(co2e_kg) <> 0 OR sum(points) <> 0 OR sum(actions) <> 0 OR sum(residents) <> 0
ON CONFLICT (campaign_id, scope, scope_id, local_date, action_type_id) DO UPDATE
SET quantity = t.quantity + excluded.quantity, co2e_kg = t.co2e_kg + excluded.co2e_kg,
    points = t.points + excluded.points, actions = t.actions + excluded.actions,
    residents = t.residents + excluded.residents;
TRUNCATE scoring_pending_totals
