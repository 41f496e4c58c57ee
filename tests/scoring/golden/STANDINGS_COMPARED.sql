WITH ranking AS MATERIALIZED (
    SELECT coalesce(k.definition #>> '{ranking,measure}', 'points_per_member') AS measure,
           array(SELECT t.id FROM action_types t
                 WHERE t.code IN (SELECT jsonb_array_elements_text(
                     coalesce(k.definition #> '{ranking,action_types}', '[]')))) AS types
    FROM campaigns k WHERE k.id = $1
), quantities AS (
    SELECT d.resident_id, sum(d.quantity) AS quantity
    FROM campaign_days d
    WHERE (SELECT measure FROM ranking) = 'quantity' AND d.campaign_id = $1
      AND d.action_type_id = ANY((SELECT types FROM ranking)::int[])
    GROUP BY d.resident_id
), scored AS (
    SELECT 'individual' AS scope, resident_id AS subject_id, points AS score, points, co2e_kg, 1 AS members,
           (actions > 0)::int AS active_members
    FROM campaign_scores WHERE campaign_id = $1
    UNION ALL
    SELECT scope, subject_id,
           CASE (SELECT measure FROM ranking)
               WHEN 'points' THEN points
               WHEN 'co2e_kg' THEN round(co2e_kg, 6)
               WHEN 'quantity' THEN round(quantity, 6)
               WHEN 'participation' THEN round(active_members::numeric / members, 6)
               ELSE round(points / members, 6)
           END AS score,
           points, co2e_kg, members, active_members
    FROM (
        SELECT CASE WHEN grouping(s.team_id) = 0 THEN 'team' WHEN grouping(s.district_id) = 0 THEN 'district'
                    ELSE 'city' END AS scope,
               coalesce(s.team_id, s.district_id, s.city_id) AS subject_id,
               sum(s.points) AS points, sum(s.co2e_kg) AS co2e_kg, coalesce(sum(q.quantity), 0) AS quantity,
               count(*)::int AS members, count(*) FILTER (WHERE s.actions > 0)::int AS active_members
        FROM campaign_scores s LEFT JOIN quantities q ON q.resident_id = s.resident_id
        WHERE s.campaign_id = $1
        GROUP BY GROUPING SETS ((s.team_id), (s.district_id), (s.city_id))
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
