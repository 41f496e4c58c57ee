INSERT INTO scoring_pending_activity (campaign_id, scope, scope_id, local_date, residents, co2e_kg, points, actions)
SELECT c.campaign_id, s.scope, s.scope_id, c.local_date,
       sum(c.sign), sum(c.sign * c.co2e_kg), sum(c.sign * c.points), sum(c.sign * c.actions)
FROM (SELECT sign, campaign_id AS campaign_id, resident_id, local_date, city_id, district_id, team_id AS team_id,
             sum(co2e_kg) AS co2e_kg, sum(points) AS points, sum(actions) AS actions
      FROM member_changes WHERE true
      GROUP BY 1, 2, 3, 4, 5, 6, 7) c
CROSS JOIN LATERAL (VALUES ('campaign', 0), ('city', c.city_id), ('district', c.district_id), ('team', c.team_id))
    AS s (scope, scope_id)
WHERE s.scope_id IS NOT NULL
GROUP BY c.campaign_id, s.scope, s.scope_id, c.local_date
HAVING sum(c.sign) <> 0 OR sum(c.sign * c.co2e_kg) <> 0 OR sum(c.sign * c.points) <> 0
    OR sum(c.sign * c.actions) <> 0
