SELECT l.above + 1 AS rank, p.subject_id, p.score, p.points, p.co2e_kg, p.members, p.active_members,
       CASE $2 WHEN 'individual' THEN r.display_name
               WHEN 'team' THEN t.name
               WHEN 'district' THEN coalesce(d.name ->> $4, d.name ->> 'en')
               ELSE coalesce(c.name ->> $4, c.name ->> 'en') END AS name
FROM (SELECT * FROM standings WHERE campaign_id = $1 AND scope = $2 ORDER BY score DESC, subject_id LIMIT $3) p
JOIN standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score
LEFT JOIN residents r ON $2 = 'individual' AND r.id = p.subject_id
LEFT JOIN teams t ON $2 = 'team' AND t.id = p.subject_id
LEFT JOIN districts d ON $2 = 'district' AND d.id = p.subject_id
LEFT JOIN cities c ON $2 = 'city' AND c.id = p.subject_id
ORDER BY p.score DESC, p.subject_id
