INSERT INTO totals_daily
    (campaign_id, scope, scope_id, local_date, action_type_id, quantity, co2e_kg, points, actions, residents)
SELECT 0, 'city', coalesce(city_id), local_date, action_type_id,
       sum(quantity), sum(co2e_kg), sum(0), sum(actions), count(*)
FROM resident_days WHERE NOT held
GROUP BY local_date, action_type_id, GROUPING SETS ((city_id))
HAVING coalesce(city_id) IS NOT NULL
ORDER BY local_date
