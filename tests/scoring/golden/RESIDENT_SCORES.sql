SELECT k.code AS campaign, s.points::float8 AS points, s.co2e_kg::float8 AS co2e_kg, s.actions, s.active_days,
       s.longest_streak, s.updated_at
FROM campaign_scores s JOIN campaigns k ON k.id = s.campaign_id
WHERE s.resident_id = $1
ORDER BY k.code
