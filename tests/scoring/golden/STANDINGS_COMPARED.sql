WITH scored AS (
    SELECT 'individual' AS scope, resident_id AS subject_id, points AS score, points, co2e_kg, 1 AS members,
           (actions > 0)::int AS active_members
    FROM campaign_scores WHERE campaign_id = $1
    UNION ALL
    SELECT scope, subject_id, score, points, co2e_kg, members, active_members
    FROM (
        SELECT CASE WHEN grouping(team_id) = 0 THEN 'team' WHEN grouping(district_id) = 0 THEN 'district'
                    ELSE 'city' END AS scope,
               coalesce(team_id, district_id, city_id) AS subject_id,
               round(sum(points) / count(*), 6) AS score, sum(points) AS points, sum(co2e_kg) AS co2e_kg,
               count(*)::int AS members, count(*) FILTER (WHERE actions > 0)::int AS active_members
        FROM campaign_scores WHERE campaign_id = $1
        GROUP BY GROUPING SETS ((team_id), (district_id), (city_id))
    ) g
    WHERE subject_id IS NOT NULL
)
INSERT INTO standings_changes (campaign_id, scope, subject_id, score, points, co2e_kg, members, active_members, gone)
SELECT $1, coalesce(n.scope, s.scope), coalesce(n.subject_id, s.subject_id), coalesce(n.score, s.score),
       coalesce(n.points, s.points), coalesce(n.co2e_kg, s.co2e_kg), coalesce(n.members, s.members),
       coalesce(n.active_members, s.active_members), n.subject_id IS NULL
FROM scored n
FULL JOIN (SELECT * FROM standings WHERE campaign_id = $1) s ON s.scope = n.scope AND s.subject_id = n.subject_id
WHERE (n.score, n.points, n.co2e_kg, n.members, n.active_members)
      IS DISTINCT FROM (s.score, s.points, s.co2e_kg, s.members, s.active_members)
