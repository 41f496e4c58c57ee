INSERT INTO activity_daily (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT campaign_id,
       CASE WHEN grouping(city_id) = 0 THEN 'city' WHEN grouping(district_id) = 0 THEN 'district'
            WHEN grouping(team_id) = 0 THEN 'team' ELSE 'campaign' END,
       coalesce(city_id, district_id, team_id, CASE WHEN grouping(city_id, district_id, team_id) = 7 THEN 0 END),
       local_date, count(*) FILTER (WHERE first_in_city), sum(co2e_kg), sum(points), sum(actions)
FROM (SELECT *,
             campaign_id IS DISTINCT FROM lag(campaign_id) OVER w
             OR resident_id IS DISTINCT FROM lag(resident_id) OVER w
             OR local_date IS DISTINCT FROM lag(local_date) OVER w OR city_id IS DISTINCT FROM lag(city_id) OVER w
             AS first_in_city
      FROM campaign_days
      WINDOW w AS (ORDER BY campaign_id, resident_id, local_date, city_id)) d
GROUP BY campaign_id, local_date, GROUPING SETS ((), (city_id), (district_id), (team_id))
HAVING coalesce(city_id, district_id, team_id, CASE WHEN grouping(city_id, district_id, team_id) = 7 THEN 0 END)
       IS NOT NULL
ORDER BY local_date
