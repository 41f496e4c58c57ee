SELECT ch.code AS challenge, ch.title, ch.rule, t.code AS team, t.name, t.kind, c.code AS city,
       coalesce(p.members, (SELECT count(*) FROM enrolments e WHERE e.team_id = t.id AND e.left_at IS NULL))::int
           AS members,
       coalesce(p.members_met, 0) AS members_met, coalesce(p.share, 0)::float8 AS share, p.met_at,
       l.above + 1 AS rank, s.score
FROM challenges ch
JOIN teams t ON t.campaign_id = ch.campaign_id AND t.active
JOIN cities c ON c.id = t.city_id
LEFT JOIN team_progress p ON p.challenge_id = ch.id AND p.team_id = t.id
LEFT JOIN standings s ON s.campaign_id = ch.campaign_id AND s.scope = 'team' AND s.subject_id = t.id
LEFT JOIN standings_levels l ON l.campaign_id = s.campaign_id AND l.scope = s.scope AND l.score = s.score
WHERE ch.campaign_id = $1 AND ch.active AND ch.rule ->> 'kind' = 'team_participation'
ORDER BY ch.code, p.met_at IS NULL, coalesce(p.share, 0) DESC, t.name, t.code
