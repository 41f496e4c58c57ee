INSERT INTO activity_daily (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT 0, CASE WHEN grouping(city_id) = 0 THEN 'city' ELSE 'district' END, coalesce(city_id, district_id), local_date,
       count(*) FILTER (WHERE first_in_city), sum(co2e_kg), sum(0), sum(actions)
FROM (SELECT *,
             0 IS DISTINCT FROM lag(0) OVER w OR resident_id IS DISTINCT FROM lag(resident_id) OVER w
             OR local_date IS DISTINCT FROM lag(local_date) OVER w OR city_id IS DISTINCT FROM lag(city_id) OVER w
             AS first_in_city
      FROM resident_days WHERE NOT held
      WINDOW w AS (ORDER BY 0, resident_id, local_date, city_id)) d
GROUP BY local_date, GROUPING SETS ((city_id), (district_id))
HAVING coalesce(city_id, district_id) IS NOT NULL
ORDER BY local_date
