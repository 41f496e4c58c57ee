SELECT s.points, s.co2e_kg, s.actions, s.active_days, s.longest_streak, s.last_run_end, s.last_run_days,
       l.above + 1 AS rank, (c.sizes ->> 'individual')::int AS ranked, c.computed_at, c.final,
       (SELECT ran_at FROM job_watermarks WHERE job = 'scoring') AS scored_at
FROM campaign_scores s
LEFT JOIN standings p ON p.campaign_id = s.campaign_id AND p.scope = 'individual' AND p.subject_id = s.resident_id
LEFT JOIN standings_levels l ON l.campaign_id = p.campaign_id AND l.scope = p.scope AND l.score = p.score
LEFT JOIN standings_computed c ON c.campaign_id = s.campaign_id
WHERE s.campaign_id = $1 AND s.resident_id = $2
