INSERT INTO activity_daily AS p (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT campaign_id, scope, scope_id, local_date, sum(residents), sum(co2e_kg), sum(points), sum(actions)
FROM scoring_pending_activity
GROUP BY campaign_id, scope, scope_id, local_date
HAVING sum(residents) <> 0 OR sum(co2e_kg) <> 0 OR sum(points) <> 0 OR sum(actions) <> 0
ON CONFLICT (campaign_id, scope, scope_id, local_date) DO UPDATE
SET residents = p.residents + excluded.residents, co2e_kg = p.co2e_kg + excluded.co2e_kg,
    points = p.points + excluded.points, actions = p.actions + excluded.actions;
TRUNCATE scoring_pending_activity
