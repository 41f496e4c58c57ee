INSERT INTO totals_daily
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT campaign_id, CASE WHEN grouping(city_id) = 0 THEN 'city' ELSE 'campaign' END,
       coalesce(city_id, CASE WHEN grouping(city_id) = 1 THEN 0 END), local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(points), sum(actions), count(*)
FROM campaign_days
GROUP BY campaign_id, local_date, action_type_id, GROUPING SETS ((), (city_id))
HAVING coalesce(city_id, CASE WHEN grouping(city_id) = 1 THEN 0 END) IS NOT NULL
ORDER BY local_date
