SELECT 'city' AS scope, c.code, coalesce(c.name ->> $2, c.name ->> 'en') AS name, NULL AS city,
       l.above + 1 AS rank, coalesce(s.score, 0)::float8 AS value, coalesce(s.points, 0)::float8 AS points,
       coalesce(s.co2e_kg, 0)::float8 AS co2e_kg, coalesce(s.members, 0) AS members,
       coalesce(s.active_members, 0) AS active_members
FROM campaign_cities cc
JOIN cities c ON c.id = cc.city_id
LEFT JOIN standings s ON s.campaign_id = cc.campaign_id AND s.scope = 'city' AND s.subject_id = c.id
LEFT JOIN standings_levels l ON l.campaign_id = s.campaign_id AND l.scope = s.scope AND l.score = s.score
WHERE cc.campaign_id = $1
UNION ALL
SELECT 'team', t.code, t.name, c.code, l.above + 1, coalesce(s.score, 0)::float8, coalesce(s.points, 0)::float8,
       coalesce(s.co2e_kg, 0)::float8, coalesce(s.members, 0), coalesce(s.active_members, 0)
FROM teams t
JOIN cities c ON c.id = t.city_id
LEFT JOIN standings s ON s.campaign_id = t.campaign_id AND s.scope = 'team' AND s.subject_id = t.id
LEFT JOIN standings_levels l ON l.campaign_id = s.campaign_id AND l.scope = s.scope AND l.score = s.score
WHERE t.campaign_id = $1 AND t.active
ORDER BY scope, rank NULLS LAST, name, code
