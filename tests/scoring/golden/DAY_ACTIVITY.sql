INSERT INTO scoring_pending_activity (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date,
       sum(c.sign), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions)
FROM (SELECT sign, 0 AS campaign_id, resident_id, local_date, city_id, district_id, NULL::int AS team_id,
             sum(co2e_kg) AS co2e_kg, sum(0) AS points, sum(actions) AS actions
      FROM day_changes WHERE true AND NOT held
      GROUP BY 1, 2, 3, 4, 5, 6, 7) c
CROSS JOIN LATERAL (VALUES ('city', c.city_id), ('district', c.district_id)) AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY c.campaign_id, s.scope, s.scope_id, c.local_date
HAVING sum(c.sign) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0
